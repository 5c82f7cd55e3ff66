CREATE OR REFRESH MATERIALIZED VIEW plays_with_scores AS
SELECT p.id, p.plan, s.score, t.tag
FROM parquet.`${data}/plays` AS p
JOIN delta.`${data}/scores.v1` AS s ON s.id = p.id
LEFT JOIN json.`${data}/tags` AS t ON t.id = p.id;

CREATE OR REFRESH STREAMING TABLE streamed_scores AS SELECT id, score FROM STREAM(delta.`${data}/scores.v1`);
