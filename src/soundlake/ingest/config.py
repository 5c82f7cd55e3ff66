"""Configuration of the metadata-driven ingestion (the Data Factory table list)."""

from __future__ import annotations

from pydantic import Field

from soundlake.core.config import StrictModel


class IngestTable(StrictModel):
    """One entry of the ingestion loop: ``{schema, table, cdc_col, from_date}``.

    Attributes:
        schema_: Database schema of the table (``schema`` in YAML); None for the default.
        table: Table name in the source database; also the bronze folder name.
        cdc_col: Column whose increasing value marks new and changed rows.
        from_date: Optional backfill start; rows with ``cdc_col`` at or after it are read
            instead of those past the stored watermark.
    """

    schema_: str | None = Field(default=None, alias="schema")
    table: str
    cdc_col: str
    from_date: str | None = None


class IngestConfig(StrictModel):
    """Ingestion settings.

    Attributes:
        tables: The tables to ingest, in order.
        alert_url: When set, a failed run POSTs a JSON alert here (the seed's Logic App).
        workers: How many tables are ingested at once.
        batch_rows: Rows per Arrow batch / Parquet row group streamed from the source.
        retries: Attempts for transient errors before a table is marked failed.
        backoff_seconds: Delay before the first retry; it doubles for each next one.
    """

    tables: list[IngestTable] = Field(default_factory=list)
    alert_url: str | None = None
    workers: int = Field(default=4, ge=1, le=64)
    batch_rows: int = Field(default=100_000, ge=1)
    retries: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0, le=60)
