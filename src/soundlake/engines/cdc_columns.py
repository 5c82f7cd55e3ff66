"""Engine-neutral parts of AUTO CDC: names, spec validation and the column lists.

Both engines bind a :class:`CdcSpec` the same way (``engines/cdc_fold.resolve_spec``);
only the SQL dialect of their expressions differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from soundlake.core.errors import FlowError
from soundlake.engines.base import CdcSpec

START_AT = "__START_AT"
END_AT = "__END_AT"
SEQ = "__seq"
OP = "__op"
UPSERT, DELETE, TRUNCATE = 0, 1, 2
META_COLUMNS = (START_AT, END_AT)


def state_table_properties(keys: Sequence[str]) -> dict[str, str]:
    """Table properties of a new hidden state table: per-file statistics on the keys only.

    The state is only ever read by key (the batch's keys, or their range), never filtered
    on its values or sequence, so statistics of those columns would go unused; computing
    them cost Spark's writer ~0.9 CPU-seconds per 5 million events. The keys are the
    state's first columns.
    """
    return {"delta.dataSkippingNumIndexedCols": str(len(keys))}


@dataclass(frozen=True)
class CdcColumns:
    """The target's columns for a spec.

    Attributes:
        keys: The key columns, spelled as the events spell them.
        columns: Target data columns in target order (missing keys first).
        values: ``columns`` without the keys.
        tracked: Value columns whose change opens a new SCD2 version.
    """

    keys: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[str, ...]
    tracked: tuple[str, ...]


def check_spec(spec: CdcSpec) -> None:
    """Reject specs no engine can run.

    Raises:
        FlowError: no keys, no sequence, a bad SCD type, or truncates on SCD type 2.
    """
    flow = spec.flow
    if not spec.keys:
        raise FlowError(f"flow {flow!r}: AUTO CDC needs at least one key column")
    if not spec.sequence_by:
        raise FlowError(f"flow {flow!r}: AUTO CDC needs sequence_by")
    if int(spec.scd_type) not in (1, 2):
        raise FlowError(f"flow {flow!r}: stored_as_scd_type must be 1 or 2")
    if int(spec.scd_type) == 2 and spec.apply_as_truncates:
        raise FlowError(f"flow {flow!r}: apply_as_truncates is only supported for SCD type 1")


def bind_names(spec: CdcSpec, event_names: Sequence[str]) -> CdcSpec:
    """The spec with its column names spelled as the event columns are.

    Spark resolves column names case-insensitively (``spark.sql.caseSensitive`` is false
    by default, as on Databricks), so ``KEYS (UserId)`` names the events' ``userid``; the
    target and the state then carry the events' spelling. A name matching several event
    columns that differ only in case is ambiguous, as in Spark. Names matching no column
    are kept as written (:func:`cdc_columns` reports them).

    Raises:
        FlowError: when a name matches several event columns.
    """
    spelled: dict[str, list[str]] = {}
    for name in event_names:
        spelled.setdefault(name.lower(), []).append(name)

    def bind(what: str, names: Sequence[str]) -> tuple[str, ...]:
        bound = []
        for name in names:
            matches = spelled.get(name.lower(), [])
            if len(matches) > 1:
                where = f" ({spec.location})" if spec.location else ""
                raise FlowError(
                    f"flow {spec.flow!r}: {what} names column {name!r}, which is ambiguous: the "
                    f"source events have {matches} (column names are case-insensitive){where}"
                )
            bound.append(matches[0] if matches else name)
        return tuple(bound)

    return replace(
        spec,
        keys=bind("keys", spec.keys),
        columns=None if spec.columns is None else bind("column_list", spec.columns),
        except_columns=bind("except_column_list", spec.except_columns),
        tracked_columns=None if spec.tracked_columns is None else bind("track_history_column_list", spec.tracked_columns),
        untracked_columns=bind("track_history_except_column_list", spec.untracked_columns),
    )


def cdc_columns(spec: CdcSpec, event_names: Sequence[str], target_names: Sequence[str] | None) -> CdcColumns:
    """Bind the spec's column choices to the event columns (and an existing target's),
    names matched as :func:`bind_names` matches them.

    Raises:
        FlowError: when a chosen column is not in the events, or a name is ambiguous.
    """
    spec = bind_names(spec, event_names)
    where = f" ({spec.location})" if spec.location else ""
    for what, named in (("keys", spec.keys), ("column_list", spec.columns or ()), ("except_column_list", spec.except_columns)):
        missing = [c for c in named if c not in event_names]
        if missing:
            raise FlowError(
                f"flow {spec.flow!r}: {what} names column(s) {missing} not in the source events "
                f"(columns: {list(event_names)}){where}"
            )
    if target_names is not None:
        columns = tuple(n for n in target_names if n not in META_COLUMNS)
    else:
        if spec.columns is not None:
            chosen = list(spec.columns)
        else:
            excluded = set(spec.except_columns)
            chosen = [n for n in event_names if n not in excluded]
        columns = tuple([k for k in spec.keys if k not in chosen] + chosen)
    unknown = [c for c in columns if c not in event_names]
    if unknown:
        raise FlowError(f"flow {spec.flow!r}: columns {unknown} are not in the source events{where}")
    values = tuple(c for c in columns if c not in spec.keys)
    tracked_set = set(spec.tracked_columns) if spec.tracked_columns is not None else set(values)
    tracked_set -= set(spec.untracked_columns)
    return CdcColumns(spec.keys, columns, values, tuple(c for c in values if c in tracked_set))
