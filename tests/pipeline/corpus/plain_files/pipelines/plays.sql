CREATE OR REFRESH STREAMING TABLE plays
AS SELECT id, user_id, seconds, plan FROM STREAM read_files('${data}/plays', format => 'parquet');

CREATE OR REFRESH MATERIALIZED VIEW plays_by_plan
AS SELECT plan, count(*) AS plays, sum(seconds) AS seconds FROM plays GROUP BY plan;
