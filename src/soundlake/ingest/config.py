"""Configuration of the metadata-driven ingestion (the Data Factory table list)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, ValidationInfo, field_validator, model_validator

from soundlake.core.config import StrictModel
from soundlake.core.durations import EXAMPLES, UNIT_SECONDS, parse_duration
from soundlake.core.errors import ConfigError
from soundlake.source.config import DEFAULT_BATCH_ROWS


@dataclass(frozen=True)
class Lookback:
    """A parsed look-back window.

    Attributes:
        amount: The number as written.
        unit: ``w``, ``d``, ``h``, ``m``, ``s``, or ``""`` for a bare number (which is
            ``0``, or a count of CDC units for an integer CDC column).
    """

    amount: int
    unit: str

    @property
    def seconds(self) -> int:
        """Length in seconds (a bare number counts as seconds)."""
        return self.amount * UNIT_SECONDS.get(self.unit, 1)

    @property
    def is_zero(self) -> bool:
        """True for a zero-length window (the plain watermark)."""
        return self.amount == 0


_PATH_UNSAFE = ("/", "\\", "\x00", ":")


def check_path_name(name: str, *, what: str) -> str:
    """Return ``name`` when it can safely become one folder name under ``bronze/``.

    Raises:
        ValueError: naming ``what`` when the name holds a path separator, ``:``, a NUL
            character, is empty, ``.``/``..``, or has leading/trailing spaces.
    """
    bad = (
        not name
        or name in (".", "..")
        or name != name.strip()
        or any(c in name for c in _PATH_UNSAFE)
        or any(ord(c) < 32 for c in name)
    )
    if bad:
        raise ValueError(
            f"{what} '{name}' cannot be used as a bronze folder name (no '/', '\\', ':', "
            "'..', control characters or surrounding spaces): use the table's plain name"
        )
    return name


def check_table_names(names: list[str]) -> list[str]:
    """Validate ``--table`` values and drop repeats (first occurrence kept, case-sensitive).

    Raises:
        ConfigError: naming a value that is not a safe table name.
    """
    unique: list[str] = []
    for name in names:
        try:
            check_path_name(name, what="--table")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if name not in unique:
            unique.append(name)
    return unique


def parse_lookback(text: str | int) -> Lookback:
    """Parse ``"31d"``, ``"31 days"``, ``"12h"``, ``"90 minutes"``, ``"2w"`` or ``"0"``.

    Raises:
        ValueError: when ``text`` is not such a duration.
    """
    try:
        amount, unit = parse_duration(text)
    except ValueError:
        raise ValueError(f"lookback '{text}' is not a duration such as {EXAMPLES}") from None
    return Lookback(amount, unit)


class IngestTable(StrictModel):
    """One entry of the ingestion loop: ``{schema, table, cdc_col, from_date}``.

    Attributes:
        schema_: Database schema of the table (``schema`` in YAML); None for the default.
        table: Table name in the source database; also the bronze folder name.
        cdc_col: Column whose increasing value marks new and changed rows.
        from_date: Optional backfill start; rows with ``cdc_col`` at or after it are read
            instead of those past the stored watermark.
        lookback: Look-back window of this table (overrides ``ingest.lookback``): each run
            re-reads ``cdc_col >= watermark - lookback`` and delivers the rows not yet
            delivered, so rows committed late with an older CDC value are not lost.
        deletes: Detect hard deletes by comparing the source's key set with the keys
            delivered so far, and deliver them as ``_deleted`` rows.
        key: Key columns for ``deletes`` (default: the source table's primary key).
    """

    schema_: str | None = Field(default=None, alias="schema")
    table: str
    cdc_col: str
    from_date: str | None = None
    lookback: str | None = None
    deletes: bool = False
    key: list[str] | None = None

    @field_validator("table")
    @classmethod
    def _safe_table(cls, value: str) -> str:
        return check_path_name(value, what="ingest table")

    @field_validator("schema_")
    @classmethod
    def _safe_schema(cls, value: str | None) -> str | None:
        return None if value is None else check_path_name(value, what="ingest schema")

    @model_validator(mode="before")
    @classmethod
    def _lookback_text(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("lookback"), int):
            data = {**data, "lookback": str(data["lookback"])}
        return data

    @model_validator(mode="after")
    def _check_lookback(self) -> IngestTable:
        if self.lookback is not None:
            try:
                parse_lookback(self.lookback)
            except ValueError as exc:
                raise ValueError(f"table {self.table}: {exc}") from None
        return self


class IngestConfig(StrictModel):
    """Ingestion settings.

    Attributes:
        tables: The tables to ingest, in order.
        alert_url: When set, a failed run POSTs a JSON alert here (the seed's Logic App).
        workers: How many tables are ingested at once.
        batch_rows: Rows per Arrow batch / Parquet row group streamed from the source
            (default :data:`~soundlake.source.config.DEFAULT_BATCH_ROWS`).
        retries: Attempts for transient errors before a table is marked failed.
        backoff_seconds: Delay before the first retry; it doubles for each next one.
        lookback: Default look-back window of every table (``"0"``: the plain watermark).
        future_tolerance: How far past the current time a CDC value may lie and still
            move the watermark; rows beyond it are delivered once but leave it in place.
    """

    tables: list[IngestTable] = Field(default_factory=list)
    alert_url: str | None = None
    workers: int = Field(default=4, ge=1, le=64)
    batch_rows: int = Field(default=DEFAULT_BATCH_ROWS, ge=1)
    retries: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    lookback: str = "0"
    future_tolerance: str = "1d"

    @model_validator(mode="after")
    def _unique_tables(self) -> IngestConfig:
        seen: set[str] = set()
        for index, spec in enumerate(self.tables):
            name = spec.table.lower()  # the bronze folder name
            if name in seen:
                raise ValueError(
                    f"ingest.tables[{index}]: table '{spec.table}' is listed twice "
                    "(two entries would write into one bronze folder): remove one entry"
                )
            seen.add(name)
        return self

    @field_validator("lookback", "future_tolerance", mode="before")
    @classmethod
    def _check_duration(cls, value: object, info: ValidationInfo) -> str:
        text = str(value) if isinstance(value, int) else value
        if not isinstance(text, str):
            raise ValueError(f"ingest.{info.field_name} must be a duration such as '1d'")  # noqa: TRY004 (pydantic)
        try:
            parse_lookback(text)
        except ValueError as exc:  # name the setting, not "lookback", for future_tolerance
            raise ValueError(str(exc).replace("lookback", f"ingest.{info.field_name}", 1)) from None
        return text

    def lookback_of(self, spec: IngestTable) -> str:
        """The effective look-back window of ``spec`` (its own, else the default)."""
        return spec.lookback if spec.lookback is not None else self.lookback
