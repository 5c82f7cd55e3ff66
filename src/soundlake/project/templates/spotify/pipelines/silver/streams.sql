-- Silver streams: every play, validated against the dimensions.
-- Referential checks quarantine plays of unknown users or tracks instead of losing them.
-- Repeated plays (stream_id, stream_timestamp) are resolved by gold's AUTO CDC, as in
-- silver/dimensions.sql (a streaming table cannot de-duplicate with a window function).

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.factstream (
  CONSTRAINT stream_id_not_null EXPECT (stream_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT stream_timestamp_not_null EXPECT (stream_timestamp IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT listen_duration_positive EXPECT (listen_duration > 0) ON VIOLATION QUARANTINE,
  CONSTRAINT not_in_future EXPECT (stream_timestamp <= current_timestamp()) ON VIOLATION QUARANTINE,
  CONSTRAINT known_user EXPECT (user_known) ON VIOLATION QUARANTINE,
  CONSTRAINT known_track EXPECT (track_known) ON VIOLATION QUARANTINE,
  CONSTRAINT date_key_matches_timestamp
    EXPECT (date_key = CAST(date_format(stream_timestamp, 'yyyyMMdd') AS INT))
)
COMMENT 'Plays, users and tracks checked'
AS SELECT
  s.stream_id,
  s.user_id,
  s.track_id,
  s.date_key,
  s.listen_duration,
  s.device_type,
  s.stream_timestamp,
  u.user_id IS NOT NULL AS user_known,
  t.track_id IS NOT NULL AS track_known
FROM STREAM read_files('${bronze_path}/FactStream', format => 'parquet') AS s
LEFT JOIN (SELECT DISTINCT user_id FROM spotify_catalog.silver.dimuser) AS u
  ON s.user_id = u.user_id
LEFT JOIN (SELECT DISTINCT track_id FROM spotify_catalog.silver.dimtrack) AS t
  ON s.track_id = t.track_id;
