"""Whether a query's result can change while its inputs stay the same.

A materialized view is skipped when its inputs and definition are unchanged, unless its
query calls a function whose value changes from run to run (the clock, random numbers,
ids). The check looks at the parsed function calls, never at substrings, so a column named
``brand`` or ``grand_total`` does not count.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

NONDETERMINISTIC_FUNCTIONS = frozenset({
    "current_date", "current_timestamp", "current_time", "current_timezone", "current_user",
    "localtimestamp", "now", "curdate", "getdate", "unix_timestamp", "rand", "randn", "random",
    "uuid", "shuffle", "monotonically_increasing_id", "spark_partition_id", "input_file_name",
})
"""Spark SQL functions whose value can differ between two runs over the same rows."""

_BARE_KEYWORDS = frozenset({"current_date", "current_timestamp", "current_time", "localtimestamp"})


def _name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def is_nondeterministic(sql: str) -> bool:
    """True when ``sql`` (Spark SQL) calls a function in :data:`NONDETERMINISTIC_FUNCTIONS`.

    ``unix_timestamp`` counts only without arguments (the current time). A query that does
    not parse is treated as nondeterministic: recomputing is always correct.
    """
    try:
        trees = sqlglot.parse(sql, read="spark")
    except SqlglotError:
        return True
    for tree in trees:
        if tree is None:
            continue
        for node in tree.find_all(exp.Func):
            name = _name(node)
            if name == "unix_timestamp" and (node.args.get("this") is not None or node.expressions):
                continue
            if name in NONDETERMINISTIC_FUNCTIONS:
                return True
        for column in tree.find_all(exp.Column):
            if not column.table and column.name.lower() in _BARE_KEYWORDS and not column.this.quoted:
                return True
    return False
