-- Marts a streaming business asks for (materialized views over gold).
--
-- Each declares a refresh window: an update recomputes only the dates (weeks) from the
-- view's latest one minus ${refresh_lookback}, the same bound the ingestion look-back
-- gives late rows; older rows are kept. `soundlake run --full-refresh <view>` recomputes
-- everything (e.g. after a correction older than the window).

-- Validity intervals of the SCD2 dimensions, for point-in-time joins: a version is valid
-- from its __START_AT (the first version of a key from the beginning of time) to its
-- __END_AT (the open version for ever).
CREATE TEMPORARY VIEW user_versions AS
SELECT
  user_id, country, subscription_type,
  CASE WHEN row_number() OVER (PARTITION BY user_id ORDER BY __START_AT) = 1
       THEN TIMESTAMP '1900-01-01 00:00:00' ELSE __START_AT END AS valid_from,
  coalesce(__END_AT, TIMESTAMP '9999-12-31 00:00:00') AS valid_to
FROM spotify_catalog.gold.dim_user;

CREATE TEMPORARY VIEW track_versions AS
SELECT
  track_id, track_name, artist_id,
  CASE WHEN row_number() OVER (PARTITION BY track_id ORDER BY __START_AT) = 1
       THEN TIMESTAMP '1900-01-01 00:00:00' ELSE __START_AT END AS valid_from,
  coalesce(__END_AT, TIMESTAMP '9999-12-31 00:00:00') AS valid_to
FROM spotify_catalog.gold.dim_track;

CREATE TEMPORARY VIEW artist_versions AS
SELECT
  artist_id, artist_name, genre,
  CASE WHEN row_number() OVER (PARTITION BY artist_id ORDER BY __START_AT) = 1
       THEN TIMESTAMP '1900-01-01 00:00:00' ELSE __START_AT END AS valid_from,
  coalesce(__END_AT, TIMESTAMP '9999-12-31 00:00:00') AS valid_to
FROM spotify_catalog.gold.dim_artist;

-- Plays, minutes and distinct listeners per day, country and device. The country is the
-- one the user had when the play happened (point-in-time join to the SCD2 dimension).
CREATE OR REFRESH MATERIALIZED VIEW spotify_catalog.gold.mart_daily_listening
COMMENT 'Daily listening by country and device'
TBLPROPERTIES ('soundlake.refresh.partitionColumn' = 'listen_date', 'soundlake.refresh.lookback' = '${refresh_lookback}')
AS SELECT
  CAST(f.stream_timestamp AS DATE) AS listen_date,
  coalesce(v.country, 'Unknown') AS country,
  f.device_type,
  count(*) AS plays,
  round(sum(f.listen_duration) / 60.0, 2) AS minutes,
  count(DISTINCT f.user_id) AS listeners
FROM spotify_catalog.gold.fact_stream AS f
LEFT JOIN user_versions AS v
  ON f.user_id = v.user_id AND f.stream_timestamp >= v.valid_from AND f.stream_timestamp < v.valid_to
GROUP BY CAST(f.stream_timestamp AS DATE), coalesce(v.country, 'Unknown'), f.device_type;

-- Listening by the subscription the user had at the time of each play (not the current plan).
CREATE OR REFRESH MATERIALIZED VIEW spotify_catalog.gold.mart_listening_by_plan
COMMENT 'Daily listening by the plan held at play time (point-in-time join)'
TBLPROPERTIES ('soundlake.refresh.partitionColumn' = 'listen_date', 'soundlake.refresh.lookback' = '${refresh_lookback}')
AS SELECT
  CAST(f.stream_timestamp AS DATE) AS listen_date,
  coalesce(v.subscription_type, 'Unknown') AS subscription_type,
  count(*) AS plays,
  round(sum(f.listen_duration) / 60.0, 2) AS minutes,
  count(DISTINCT f.user_id) AS listeners
FROM spotify_catalog.gold.fact_stream AS f
LEFT JOIN user_versions AS v
  ON f.user_id = v.user_id AND f.stream_timestamp >= v.valid_from AND f.stream_timestamp < v.valid_to
GROUP BY CAST(f.stream_timestamp AS DATE), coalesce(v.subscription_type, 'Unknown');

-- Top 10 tracks per week by plays, with the names the track and its artist had at the end
-- of that week (point-in-time joins to the SCD2 dimensions: a later rename does not
-- rewrite past weeks).
CREATE OR REFRESH MATERIALIZED VIEW spotify_catalog.gold.mart_top_tracks_weekly
COMMENT 'Top 10 tracks per week'
TBLPROPERTIES ('soundlake.refresh.partitionColumn' = 'week_start', 'soundlake.refresh.lookback' = '${refresh_lookback}')
AS WITH weekly AS (
  SELECT
    CAST(date_trunc('WEEK', f.stream_timestamp) AS DATE) AS week_start,
    f.track_id,
    count(*) AS plays,
    round(sum(f.listen_duration) / 60.0, 2) AS minutes
  FROM spotify_catalog.gold.fact_stream AS f
  GROUP BY CAST(date_trunc('WEEK', f.stream_timestamp) AS DATE), f.track_id
), ranked AS (
  SELECT *, row_number() OVER (PARTITION BY week_start ORDER BY plays DESC, track_id) AS rank,
         CAST(date_add(week_start, 7) AS TIMESTAMP) AS week_end
  FROM weekly
)
SELECT r.week_start, r.rank, r.track_id, t.track_name, a.artist_name, r.plays, r.minutes
FROM ranked AS r
LEFT JOIN track_versions AS t
  ON r.track_id = t.track_id AND r.week_end > t.valid_from AND r.week_end <= t.valid_to
LEFT JOIN artist_versions AS a
  ON t.artist_id = a.artist_id AND r.week_end > a.valid_from AND r.week_end <= a.valid_to
WHERE r.rank <= 10;

-- Top 10 artists per week by plays: each play counts for the artist its track had when it
-- was played; names as at the end of the week.
CREATE OR REFRESH MATERIALIZED VIEW spotify_catalog.gold.mart_top_artists_weekly
COMMENT 'Top 10 artists per week'
TBLPROPERTIES ('soundlake.refresh.partitionColumn' = 'week_start', 'soundlake.refresh.lookback' = '${refresh_lookback}')
AS WITH plays AS (
  SELECT
    CAST(date_trunc('WEEK', f.stream_timestamp) AS DATE) AS week_start,
    t.artist_id,
    f.listen_duration
  FROM spotify_catalog.gold.fact_stream AS f
  JOIN track_versions AS t
    ON f.track_id = t.track_id AND f.stream_timestamp >= t.valid_from AND f.stream_timestamp < t.valid_to
), weekly AS (
  SELECT week_start, artist_id, count(*) AS plays, round(sum(listen_duration) / 60.0, 2) AS minutes
  FROM plays
  GROUP BY week_start, artist_id
), ranked AS (
  SELECT *, row_number() OVER (PARTITION BY week_start ORDER BY plays DESC, artist_id) AS rank,
         CAST(date_add(week_start, 7) AS TIMESTAMP) AS week_end
  FROM weekly
)
SELECT r.week_start, r.rank, r.artist_id, a.artist_name, a.genre, r.plays, r.minutes
FROM ranked AS r
LEFT JOIN artist_versions AS a
  ON r.artist_id = a.artist_id AND r.week_end > a.valid_from AND r.week_end <= a.valid_to
WHERE r.rank <= 10;
