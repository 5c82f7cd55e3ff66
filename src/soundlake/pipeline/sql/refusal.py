"""Refusing, while a query is translated for DuckDB, what DuckDB would not compute like Spark.

Most refusals are per function (:mod:`functions`, from the conformance registry). Some
depend on argument types, known only once the query is typed (``/`` of decimals whose
exact quotient does not fit DuckDB's 128-bit integers, a DATE minus a DATE, a complex
value cast to text): the translation raises :class:`NotLikeSpark`, and dry-run and run
name the flow or expectation, its file and line.
"""

from __future__ import annotations

from typing import NoReturn

from sqlglot import exp

from soundlake.core.errors import DefinitionError

HINT = "run this pipeline with --engine spark (or rewrite the expression)"


class NotLikeSpark(DefinitionError):
    """A construct the DuckDB engine cannot compute exactly as Spark does."""


def refuse(node: exp.Expr, why: str) -> NoReturn:
    """Raise :class:`NotLikeSpark` for ``node`` (shown in Spark SQL) and the reason."""
    raise NotLikeSpark(f"`{node.sql('databricks')}` is refused on the DuckDB engine: {why}", hint=HINT)
