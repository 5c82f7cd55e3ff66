"""Every documented file-reader option and what soundlake's file reader does with it.

``read_files(...)`` / ``cloud_files(...)`` in SQL and ``spark.read[Stream]...load()`` in
Python accept Spark's and Auto Loader's reader options. soundlake reads files with its own
reader (``autoloader``) on every engine, so an option it does not implement would change
the rows silently. :func:`check_options` therefore checks each given option against
:data:`OPTIONS`:

- ``implemented``: behaves as on Databricks.
- ``no_effect``: accepted; it changes nothing for a local folder (the reason says why).
- ``refused``: a :class:`DefinitionError` naming the option, unless the value given is
  Spark's default (which is what soundlake does anyway).

Keys are case-insensitive and ``cloudFiles.`` is optional, as in Spark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from soundlake.core.errors import DefinitionError

Status = Literal["implemented", "no_effect", "refused"]
HINT = (
    "remove it, or run this pipeline on Databricks (soundlake reads files with its own reader "
    "on every engine, --engine spark included)"
)


@dataclass(frozen=True)
class OptionSpec:
    """One reader option: its status, the formats it applies to, Spark's default, a note."""

    name: str
    status: Status
    formats: tuple[str, ...] = ("parquet", "json", "csv")
    default: str | None = None
    note: str = ""


def _specs(status: Status, names: str, formats: tuple[str, ...] = ("parquet", "json", "csv"),
           default: str | None = None, note: str = "") -> list[OptionSpec]:
    return [OptionSpec(n, status, formats, default, note) for n in names.split()]


_CSV = ("csv",)
_JSON = ("json",)
_TEXT = ("json", "csv")
_PARQUET = ("parquet",)
_NOTIFY = "file notification services are not used: a local folder is listed on every update"

_ALL: list[OptionSpec] = [
    # --- generic and Auto Loader options implemented by soundlake's reader
    *_specs("implemented", "format schema schemaHints schemaEvolutionMode rescuedDataColumn"),
    *_specs("implemented", "inferColumnTypes pathGlobFilter fileNamePattern"),
    *_specs("implemented", "header quote escape nullValue sep delimiter inferSchema", _CSV),
    *_specs("implemented", "multiLine", _TEXT),
    *_specs("implemented", "encoding charset", _TEXT, "utf-8"),
    # --- accepted, no effect locally
    *_specs("no_effect", "schemaLocation checkpointLocation", note="the schema is kept with the flow's checkpoint"),
    *_specs("no_effect", "useNotifications queueUrl connectionString resourceGroup subscriptionId "
            "tenantId clientId clientSecret region resourceTag fetchParallelism pathRewrites "
            "useIncrementalListing useManagedFileEvents backfillInterval", note=_NOTIFY),
    *_specs("no_effect", "maxFilesPerTrigger maxBytesPerTrigger maxFileAge",
            note="a triggered update reads every new file; batch sizes do not change the rows"),
    *_specs("no_effect", "validateOptions useStrictGlobber", note="options are always validated; globbing is strict"),
    *_specs("no_effect", "mergeSchema", note="schemas of all files are always merged"),
    *_specs("no_effect", "includeExistingFiles", default="true",
            note="existing files are read on the first update (the default)"),
    # --- refused unless set to Spark's default
    *_specs("refused", "allowOverwrites ignoreCorruptFiles ignoreMissingFiles recursiveFileLookup", default="false"),
    *_specs("refused", "modifiedAfter modifiedBefore partitionColumns cleanSource "
            "cleanSource.retentionDuration cleanSource.moveDestination schemaHintsFile"),
    *_specs("refused", "readerCaseSensitive", default="true"),
    *_specs("refused", "mode", _TEXT, "PERMISSIVE"),
    *_specs("refused", "dateFormat", _TEXT, "yyyy-MM-dd"),
    *_specs("refused", "timestampFormat timestampNTZFormat locale columnNameOfCorruptRecord lineSep "
            "samplingRatio singleVariantColumn", _TEXT),
    *_specs("refused", "comment emptyValue nanValue positiveInf negativeInf maxColumns "
            "maxCharsPerColumn unescapedQuoteHandling charToEscapeQuoteEscaping preferDate", _CSV),
    *_specs("refused", "ignoreLeadingWhiteSpace ignoreTrailingWhiteSpace enforceSchema", _CSV),
    *_specs("refused", "primitivesAsString prefersDecimal allowComments allowUnquotedFieldNames "
            "allowSingleQuotes allowNumericLeadingZeros allowBackslashEscapingAnyCharacter "
            "allowUnquotedControlChars dropFieldIfAllNull", _JSON),
    *_specs("refused", "datetimeRebaseMode int96RebaseMode", _PARQUET),
]

OPTIONS: dict[str, OptionSpec] = {spec.name.lower(): spec for spec in _ALL}
"""Every documented option by its lower-case name (without ``cloudFiles.``)."""


def normalise_key(key: str) -> str:
    """The lookup key of an option: lower case, ``cloudFiles.`` removed."""
    return str(key).strip().strip("`").lower().removeprefix("cloudfiles.")


def check_options(options: Mapping[str, str], fmt: str, *, path: str, where: str | None = None) -> None:
    """Refuse any option soundlake's reader would ignore or get wrong.

    Args:
        options: The reader options as written (any case, with or without ``cloudFiles.``).
        fmt: The file format (``parquet``, ``json``, ``csv``).
        path: The path read, for the message.
        where: ``file:line`` of the definition, when known.

    Raises:
        DefinitionError: one line naming the option, the path and the definition.
    """
    prefix = f"{where}: " if where else ""
    for key, value in options.items():
        spec = OPTIONS.get(normalise_key(key))
        if spec is None:
            raise DefinitionError(f"{prefix}read_files('{path}'): unknown reader option '{key}'; {HINT}")
        if spec.status == "implemented":
            if spec.default is not None and str(value).strip().lower().replace("utf8", "utf-8") != spec.default:
                raise DefinitionError(
                    f"{prefix}read_files('{path}'): option '{key}' = '{value}' is not supported "
                    f"locally (only '{spec.default}'); {HINT}"
                )
            continue
        if spec.status == "no_effect":
            continue
        if spec.default is not None and str(value).strip().lower() == spec.default.lower():
            continue
        if fmt not in spec.formats:
            continue  # another format's option: Spark ignores it too
        raise DefinitionError(
            f"{prefix}read_files('{path}'): reader option '{key}' is not supported locally; {HINT}"
        )
