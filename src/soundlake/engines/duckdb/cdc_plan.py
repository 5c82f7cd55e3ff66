"""Write the recomputed rows of the affected keys into the target, choosing a plan by cost.

Inputs are DuckDB temp tables: ``cdc_affected`` (the keys of the batch), ``cdc_new`` (the
target rows those keys must have) and the registered target dataset. Plans:

- ``create``: no target yet; write ``cdc_new`` as the first version.
- ``noop``: the affected keys' rows are already exactly ``cdc_new``.
- ``append``: no affected key has a row in the target (pure inserts).
- ``merge``: few files touched; a Delta MERGE matching on the keys (and ``__START_AT``)
  with a key-range pruning predicate; delta-rs rewrites only the matched files.
- ``rewrite``: a predicate overwrite over key intervals around the affected keys: the
  rows inside the intervals are recomputed in DuckDB, delta-rs removes the files holding
  them and adds the new ones in one commit.
- ``full-rewrite``: most bytes are touched; stream the whole new table and overwrite.

Cost is estimated from the Delta log's per-file key statistics (no data is read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake

from soundlake.core.sql_text import value_literal
from soundlake.engines.base import CommitInfo
from soundlake.engines.cdc_columns import END_AT
from soundlake.engines.duckdb.cdc_io import register_delta
from soundlake.engines.duckdb.cdc_spec import ResolvedCdc, q
from soundlake.engines.duckdb.cdc_state import commit_properties
from soundlake.engines.duckdb.cdc_write import (
    can_write,
    local_uri,
    plain_schema,
    write_with_duckdb,
)
from soundlake.lake.delta import new_table_configuration

MERGE_MAX_FILES = 2
MERGE_MAX_ROWS = 50_000
FULL_REWRITE_FRACTION = 0.5
MAX_INTERVALS = 32
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT", "HUGEINT"}
BATCH_ROWS = 256 * 1024


@dataclass(frozen=True)
class PlanResult:
    """What the writer did: the plan label and the row counts it saw."""

    plan: str
    upserted: int
    deleted: int
    rows_after: int


def _literal(value: Any) -> str | None:
    """Interval bounds are literals only for integer and string keys."""
    return value_literal(value) if isinstance(value, int | str) else None


def _intervals(con: Any, rc: ResolvedCdc) -> list[tuple[Any, Any]]:
    """Cover the affected first-key values with at most MAX_INTERVALS closed intervals."""
    k = q(rc.keys[0])
    kind = con.execute(f"SELECT typeof({k}) FROM cdc_affected LIMIT 1").fetchall()
    if not kind:
        return []
    values = f"SELECT DISTINCT {k} AS v FROM cdc_affected"
    if kind[0][0] in _INTEGER_TYPES:  # split at the largest gaps
        groups = (
            f"WITH v AS ({values}), "
            "g AS (SELECT v, v::HUGEINT - (lag(v) OVER (ORDER BY v))::HUGEINT AS gap FROM v), "
            f"c AS (SELECT v FROM g WHERE gap IS NOT NULL ORDER BY gap DESC, v "
            f"LIMIT {MAX_INTERVALS - 1}) "
            "SELECT v, sum(CASE WHEN v IN (SELECT v FROM c) THEN 1 ELSE 0 END) "
            "OVER (ORDER BY v) AS grp FROM v"
        )
    else:  # equal-count chunks
        groups = f"SELECT v, ntile({MAX_INTERVALS}) OVER (ORDER BY v) AS grp FROM ({values})"
    rows = con.execute(f"SELECT min(v), max(v) FROM ({groups}) GROUP BY grp ORDER BY 1").fetchall()
    return [(a, b) for a, b in rows]


def _touched(con: Any, rc: ResolvedCdc, target: DeltaTable, ivs: list[tuple[Any, Any]]) -> tuple[int, int, int, int]:
    """(touched files, total files, touched bytes, total bytes) from the log's statistics."""
    actions = pa.table(target.get_add_actions(flatten=True))
    lo_col, hi_col = f"min.{rc.keys[0]}", f"max.{rc.keys[0]}"
    total_files, total_bytes = actions.num_rows, int(pc.sum(actions["size_bytes"]).as_py() or 0)
    if lo_col not in actions.column_names or not ivs:
        return total_files, total_files, total_bytes, total_bytes
    files = pa.table({"lo": actions[lo_col], "hi": actions[hi_col], "size": actions["size_bytes"]})
    con.register("cdc_files", files)
    iv_table = pa.table({"lo": [a for a, _ in ivs], "hi": [b for _, b in ivs]})
    con.register("cdc_ivs", iv_table)
    n, size = con.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM cdc_files f WHERE f.lo IS NULL OR f.hi IS NULL "
        "OR EXISTS (SELECT 1 FROM cdc_ivs i WHERE i.lo <= f.hi AND i.hi >= f.lo)"
    ).fetchall()[0]
    con.unregister("cdc_files")
    con.unregister("cdc_ivs")
    return int(n), total_files, int(size), total_bytes


def target_schema(target: DeltaTable) -> pa.Schema:
    """The Arrow schema of a Delta table."""
    return pa.schema(target.schema().to_arrow())


def _reader(con: Any, sql: str, schema: pa.Schema) -> pa.RecordBatchReader:
    return con.sql(sql).to_arrow_reader(BATCH_ROWS).cast(schema)


def write_create(
    con: Any, rc: ResolvedCdc, uri: str, so: dict[str, str] | None, commit: CommitInfo
) -> PlanResult:
    """Create the target from ``cdc_new``, sorted by key (narrow key ranges per file)."""
    n = int(con.execute("SELECT count(*) FROM cdc_new").fetchall()[0][0])
    order = ", ".join(q(c) for c in rc.match_columns)
    props = commit_properties(commit, {"soundlake.cdc.plan": "create"})
    schema = con.sql("SELECT * FROM cdc_new LIMIT 0").to_arrow_table().schema
    if local_uri(uri) and plain_schema(schema):
        # an empty first version, then the rows in key order with the app transaction
        write_deltalake(uri, schema.empty_table(), mode="append", storage_options=so,
                        configuration=new_table_configuration())
        target = DeltaTable(uri, storage_options=so)
        write_with_duckdb(con, "SELECT * FROM cdc_new", target, target_schema(target), props,
                          mode="append", types_from="cdc_new", ordered_by=order)
        return PlanResult("create", n, 0, n)
    data = con.sql(f"SELECT * FROM cdc_new ORDER BY {order}").to_arrow_reader(BATCH_ROWS)
    write_deltalake(uri, data, mode="append", storage_options=so, commit_properties=props,
                    configuration=new_table_configuration())
    return PlanResult("create", n, 0, n)


def count_changes(con: Any, rc: ResolvedCdc) -> tuple[int, int, int]:
    """(rows written: new or changed, keys deleted: live before and not after, rows removed)."""
    live = "" if rc.scd_type == 1 else f" WHERE {q(END_AT)} IS NULL"
    keys = ", ".join(q(k) for k in rc.keys)
    on = " AND ".join(f"n.{q(c)} = o.{q(c)}" for c in rc.match_columns)
    others = [c for c in (*rc.columns, END_AT) if c not in rc.match_columns]
    if rc.scd_type == 1:
        others.remove(END_AT)
    differ = " OR ".join([f"n.{q(c)} IS DISTINCT FROM o.{q(c)}" for c in others] or ["false"])
    upserted, removed = con.execute(
        "SELECT count(*) FILTER (WHERE n.__m AND (o.__m IS NULL OR " + differ + ")), "
        "count(*) FILTER (WHERE o.__m AND (n.__m IS NULL OR " + differ + ")) "
        "FROM (SELECT *, true AS __m FROM cdc_new) n "
        f"FULL OUTER JOIN (SELECT *, true AS __m FROM cdc_old) o ON {on}"
    ).fetchall()[0]
    deleted = con.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM cdc_old{live}) "
        f"ANTI JOIN (SELECT DISTINCT {keys} FROM cdc_new{live}) USING ({keys})"
    ).fetchall()[0][0]
    return int(upserted), int(deleted), int(removed)


def write_target(
    con: Any, rc: ResolvedCdc, target: DeltaTable, uri: str, so: dict[str, str] | None,
    commit: CommitInfo,
) -> PlanResult:
    """Replace the affected keys' rows ``cdc_old`` by ``cdc_new`` with the cheapest plan."""
    register_delta(con, "cdc_target_ds", target)
    upserted, deleted, removed = count_changes(con, rc)
    n_old = con.execute("SELECT count(*) FROM cdc_old").fetchall()[0][0]
    n_new = con.execute("SELECT count(*) FROM cdc_new").fetchall()[0][0]
    after = int(target.count()) + n_new - n_old
    if not upserted and not removed:
        return PlanResult("noop", 0, 0, after)
    schema = target_schema(target)
    if n_old == 0:
        write_deltalake(uri, _reader(con, "SELECT * FROM cdc_new", schema), mode="append",
                        storage_options=so,
                        commit_properties=commit_properties(commit, {"soundlake.cdc.plan": "append"}))
        return PlanResult("append", upserted, deleted, after)
    ivs = _intervals(con, rc)
    lits = [(_literal(a), _literal(b)) for a, b in ivs]
    prunable = bool(ivs) and all(a is not None and b is not None for a, b in lits)
    files, total, size, total_size = _touched(con, rc, target, ivs) if prunable else (1, 1, 1, 1)
    detail = f"files {files}/{total}"
    if not prunable or size > FULL_REWRITE_FRACTION * total_size:
        _full_rewrite(con, rc, target, uri, so, commit, schema)
        return PlanResult(f"full-rewrite ({detail})", upserted, deleted, after)
    k = rc.keys[0]
    pred = " OR ".join(f"(`{k}` BETWEEN {a} AND {b})" for a, b in lits)
    merge_pred = " OR ".join(f"(t.`{k}` BETWEEN {a} AND {b})" for a, b in lits)
    if files <= MERGE_MAX_FILES and n_new + n_old <= MERGE_MAX_ROWS and not rc.seq_fields:
        _merge(con, rc, target, merge_pred, commit, schema)
        return PlanResult(f"merge ({detail})", upserted, deleted, after)
    _rewrite(con, rc, uri, so, commit, schema, ivs, pred)
    return PlanResult(f"rewrite ({detail}, {len(ivs)} key intervals)", upserted, deleted, after)


def _full_rewrite(con: Any, rc: ResolvedCdc, target: DeltaTable, uri: str,
                  so: dict[str, str] | None, commit: CommitInfo, schema: pa.Schema) -> None:
    sql = (
        f"SELECT t.* FROM cdc_target_ds t ANTI JOIN cdc_affected a ON {rc.key_join('t', 'a')} "
        "UNION ALL SELECT * FROM cdc_new"
    )
    props = commit_properties(commit, {"soundlake.cdc.plan": "full-rewrite"})
    if can_write(target, schema):
        write_with_duckdb(con, sql, target, schema, props)
        return
    write_deltalake(uri, _reader(con, sql, schema), mode="overwrite", storage_options=so,
                    commit_properties=props)


def _rewrite(con: Any, rc: ResolvedCdc, uri: str, so: dict[str, str] | None, commit: CommitInfo,
             schema: pa.Schema, ivs: list[tuple[Any, Any]], pred: str) -> None:
    k = q(rc.keys[0])
    where = " OR ".join(f"(t.{k} BETWEEN ? AND ?)" for _ in ivs)
    params = [v for iv in ivs for v in iv]
    sql = (
        f"SELECT t.* FROM cdc_target_ds t ANTI JOIN cdc_affected a ON {rc.key_join('t', 'a')} "
        f"WHERE {where} UNION ALL SELECT * FROM cdc_new"
    )
    data = con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS).cast(schema)
    write_deltalake(uri, data, mode="overwrite", predicate=pred, storage_options=so,
                    commit_properties=commit_properties(commit, {"soundlake.cdc.plan": "rewrite"}))


def _merge(con: Any, rc: ResolvedCdc, target: DeltaTable, pred: str, commit: CommitInfo,
           schema: pa.Schema) -> None:
    match = rc.match_columns
    on = " AND ".join(f"n.{q(c)} = o.{q(c)}" for c in match)
    source = con.sql(
        "SELECT *, 'u' AS __action FROM (SELECT * FROM cdc_new EXCEPT SELECT * FROM cdc_old) "
        f"UNION ALL SELECT o.*, 'd' AS __action FROM cdc_old o ANTI JOIN cdc_new n ON {on}"
    ).to_arrow_table()
    source = source.cast(pa.schema([*schema, pa.field("__action", pa.string())]))
    cond = " AND ".join(f"t.`{c}` = s.`{c}`" for c in match)
    updates = {f: f"s.`{f}`" for f in schema.names}
    (
        target.merge(source, predicate=f"{cond} AND ({pred})",
                     source_alias="s", target_alias="t",
                     commit_properties=commit_properties(commit, {"soundlake.cdc.plan": "merge"}))
        .when_matched_delete(predicate="s.`__action` = 'd'")
        .when_matched_update(updates=updates, predicate="s.`__action` = 'u'")
        .when_not_matched_insert(updates=updates, predicate="s.`__action` = 'u'")
        .execute()
    )
