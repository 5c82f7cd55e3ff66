-- Silver dimensions: Auto Loader over bronze Parquet, cleaned and validated.
-- De-duplication keeps the latest version of a key within each batch (by the CDC column),
-- so every new version reaches gold (the seed de-duplicated across runs and lost history).

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.dimuser (
  CONSTRAINT user_id_not_null EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT updated_at_not_null EXPECT (updated_at IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT known_plan EXPECT (subscription_type IN ('Free', 'Premium', 'Family')),
  CONSTRAINT end_after_start EXPECT (end_date IS NULL OR end_date >= start_date)
)
COMMENT 'Users: user_name upper-cased, latest version per user within a batch'
AS SELECT
  user_id,
  upper(user_name) AS user_name,
  country,
  subscription_type,
  start_date,
  end_date,
  updated_at,
  _deleted
FROM STREAM read_files('${bronze_path}/DimUser', format => 'parquet', schemaHints => '_deleted BOOLEAN')
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY updated_at DESC) = 1;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.dimartist (
  CONSTRAINT artist_id_not_null EXPECT (artist_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT updated_at_not_null EXPECT (updated_at IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT known_genre EXPECT (genre IN ('Pop', 'Hip-Hop', 'Jazz', 'Electronic', 'Rock', 'Classical'))
)
COMMENT 'Artists, latest version per artist within a batch'
AS SELECT artist_id, artist_name, genre, country, updated_at, _deleted
FROM STREAM read_files('${bronze_path}/DimArtist', format => 'parquet', schemaHints => '_deleted BOOLEAN')
QUALIFY row_number() OVER (PARTITION BY artist_id ORDER BY updated_at DESC) = 1;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.dimtrack (
  CONSTRAINT track_id_not_null EXPECT (track_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT updated_at_not_null EXPECT (updated_at IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT duration_in_range EXPECT (duration_sec BETWEEN 1 AND 3600) ON VIOLATION QUARANTINE,
  CONSTRAINT known_artist EXPECT (artist_known OR _deleted) ON VIOLATION QUARANTINE
)
COMMENT 'Tracks: durationFlag, hyphens in names replaced by spaces, artist checked'
AS SELECT
  t.track_id,
  replace(t.track_name, '-', ' ') AS track_name,
  t.artist_id,
  t.album_name,
  t.duration_sec,
  CASE WHEN t.duration_sec < 150 THEN 'low'
       WHEN t.duration_sec < 300 THEN 'medium'
       ELSE 'high' END AS durationFlag,
  t.release_date,
  t.updated_at,
  t._deleted,
  a.artist_id IS NOT NULL AS artist_known
FROM STREAM read_files('${bronze_path}/DimTrack', format => 'parquet', schemaHints => '_deleted BOOLEAN') AS t
LEFT JOIN (SELECT DISTINCT artist_id FROM spotify_catalog.silver.dimartist) AS a
  ON t.artist_id = a.artist_id
QUALIFY row_number() OVER (PARTITION BY t.track_id ORDER BY t.updated_at DESC) = 1;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.dimdate (
  CONSTRAINT date_key_not_null EXPECT (date_key IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT date_key_matches_date EXPECT (date_key = CAST(date_format(date, 'yyyyMMdd') AS INT))
)
COMMENT 'Calendar, as is'
AS SELECT date_key, date, day, month, year, weekday
FROM STREAM read_files('${bronze_path}/DimDate', format => 'parquet');
