CREATE OR REFRESH MATERIALIZED VIEW long_plays AS SELECT id, seconds FROM plays WHERE seconds >= 100;
