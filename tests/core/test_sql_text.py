"""Identifier and literal quoting of generated SQL, checked by the engines that parse it."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from soundlake.core.sql_text import (
    duckdb_identifier,
    quote_identifier,
    spark_identifier,
    string_literal,
    value_literal,
)


@pytest.mark.parametrize("name", ["plain", "with space", 'dq"inside', "bt`inside", "sq'inside", "Ünïcode"])
def test_duckdb_reads_back_every_quoted_name_and_literal(name: str) -> None:
    con = duckdb.connect()
    row = con.sql(f"SELECT {string_literal(name)} AS {duckdb_identifier(name)}")
    assert row.fetchall() == [(name,)]
    assert row.columns == [name]
    assert quote_identifier(name, "duckdb") == duckdb_identifier(name)


def test_spark_identifier_doubles_backticks() -> None:
    assert spark_identifier("a`b") == "`a``b`"
    assert quote_identifier("a`b", "spark") == "`a``b`"


def test_value_literals() -> None:
    con = duckdb.connect()
    for value in (7, 2.5, "it's", dt.date(2026, 12, 3), dt.datetime(2026, 12, 3, 4, 5, 6, 7)):
        text = value_literal(value)
        assert text is not None
        assert con.sql(f"SELECT {text}").fetchall() == [(value,)]
    assert value_literal(True) is None
    assert value_literal(object()) is None
