-- Gold dimensions: SCD Type 2 history with AUTO CDC (the seed's create_auto_cdc_flow).
-- dim_user is defined in Python (gold/dim_user.py), in the seed's style.
-- History cannot be rebuilt from a source that keeps only the latest row, so the SCD2
-- dimensions are protected from full refresh (pipelines.reset.allowed = false, as
-- Databricks advises): a full refresh keeps their rows and re-applies the rebuilt silver
-- change events, which changes nothing already applied.

CREATE OR REFRESH STREAMING TABLE spotify_catalog.gold.dim_artist
TBLPROPERTIES ('pipelines.reset.allowed' = 'false')
COMMENT 'Artists with history (SCD2)';
CREATE FLOW dim_artist_cdc AS AUTO CDC INTO spotify_catalog.gold.dim_artist
FROM STREAM(spotify_catalog.silver.dimartist)
KEYS (artist_id)
APPLY AS DELETE WHEN _deleted
SEQUENCE BY updated_at
COLUMNS * EXCEPT (_deleted)
STORED AS SCD TYPE 2;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.gold.dim_track
TBLPROPERTIES ('pipelines.reset.allowed' = 'false')
COMMENT 'Tracks with history (SCD2)';
CREATE FLOW dim_track_cdc AS AUTO CDC INTO spotify_catalog.gold.dim_track
FROM STREAM(spotify_catalog.silver.dimtrack)
KEYS (track_id)
APPLY AS DELETE WHEN _deleted
SEQUENCE BY updated_at
COLUMNS * EXCEPT (artist_known, _deleted)
STORED AS SCD TYPE 2;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.gold.dim_date
TBLPROPERTIES ('pipelines.reset.allowed' = 'false')
COMMENT 'Calendar (SCD2, sequenced by date as in the seed)';
CREATE FLOW dim_date_cdc AS AUTO CDC INTO spotify_catalog.gold.dim_date
FROM STREAM(spotify_catalog.silver.dimdate)
KEYS (date_key)
SEQUENCE BY date
STORED AS SCD TYPE 2;

CREATE OR REFRESH STREAMING TABLE spotify_catalog.gold.fact_stream
COMMENT 'Plays (SCD1 on stream_id, sequenced by stream_timestamp)';
CREATE FLOW fact_stream_cdc AS AUTO CDC INTO spotify_catalog.gold.fact_stream
FROM STREAM(spotify_catalog.silver.factstream)
KEYS (stream_id)
SEQUENCE BY stream_timestamp
COLUMNS * EXCEPT (user_known, track_known)
STORED AS SCD TYPE 1;
