-- Databricks notebook source
-- MAGIC %md
-- MAGIC # Legacy DLT syntax, as older workspaces hold it

-- COMMAND ----------

SET pipelines.trigger.interval = '1 hour'

-- COMMAND ----------

CREATE TEMPORARY STREAMING LIVE TABLE raw_plays
COMMENT 'raw plays, not published'
AS SELECT * FROM cloud_files('${data}/plays', 'parquet')

-- COMMAND ----------

CREATE OR REFRESH STREAMING LIVE TABLE plays (
  id BIGINT COMMENT 'the play',
  user_id BIGINT,
  seconds BIGINT COMMENT 'seconds listened',
  plan STRING,
  CONSTRAINT known_user EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW
)
COMMENT 'plays of known users'
AS SELECT id, user_id, seconds, plan FROM STREAM(LIVE.raw_plays)

-- COMMAND ----------

CREATE TEMPORARY LIVE VIEW free_plays (
  CONSTRAINT free_plan EXPECT (plan = 'Free') ON VIOLATION DROP ROW
)
AS SELECT * FROM LIVE.plays

-- COMMAND ----------

CREATE OR REFRESH LIVE TABLE free_count
AS SELECT count(*) AS plays, sum(seconds) AS seconds FROM LIVE.free_plays

-- COMMAND ----------

CREATE PRIVATE MATERIALIZED VIEW per_plan AS SELECT plan, count(*) AS plays FROM LIVE.plays GROUP BY plan

-- COMMAND ----------

CREATE OR REFRESH MATERIALIZED VIEW plans AS SELECT plan, plays FROM LIVE.per_plan WHERE plays > 3
