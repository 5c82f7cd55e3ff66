"""The PySpark-style DataFrame API against real PySpark: same values, types and column names.

Every case of ``tests/conformance/frames.py`` runs with real ``pyspark.sql.functions`` on a
Spark DataFrame of the conformance input rows and with soundlake's frame on the DuckDB
engine (as a pipeline flow runs it), in both ANSI modes. A silent difference (another
value, type or column name, or a value where Spark fails) fails the test unless
:data:`KNOWN` lists the case with its reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance import frames, runner

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:Deprecated in 3.2:FutureWarning"),  # F.sumDistinct is a case
]

_REFUSED = "the registry marks the function refused: dry-run refuses it on the DuckDB engine"
_COLUMN_ORDER = (
    "columns unknown while the definition loads: the frame selects every other column with "
    "DuckDB's COLUMNS(...) and adds the new one last, where Spark keeps its place "
    "(documented in frame/dataframe.py; select() the columns first to keep Spark's order)"
)

KNOWN: dict[str, str] = {
    # -- differences of the shared SQL translation (the same SQL text differs as a query) --
    'F.reverse("a")': f"reverse of an ARRAY gives a STRING; {_REFUSED}",
    'F.format_string("%s-%d", "s", "i")': f"Java format patterns are not translated; {_REFUSED}",
    'F.to_json("st")': f"a struct with NULL fields is written differently; {_REFUSED}",
    'F.isnan("d")': f"isnan(NULL) is NULL here, false in Spark; {_REFUSED}",
    'F.exp("i")': f"DuckDB's exp differs in the last digit; {_REFUSED}",
    'F.log10("i")': f"log of 0 and of negatives gives -inf / NaN here, NULL in Spark; {_REFUSED}",
    'F.log2("i")': f"log of 0 and of negatives gives -inf / NaN here, NULL in Spark; {_REFUSED}",
    'F.ln("d")': f"log of 0 and of negatives gives -inf / NaN here, NULL in Spark; {_REFUSED}",
    'F.signum("i")': f"sign of an INT is a TINYINT here, a DOUBLE in Spark; {_REFUSED}",
    'F.day("dt")': f"day() is a BIGINT here, an INT in Spark; {_REFUSED}",
    'F.second("ts")': f"second() is a BIGINT here, an INT in Spark; {_REFUSED}",
    'F.months_between("ts", "dt")': f"fractions of a month are computed by days only; {_REFUSED}",
    'F.months_between("ts", "dt", False)': f"fractions of a month are computed by days only; {_REFUSED}",
    'F.to_utc_timestamp("ts", "Europe/Paris")': f"historic zone offsets differ; {_REFUSED}",
    'F.from_utc_timestamp("ts", "America/New_York")': f"gives a TIMESTAMP_NTZ; {_REFUSED}",
    'F.hash("s")': f"DuckDB's hash is not Spark's murmur3 (UBIGINT, not INT); {_REFUSED}",
    'F.size("a")': f"size(NULL) is -1 in Spark without ANSI, NULL here; {_REFUSED}",
    'F.array_contains("a", 1)': f"an array holding NULL without the value gives false here, NULL in Spark; {_REFUSED}",
    'F.array_distinct("a")': f"the elements come back in another order; {_REFUSED}",
    # -- frame-level differences that need the input's types, unknown while definitions load --
    'df.groupBy("b").min("s")': (
        "GroupedData.min/max/sum/avg of a non-numeric column is an analysis error in Spark; "
        "the frame does not know column types while the definition loads and computes it"
    ),
    'df.withColumn("i", F.col("i") % 3)': _COLUMN_ORDER,
    'df.withColumnRenamed("s", "str")': _COLUMN_ORDER,
}
"""Cases known to differ silently from PySpark (in one mode or both), with the reason."""


@pytest.fixture(scope="module")
def verdicts(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> list[runner.Verdict]:
    from soundlake.engines.duckdb.engine import DuckDBEngine
    from tests.conformance import inputs

    data = inputs.write(tmp_path_factory.mktemp("frames") / "rows.parquet")
    engine = DuckDBEngine()
    try:
        return frames.run_suite(spark, engine, data)
    finally:
        engine.close()


def _silent(found: list[runner.Verdict]) -> list[runner.Verdict]:
    return [v for v in found if v.kind == runner.SILENT or v.name is not None]


def test_the_frame_gives_pyspark_values_types_and_names(verdicts: list[runner.Verdict]) -> None:
    unexplained = [f"{v.expression} ({v.mode}): {v.detail or v.name}" for v in _silent(verdicts) if v.expression not in KNOWN]
    assert unexplained == [], "silent differences from PySpark:\n" + "\n".join(unexplained)


def test_every_known_difference_still_differs(verdicts: list[runner.Verdict]) -> None:
    """An entry of KNOWN that now equals PySpark must be removed (the fix is then proven)."""
    differing = {v.expression for v in _silent(verdicts)}
    assert sorted(set(KNOWN) - differing) == []


def test_function_differences_are_refused_at_dry_run(verdicts: list[runner.Verdict]) -> None:
    """A function whose case differs silently must be refused by dry-run on the DuckDB engine."""
    from soundlake.pipeline.sql.functions import registry

    labels = {c.label: c.key for group in frames.cases().values() for c in group}
    quiet = sorted(
        {labels[v.expression] for v in _silent(verdicts) if "." not in labels[v.expression]}
        - {name for name, entry in registry().items() if entry.status == "refused"}
    )
    assert quiet == [], f"functions that differ but pass the dry-run check (mark them refused): {quiet}"


def test_every_frame_function_has_cases() -> None:
    """Each public function of soundlake's frame ``functions`` module, or the reason it has none."""
    missing = frames.public_functions() - frames.covered_functions() - set(frames.NOT_CASES)
    assert sorted(missing) == []
