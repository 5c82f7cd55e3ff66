CREATE OR REFRESH STREAMING TABLE plays
AS SELECT id, user_id, seconds, plan FROM STREAM read_files('${data}/plays', format => 'parquet');
