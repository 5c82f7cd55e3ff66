-- Bronze in the pipeline's default schema (main.corpus).
CREATE OR REFRESH STREAMING TABLE plays
AS SELECT id, user_id, seconds, plan
FROM STREAM read_files('${data}/plays', format => 'parquet');

-- Silver: everything after this statement lives in main.silver.
USE SCHEMA silver;

CREATE OR REFRESH MATERIALIZED VIEW known_plays
AS SELECT p.id, p.user_id, p.seconds FROM corpus.plays AS p WHERE p.user_id IS NOT NULL;

CREATE OR REFRESH MATERIALIZED VIEW per_user
AS SELECT user_id, count(*) AS plays, sum(seconds) AS seconds FROM known_plays GROUP BY user_id;

-- Back to the default schema, by catalog and schema.
USE CATALOG main;
USE DATABASE corpus;

CREATE OR REFRESH MATERIALIZED VIEW busiest_user
AS SELECT user_id, plays FROM silver.per_user ORDER BY plays DESC, user_id LIMIT 1;
