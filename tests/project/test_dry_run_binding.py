"""dry-run binds columns like Spark's analyzer: an unknown column fails before anything runs."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from soundlake.core.errors import DefinitionError
from soundlake.project.pipeline_ops import dry_run
from tests.pipeline.conftest import Lakehouse

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE TEMPORARY VIEW recent AS SELECT id, amount FROM raw WHERE amount > 0;
CREATE OR REFRESH MATERIALIZED VIEW totals AS SELECT id, sum(amount) AS total FROM recent GROUP BY id;
"""


def _lakehouse(tmp_path: Path, pipeline: str) -> Lakehouse:
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(pipeline)
    lh.parquet("in", "a.parquet", pa.table({"id": [1, 2], "amount": [10, -1]}))
    return lh


def test_a_valid_pipeline_binds(tmp_path: Path) -> None:
    dry_run(_lakehouse(tmp_path, PIPELINE).project)


def test_an_unknown_column_fails_at_dry_run_naming_the_flow_and_line(tmp_path: Path) -> None:
    lh = _lakehouse(tmp_path, PIPELINE.replace("sum(amount)", "sum(amount_eur)"))
    with pytest.raises(DefinitionError) as info:
        dry_run(lh.project)
    message = str(info.value)
    assert "amount_eur" in message and "totals" in message and "p.sql:4" in message, message
    assert "__sl_" not in message
    assert not (lh.root / "lake" / "main").exists()  # nothing ran


def test_a_column_of_the_files_that_is_missing_fails_at_dry_run(tmp_path: Path) -> None:
    lh = _lakehouse(tmp_path, PIPELINE.replace("SELECT id, amount FROM raw", "SELECT id, amount, country FROM raw"))
    with pytest.raises(DefinitionError, match="country"):
        dry_run(lh.project)


def test_inputs_not_known_yet_are_not_bound(tmp_path: Path) -> None:
    """No files yet: nothing can be bound, and dry-run does not invent an error."""
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(PIPELINE.replace("sum(amount)", "sum(amount_eur)"))
    dry_run(lh.project)


TYPED = """
CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE OR REFRESH MATERIALIZED VIEW ages (
  CONSTRAINT recent EXPECT (RULE) ON VIOLATION DROP ROW
) AS SELECT id, EXPR AS age FROM raw;
"""


def _typed(tmp_path: Path, expr: str, rule: str = "age IS NOT NULL") -> Lakehouse:
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(TYPED.replace("EXPR", expr).replace("RULE", rule))
    lh.parquet("in", "a.parquet", pa.table({
        "id": [1], "day": pa.array([19000], pa.date32()), "since": pa.array([18000], pa.date32()),
        "amount": pa.array([Decimal("2.00")], pa.decimal128(10, 2)),
    }))
    return lh


def test_a_construct_whose_types_differ_from_spark_fails_at_dry_run(tmp_path: Path) -> None:
    """DATE - DATE is an interval in Spark: refused once the query is typed, naming flow and line."""
    with pytest.raises(DefinitionError) as info:
        dry_run(_typed(tmp_path, "day - since").project)
    message = str(info.value)
    assert "p.sql:3" in message and "ages'" in message and "DATE minus a DATE" in message, message
    assert "--engine spark" in message


def test_an_expectation_is_typed_and_checked_at_dry_run(tmp_path: Path) -> None:
    """The expectation reads the query's typed result: an untranslatable pattern is refused there."""
    lh = _typed(tmp_path, "datediff(day, since)", rule="date_format(since, 'QQ') <> '01'")
    with pytest.raises(DefinitionError) as info:
        dry_run(lh.project)
    message = str(info.value)
    assert "expectation 'recent'" in message and "pattern letter 'Q'" in message, message


def test_decimal_division_is_exact_with_spark_type(tmp_path: Path) -> None:
    """amount / 3 is DECIMAL(14, 6) in Spark, rounded half-up (DuckDB alone divides in DOUBLE)."""
    from soundlake.lake import delta

    lh = _typed(tmp_path, "amount / 3")
    dry_run(lh.project)
    assert lh.run().ok
    assert lh.rows("SELECT age FROM ages") == [{"age": Decimal("0.666667")}]
    table = next(p.parent for p in lh.root.glob("lake/**/ages/_delta_log"))
    schema = delta.table_schema(str(table), {})
    assert schema is not None and schema.field("age").type == pa.decimal128(14, 6)


CDC = """
CREATE OR REFRESH STREAMING TABLE changes (CONSTRAINT has_id EXPECT (<RULE>) ON VIOLATION DROP ROW)
AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE OR REFRESH STREAMING TABLE users;
CREATE FLOW users_cdc AS AUTO CDC INTO users FROM STREAM(changes)
KEYS (<KEY>) APPLY AS DELETE WHEN <DELETES> SEQUENCE BY <SEQ> COLUMNS * EXCEPT (<EXCEPT>) STORED AS SCD TYPE 2;
"""
CDC_OK = {"RULE": "id IS NOT NULL", "KEY": "id", "DELETES": "op = 'D'", "SEQ": "ts", "EXCEPT": "op"}


def _cdc(tmp_path: Path, template: str = CDC, **changed: str) -> Lakehouse:
    text = template
    for word, value in {**CDC_OK, **changed}.items():
        text = text.replace(f"<{word}>", value)
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(text)
    lh.parquet("in", "a.parquet", pa.table({"id": [1, 2], "name": ["a", "b"], "op": ["U", "D"], "ts": [1, 2]}))
    return lh


@pytest.mark.parametrize(("changed", "said"), [
    ({"KEY": "user_id"}, "keys names 'user_id', not a column of main.silver.changes"),
    ({"EXCEPT": "opp"}, "except_column_list names 'opp'"),
    ({"SEQ": "tss"}, "sequence_by (tss) does not bind over main.silver.changes"),
    ({"DELETES": "operation = 'D'"}, "apply_as_deletes (operation = 'D') does not bind"),
    ({"RULE": "idd IS NOT NULL"}, "expectation 'has_id' does not bind"),
])
def test_auto_cdc_columns_and_expectations_bind_at_dry_run(tmp_path: Path, changed: dict[str, str], said: str) -> None:
    """What the run would refuse (an AUTO CDC column or an expectation naming no column) fails at dry-run."""
    dry_run(_cdc(tmp_path / "ok").project)  # the unchanged pipeline binds
    lh = _cdc(tmp_path / "bad", **changed)
    with pytest.raises(DefinitionError) as info:
        dry_run(lh.project)
    message = str(info.value)
    assert said in message and "p.sql:" in message and "__sl_" not in message, message
    assert not (lh.root / "lake" / "main").exists()  # nothing ran
    run = lh.run()  # the run, not stopped by dry-run, refuses it too
    assert not run.ok


CSV_PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw AS
SELECT * FROM STREAM read_files('${data}/in', format => 'csv', header => true);
CREATE OR REFRESH MATERIALIZED VIEW totals AS SELECT id, sum(amount_eur) AS total FROM raw GROUP BY id;
"""


def _csv(tmp_path: Path) -> Lakehouse:
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(CSV_PIPELINE)
    lh.text("in", "a.csv", "id,amount\n1,10\n2,-1\n")
    return lh


def test_an_unknown_column_over_csv_files_fails_at_dry_run(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="amount_eur"):
        dry_run(_csv(tmp_path).project)


def test_a_run_time_binding_failure_names_no_internal_relation(tmp_path: Path) -> None:
    """What dry-run cannot bind fails at run time, in the user's terms."""
    lh = _csv(tmp_path)
    result = lh.run()
    assert not result.ok
    messages = [str(e["message"]) + str(e["error"] or "") for e in lh.events()]
    failed = [m for m in messages if "amount_eur" in m]
    assert failed, messages
    assert not any(re.search(r"__sl_|__[ka]\d", m) for m in failed), failed


def _dry_run_message(lh: Lakehouse, *, valid: bool) -> str | None:
    """None when ``valid`` (dry-run passes and the update runs), else dry-run's error."""
    if valid:
        dry_run(lh.project)
        assert lh.run().ok
        return None
    with pytest.raises(DefinitionError) as info:
        dry_run(lh.project)
    return str(info.value)


SNAPSHOT_PY = '''
from pyspark import pipelines as dp

dp.create_streaming_table("dim")
dp.create_auto_cdc_from_snapshot_flow(target="dim", source="snap", keys=[KEY], stored_as_scd_type=2)
'''


@pytest.mark.parametrize("key", ["id", "idx"])
def test_snapshot_keys_bind_at_dry_run(tmp_path: Path, key: str) -> None:
    lh = Lakehouse(tmp_path / "proj")
    lh.config(libraries=["pipelines/*.sql", "pipelines/*.py"])
    lh.sql("CREATE OR REFRESH MATERIALIZED VIEW snap AS SELECT * FROM read_files('${data}/snap', format => 'parquet');")
    (lh.root / "pipelines" / "dim.py").write_text(SNAPSHOT_PY.replace("KEY", repr(key)), encoding="utf-8")
    lh.parquet("snap", "s.parquet", [{"id": 1, "plan": "free"}])
    message = _dry_run_message(lh, valid=key == "id")
    if message is not None:
        assert "dim.py:5" in message and "keys names 'idx', not a column of main.silver.snap" in message
        assert not lh.run().ok  # the run refuses it too


CDC_READER = CDC + """
CREATE OR REFRESH MATERIALIZED VIEW current_names AS
SELECT id, <READ> AS name, __START_AT AS since FROM users WHERE __END_AT IS NULL;
"""


@pytest.mark.parametrize("read", ["name", "nickname"])
def test_what_reads_an_auto_cdc_target_binds_before_its_first_update(tmp_path: Path, read: str) -> None:
    """The target's schema follows from its source (chosen columns, SCD2 columns typed by the
    sequence), so a query over it binds at dry-run as on Databricks."""
    lh = _cdc(tmp_path, CDC_READER.replace("<READ>", read))
    message = _dry_run_message(lh, valid=read == "name")
    if message is None:
        return
    assert "nickname" in message and "current_names" in message and "p.sql:8" in message, message
    assert "__sl_" not in message
    assert not (lh.root / "lake" / "main").exists()


COLUMNS_PY = '''
import dlt

@dlt.table
def without_id():
    df = dlt.read("raw")
    return df.select([c for c in df.columns if c != "id"])
'''


def test_python_columns_of_a_dataset_come_from_its_definition_before_its_first_update(tmp_path: Path) -> None:
    """``dlt.read("raw").columns`` in a dataset function: raw's bound columns (on Databricks the
    graph is analysed before anything runs), not an error because raw has no table yet."""
    lh = Lakehouse(tmp_path / "proj")
    lh.config(libraries=["pipelines/*.sql", "pipelines/*.py"])
    lh.sql(PIPELINE.split("\n")[1], name="a.sql")  # raw, loaded before the Python file
    lh.parquet("in", "a.parquet", pa.table({"id": [1, 2], "amount": [10, -1]}))
    (lh.root / "pipelines" / "b.py").write_text(COLUMNS_PY, encoding="utf-8")
    dry_run(lh.project)
    assert lh.run().ok
    assert lh.rows("SELECT * FROM without_id ORDER BY amount") == [
        {"amount": -1, "_rescued_data": None}, {"amount": 10, "_rescued_data": None}]
    # the same function over a column the definition does not give fails at dry-run, naming the line
    (lh.root / "pipelines" / "b.py").write_text(COLUMNS_PY.replace('[c for c', '["amount_eur"] + [c for c'),
                                                encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"amount_eur.*") as info:
        dry_run(lh.project)
    assert "b.py:" in str(info.value) and "__sl_" not in str(info.value)


def test_reference_project_schemas_bound_at_dry_run_are_the_schemas_the_run_writes(tmp_path: Path) -> None:
    """Every dataset of the reference project, bound as on a lake with bronze files and no
    table yet (silver, gold AUTO CDC targets, marts), has exactly the columns and types the
    update then writes."""
    from soundlake.lake import delta
    from soundlake.pipeline.binding import bind_columns
    from soundlake.pipeline.context import dataset_uri
    from soundlake.pipeline.sql.settings import SparkSqlSettings
    from soundlake.project.ingest_ops import run_ingest
    from soundlake.project.pipeline_ops import load_graph, make_engine, plan_for, run
    from tests.reliability.refproj import new_project

    project = new_project(tmp_path / "ref")
    run_ingest(project)
    plan = plan_for(project, load_graph(project))
    engine = make_engine(project, "duckdb")
    try:
        bound = bind_columns(plan, engine, catalog=project.config.catalog, schema=project.config.schema_,
                             base_dir=project.root, stored=lambda _: None,
                             settings=SparkSqlSettings.from_conf(project.config.pipeline_configuration))
    finally:
        engine.close()
    assert run(project).ok
    tables = [fp.target for fp in plan.flows if fp.kind != "view"]
    assert set(tables) <= set(bound), set(tables) - set(bound)  # every table was bound
    for table in tables:
        written = delta.table_schema(dataset_uri(project.lake, project.config.name, table, plan.datasets),
                                     project.lake.storage_options)
        assert written is not None
        assert [(f.name, f.type) for f in bound[table]] == [(f.name, f.type) for f in written], table
