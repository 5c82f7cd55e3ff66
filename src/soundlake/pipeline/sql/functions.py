"""Which Spark functions the DuckDB engine runs with Spark's results, and the dry-run check.

The conformance suite (``tests/conformance``) evaluates every covered Spark function on
real Spark and on soundlake's DuckDB path, in both ANSI modes; ``scripts/spark_functions.py``
writes the outcome to ``spark_functions.json`` next to this module (and the table in
``docs/spark-functions.md``). A test re-runs the suite and fails when the file is stale.

Statuses:

- ``equal``: same values and result types on every case;
- ``limited``: same values where both engines return one, but soundlake fails loudly on
  some inputs where Spark returns a value (never wrong data, an error instead);
- ``refused``: a silent difference was found (or the function is not covered): a query on
  the DuckDB engine that calls it fails at dry-run, naming the function, file and line.

Databricks platform functions (``ai_*``, ``vector_search``, ...) are not Spark functions
and are refused the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.errors import SqlglotError

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.dialect import SPARK_SQL
from soundlake.pipeline.sql.naming import spark_name
from soundlake.pipeline.sql.refusal import HINT

REGISTRY = Path(__file__).with_name("spark_functions.json")

PLATFORM_PREFIXES = ("ai_", "h3_", "vector_")
PLATFORM_FUNCTIONS = frozenset({
    "vector_search", "http_request", "read_kafka", "read_kinesis", "read_pubsub", "read_pulsar",
    "secret", "try_secret", "is_member", "is_account_group_member", "current_metastore",
    "current_recipient", "event_log", "read_statestore", "read_state_metadata", "recursive_cte",
    "ai_query", "ai_gen", "ai_classify", "ai_extract", "ai_summarize", "ai_translate", "ai_mask",
    "ai_similarity", "ai_analyze_sentiment", "ai_fix_grammar", "ai_forecast", "ai_parse_document",
})
"""Databricks platform functions: served by the workspace, not by Spark."""

_NOT_CALLS = frozenset({"stream", "read_files", "cloud_files", "table", "values", "in", "over", "using"})
"""Words followed by ``(`` that are not function calls checked here (reads, clauses)."""

_CALL_TOKENS = frozenset({TokenType.VAR, TokenType.LEFT, TokenType.RIGHT, TokenType.EXISTS,
                          TokenType.REPLACE, TokenType.FIRST, TokenType.FILTER})


@dataclass(frozen=True)
class FunctionStatus:
    """One Spark function's status on the DuckDB engine (see the module docstring)."""

    name: str
    status: str
    note: str = ""
    names: bool = True


@lru_cache(maxsize=1)
def registry() -> Mapping[str, FunctionStatus]:
    """Every Spark built-in function by lower-case name, with its status."""
    data = json.loads(REGISTRY.read_text(encoding="utf-8"))
    return {
        name: FunctionStatus(name, entry["status"], entry.get("note", ""), entry.get("names", True))
        for name, entry in data["functions"].items()
    }


@dataclass(frozen=True)
class Call:
    """A function call written in SQL text: its name (lower case) and line (1-based)."""

    name: str
    line: int


def calls(sql: str) -> Iterator[Call]:
    """The function calls in Spark SQL text, in order (a name followed by ``(``)."""
    try:
        tokens = sqlglot.tokenize(sql, read=SPARK_SQL)
    except SqlglotError:
        return
    for k, token in enumerate(tokens[:-1]):
        if tokens[k + 1].token_type != TokenType.L_PAREN or token.token_type not in _CALL_TOKENS:
            continue
        if _is_clause(tokens, k):
            continue
        yield Call(token.text.lower(), token.line)


def _is_clause(tokens: list[Token], k: int) -> bool:
    word = tokens[k].text.lower()
    if word in _NOT_CALLS:
        return True
    after = tokens[k + 2] if k + 2 < len(tokens) else None
    if word == "exists" and after is not None and after.token_type in (TokenType.SELECT, TokenType.WITH):
        return True
    if word == "filter" and k > 0 and tokens[k - 1].token_type == TokenType.R_PAREN:
        return True  # aggregate FILTER (WHERE ...)
    previous = tokens[k - 1] if k > 0 else None
    # a dotted name (schema.function or a struct field) is not a built-in call
    return previous is not None and previous.token_type == TokenType.DOT


PLATFORM_HINT = "it runs once the pipeline is deployed to Databricks (soundlake bundle); locally, remove or replace the call"


def platform_refusal(call: Call) -> str | None:
    """Why no local engine runs ``call`` (a Databricks platform function), or None."""
    name = call.name
    if name in PLATFORM_FUNCTIONS or name.startswith(PLATFORM_PREFIXES):
        return f"{name}() is a Databricks platform function, served by the workspace, not by Apache Spark"
    return None


def refusal(call: Call) -> str | None:
    """Why the DuckDB engine refuses ``call``, or None when it runs it like Spark."""
    platform = platform_refusal(call)
    if platform is not None:
        return platform
    name = call.name
    known = registry().get(name)
    if known is None:
        return None  # not a Spark built-in: a user function, or an error the engine reports
    if known.status == "refused":
        why = f" ({known.note})" if known.note else ""
        return f"{name}() does not give Spark's result on the DuckDB engine{why}"
    return None


def check_sql(sql: str, location: SourceLocation, *, what: str = "query", platform_only: bool = False) -> None:
    """Refuse the first call in ``sql`` the DuckDB engine cannot run like Spark.

    With ``platform_only`` (engines that run Spark itself) only Databricks platform
    functions are refused: no local engine has them.

    Raises:
        DefinitionError: naming the function, the file and line, with a hint.
    """
    for call in calls(sql):
        why, hint = platform_refusal(call), PLATFORM_HINT
        if why is None and not platform_only:
            why, hint = refusal(call), HINT
        if why is not None:
            line = location.line + call.line - 1 if location.line else call.line
            where = SourceLocation(location.file, line, location.statement)
            raise DefinitionError(f"{where}: {what}: {why}", hint=hint)


def unnamed_columns(sql: str) -> list[str]:
    """Result columns of ``sql`` without an alias whose Spark name soundlake cannot prove.

    Un-aliased expressions get Spark's name on DuckDB only where ``naming.spark_name``
    knows it and every function inside names its column as on Spark (the registry's
    ``names``); the rest are listed so the user can add ``AS name``.
    """
    try:
        tree = sqlglot.parse_one(sql, read=SPARK_SQL)
    except SqlglotError:
        return []
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return []
    known = registry()
    unproven: list[str] = []
    for projection in select.expressions:
        if isinstance(projection, (exp.Alias, exp.Column, exp.Star, exp.Dot)):
            continue
        text = projection.sql(SPARK_SQL)
        named = spark_name(projection) is not None
        if not named or any(not known[c.name].names for c in calls(text) if c.name in known):
            unproven.append(text)
    return unproven
