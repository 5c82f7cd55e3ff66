-- Databricks notebook source
-- MAGIC %md
-- MAGIC # Plays
-- MAGIC Plays streamed from parquet. Statements end at their cell; no `;` needed.

-- COMMAND ----------

CREATE OR REFRESH STREAMING TABLE plays (
  CONSTRAINT known_user EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW
)
COMMENT 'plays from parquet'
AS SELECT id, user_id, seconds, plan FROM STREAM read_files('${data}/plays', format => 'parquet')

-- COMMAND ----------

-- the last line of this cell is a comment: the cell boundary still ends the statement
CREATE OR REFRESH MATERIALIZED VIEW plays_by_plan
AS SELECT plan, count(*) AS plays, sum(seconds) AS seconds
FROM plays
GROUP BY plan
-- one row per plan

-- COMMAND ----------

-- MAGIC %sql
-- MAGIC CREATE OR REFRESH MATERIALIZED VIEW long_plays AS
-- MAGIC SELECT id, seconds FROM plays WHERE seconds >= 100

-- COMMAND ----------

CREATE TEMPORARY VIEW free_plays AS SELECT id, user_id FROM plays WHERE plan = 'Free';
CREATE OR REFRESH MATERIALIZED VIEW free_users
AS SELECT user_id, count(*) AS plays FROM free_plays GROUP BY user_id
