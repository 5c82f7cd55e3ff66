"""The hidden CDC state: a Delta table of every remembered change event.

Like Databricks' ``__apply_changes_storage`` table, the state lets late events be judged
against what was applied before: per key it keeps one event per sequence value (upserts
with their values, deletes as tombstones) and the truncates (``__op`` = 2, NULL keys).
The target is a pure function of the state, so the state is committed first (with the
batch's app transaction) and the target second; a crash between the two is repaired by a
re-run, which finds the batch in the state and recomputes the target rows of its keys.
"""

from __future__ import annotations

from typing import Any

from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from soundlake.engines.base import CommitInfo
from soundlake.engines.cdc_columns import DELETE, OP, SEQ, TRUNCATE, state_table_properties
from soundlake.engines.duckdb.cdc_fold import dedup_sql
from soundlake.engines.duckdb.cdc_io import register_delta
from soundlake.engines.duckdb.cdc_spec import ResolvedCdc, q
from soundlake.lake.delta import new_table_configuration

COMMIT = "__commit"


def open_table(uri: str, storage_options: dict[str, str] | None) -> DeltaTable | None:
    """The Delta table at ``uri``, or None when none exists yet."""
    if not DeltaTable.is_deltatable(uri, storage_options=storage_options):
        return None
    return DeltaTable(uri, storage_options=storage_options)


def committed(table: DeltaTable | None, commit: CommitInfo) -> bool:
    """True when ``table`` already holds ``commit`` (its app transaction is recorded)."""
    if table is None:
        return False
    done = table.transaction_version(commit.app_id)
    return done is not None and done >= commit.version


def commit_tag(commit: CommitInfo) -> str:
    """The ``__commit`` value of the state rows a batch stores."""
    return f"{commit.app_id}@{commit.version}"


def commit_properties(commit: CommitInfo, extra: dict[str, str] | None = None) -> CommitProperties:
    """Delta commit properties carrying the app transaction and the commit metadata."""
    meta = {str(k): str(v) for k, v in commit.metadata.items()}
    meta.update(extra or {})
    return CommitProperties(
        custom_metadata=meta or None,
        app_transactions=[Transaction(app_id=commit.app_id, version=commit.version)],
    )


def key_range(con: Any, rc: ResolvedCdc) -> tuple[Any, Any] | None:
    """Min and max of the first key over the affected keys, for file skipping."""
    k = q(rc.keys[0])
    lo, hi = con.execute(f"SELECT min({k}), max({k}) FROM cdc_affected").fetchall()[0]
    return None if lo is None else (lo, hi)


def load_state_events(
    con: Any, rc: ResolvedCdc, state: DeltaTable | None, full: bool, tag: str
) -> None:
    """Create ``cdc_events`` (remembered + new events of the affected keys, deduped) and
    ``cdc_events_before`` (the same without this batch's events: what the target holds).

    Also creates ``cdc_state_old`` (the remembered events of those keys, with the
    ``__commit`` tag of the batch that stored them). For SCD1 a delete at the latest
    truncate's sequence is added for every affected key.
    """
    cols = ", ".join(q(c) for c in (*rc.keys, *rc.values, SEQ, OP))
    if state is None:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE cdc_state_old AS SELECT {cols}, NULL::VARCHAR AS "
            f"{COMMIT} FROM cdc_batch LIMIT 0"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE cdc_truncates AS SELECT {SEQ}, ? AS {COMMIT} "
            "FROM cdc_batch_truncates", [tag]
        )
    else:
        _load_remembered(con, rc, state, full, cols, tag)
    if full:
        key_cols = ", ".join(q(k) for k in rc.keys)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE cdc_affected AS SELECT DISTINCT {key_cols} FROM "
            f"(SELECT {key_cols} FROM cdc_state_old UNION ALL SELECT {key_cols} FROM cdc_batch)"
        )
    before = f"{COMMIT} IS DISTINCT FROM '{_esc(tag)}'"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cdc_events AS "
        + _events_sql(rc, [f"SELECT {cols} FROM cdc_state_old", f"SELECT {cols} FROM cdc_batch"],
                      "true")
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cdc_events_before AS "
        + _events_sql(rc, [f"SELECT {cols} FROM cdc_state_old WHERE {before}"], before)
    )


def _esc(text: str) -> str:
    return text.replace("'", "''")


def _load_remembered(
    con: Any, rc: ResolvedCdc, state: DeltaTable, full: bool, cols: str, tag: str
) -> None:
    register_delta(con, "cdc_state_ds", state)
    names = {f.name for f in state.schema().fields}
    # a state first written by another engine may lack the tag: its rows are all "before"
    tag_col = COMMIT if COMMIT in names else f"NULL::VARCHAR AS {COMMIT}"
    where = f"s.{OP} < {TRUNCATE}"
    params: list[Any] = []
    bounds = key_range(con, rc)
    if bounds is not None and not full:
        where += f" AND s.{q(rc.keys[0])} BETWEEN ? AND ?"
        params = list(bounds)
    join = "" if full else f" SEMI JOIN cdc_affected a ON {rc.key_join('s', 'a')}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cdc_state_old AS SELECT {cols}, {tag_col} "
        f"FROM cdc_state_ds s{join} WHERE {where}",
        params,
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cdc_truncates AS SELECT {SEQ}, {tag_col} FROM cdc_state_ds "
        f"WHERE {OP} = {TRUNCATE} UNION ALL SELECT {SEQ}, ? FROM cdc_batch_truncates",
        [tag],
    )


def _events_sql(rc: ResolvedCdc, parts: list[str], truncates_where: str) -> str:
    if rc.scd_type == 1:
        nulls = "".join(f", NULL AS {q(c)}" for c in rc.values)
        keys = ", ".join(q(k) for k in rc.keys)
        trunc = f"(SELECT max({SEQ}) FROM cdc_truncates WHERE {truncates_where})"
        parts = [*parts, (
            f"SELECT {keys}{nulls}, {trunc} AS {SEQ}, {DELETE}::TINYINT AS {OP} "
            f"FROM cdc_affected WHERE {trunc} IS NOT NULL"
        )]
    return dedup_sql(rc, "(" + " UNION ALL ".join(parts) + ")")


def append_state(
    con: Any,
    rc: ResolvedCdc,
    state_uri: str,
    storage_options: dict[str, str] | None,
    commit: CommitInfo,
) -> int:
    """Append the batch's new events and truncates to the state in one commit.

    Returns:
        The number of state rows appended.
    """
    cols = ", ".join(q(c) for c in (*rc.keys, *rc.values, SEQ, OP))
    tag = commit_tag(commit)
    nulls = ", ".join(
        [f"NULL::{_type(con, 'cdc_batch', k)} AS {q(k)}" for k in rc.keys]
        + [f"NULL::{_type(con, 'cdc_batch', c)} AS {q(c)}" for c in rc.values]
    )
    sql = (
        f"SELECT *, '{_esc(tag)}' AS {COMMIT} FROM ("
        f"(SELECT {cols} FROM cdc_batch EXCEPT ALL SELECT {cols} FROM cdc_state_old) "
        f"UNION ALL SELECT {nulls}, {SEQ}, {TRUNCATE}::TINYINT AS {OP} FROM cdc_batch_truncates)"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE cdc_state_new AS {sql}")
    n = int(con.execute("SELECT count(*) FROM cdc_state_new").fetchall()[0][0])
    # sorted by key: row groups get narrow key ranges, so later scans of few keys skip most
    order = ", ".join(q(k) for k in rc.keys)
    data = con.sql(f"SELECT * FROM cdc_state_new ORDER BY {order}").to_arrow_reader(256 * 1024)
    write_deltalake(
        state_uri,
        data,
        mode="append",
        schema_mode="merge",  # adds the __commit tag to a state another engine created
        storage_options=storage_options,
        configuration=new_table_configuration(state_table_properties(rc.keys)),  # on creation
        commit_properties=commit_properties(commit, {"soundlake.cdc": "state"}),
    )
    return n


def _type(con: Any, table: str, column: str) -> str:
    row = con.execute(
        "SELECT data_type FROM duckdb_columns() WHERE table_name = ? AND column_name = ?",
        [table, column],
    ).fetchall()[0]
    return str(row[0])
