-- Silver dimensions: Auto Loader over bronze Parquet, cleaned and validated.
-- De-duplication removes repeated rows by (key, CDC column) only: every version of a key
-- reaches gold's AUTO CDC, however the rows are split into batches (keeping only the latest
-- row per key would lose the versions a batch holding several of them carries, e.g. a full
-- refresh, which is one batch). When two rows share key and CDC value, the one with the
-- greatest values (column by column, NULL lowest) is kept: the tie rule of AUTO CDC, so a
-- batch split cannot change the outcome.

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.dimuser (
  CONSTRAINT user_id_not_null EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT updated_at_not_null EXPECT (updated_at IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT known_plan EXPECT (subscription_type IN ('Free', 'Premium', 'Family')),
  CONSTRAINT end_after_start EXPECT (end_date IS NULL OR end_date >= start_date)
)
COMMENT 'Users: user_name upper-cased, one row per user and updated_at'
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
QUALIFY row_number() OVER (
  PARTITION BY user_id, updated_at
  ORDER BY upper(user_name) DESC NULLS LAST, country DESC NULLS LAST,
           subscription_type DESC NULLS LAST, start_date DESC NULLS LAST, end_date DESC NULLS LAST,
           _deleted DESC NULLS LAST
) = 1;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.dimartist (
  CONSTRAINT artist_id_not_null EXPECT (artist_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT updated_at_not_null EXPECT (updated_at IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT known_genre EXPECT (genre IN ('Pop', 'Hip-Hop', 'Jazz', 'Electronic', 'Rock', 'Classical'))
)
COMMENT 'Artists, one row per artist and updated_at'
AS SELECT artist_id, artist_name, genre, country, updated_at, _deleted
FROM STREAM read_files('${bronze_path}/DimArtist', format => 'parquet', schemaHints => '_deleted BOOLEAN')
QUALIFY row_number() OVER (
  PARTITION BY artist_id, updated_at
  ORDER BY artist_name DESC NULLS LAST, genre DESC NULLS LAST, country DESC NULLS LAST,
           _deleted DESC NULLS LAST
) = 1;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.dimtrack (
  CONSTRAINT track_id_not_null EXPECT (track_id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT updated_at_not_null EXPECT (updated_at IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT duration_in_range EXPECT (duration_sec BETWEEN 1 AND 3600) ON VIOLATION QUARANTINE,
  CONSTRAINT known_artist EXPECT (artist_known OR _deleted) ON VIOLATION QUARANTINE
)
COMMENT 'Tracks: durationFlag, hyphens in names replaced by spaces, artist checked, one row per track and updated_at'
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
QUALIFY row_number() OVER (
  PARTITION BY t.track_id, t.updated_at
  ORDER BY replace(t.track_name, '-', ' ') DESC NULLS LAST, t.artist_id DESC NULLS LAST,
           t.album_name DESC NULLS LAST, t.duration_sec DESC NULLS LAST,
           t.release_date DESC NULLS LAST, t._deleted DESC NULLS LAST
) = 1;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.dimdate (
  CONSTRAINT date_key_not_null EXPECT (date_key IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT date_key_matches_date EXPECT (date_key = CAST(date_format(date, 'yyyyMMdd') AS INT))
)
COMMENT 'Calendar, as is'
AS SELECT date_key, date, day, month, year, weekday
FROM STREAM read_files('${bronze_path}/DimDate', format => 'parquet');
