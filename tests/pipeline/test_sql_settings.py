"""Spark SQL settings on the DuckDB engine: ANSI mode from configuration, SET and spark_conf."""

from __future__ import annotations

import pytest

from soundlake.core.errors import DefinitionError
from tests.pipeline.conftest import Lakehouse, statuses

VIEW = "CREATE OR REFRESH MATERIALIZED VIEW t AS SELECT CAST(s AS INT) AS n FROM VALUES ('7'), ('x') AS v(s);"


def test_ansi_mode_by_default_fails_an_invalid_cast(lakehouse: Lakehouse) -> None:
    lakehouse.sql(VIEW)
    result = lakehouse.run()
    assert statuses(result) == {"t": "FAILED"}


def test_configuration_turns_ansi_off_and_the_cast_gives_null(lakehouse: Lakehouse) -> None:
    lakehouse.config(configuration={"spark.sql.ansi.enabled": "false"})
    lakehouse.sql(VIEW)
    assert statuses(lakehouse.run()) == {"t": "COMPLETED"}
    assert sorted(r["n"] or 0 for r in lakehouse.rows("SELECT n FROM t")) == [0, 7]


def test_set_in_a_sql_file_applies_to_the_definitions_after_it(lakehouse: Lakehouse) -> None:
    lakehouse.sql("SET spark.sql.ansi.enabled = false;\n" + VIEW)
    assert statuses(lakehouse.run()) == {"t": "COMPLETED"}
    assert sorted(r["n"] or 0 for r in lakehouse.rows("SELECT n FROM t")) == [0, 7]


def test_a_flow_time_zone_other_than_the_pipelines_is_refused(lakehouse: Lakehouse) -> None:
    lakehouse.sql("SET spark.sql.session.timeZone = 'America/New_York';\n" + VIEW)
    with pytest.raises(DefinitionError, match="timeZone"):
        lakehouse.run()
