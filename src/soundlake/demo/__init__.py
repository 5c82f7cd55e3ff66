"""The Spotify reference system: its data generator, change simulator, SQL loader and mart charts.

Everything here knows the reference schema (DimUser, DimArtist, DimTrack, DimDate,
FactStream) and its marts; the generic packages below (``source``, ``observe``) do not.
Layer: beside ``ingest`` and ``pipeline``; it reaches the database through ``source`` and
turns mart rows into ``observe``'s chart model.
"""
