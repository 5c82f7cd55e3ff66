"""Spark's names for un-aliased select expressions, given on every engine.

Spark names ``SELECT count(*), a + 1, upper(s) FROM t`` columns ``count(1)``, ``(a + 1)``
and ``upper(s)``; DuckDB would name them ``count_star()``, ``(a + 1)`` and ``upper(s)``.
Before a query is written for another dialect, every un-aliased expression in a select
list gets Spark's name as its alias, so tables and query results carry the same column
names on every engine (proven against Spark in the parity tests).
"""

from __future__ import annotations

from sqlglot import exp

_BINARY_SQL: dict[type[exp.Expr], str] = {
    exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%",
    exp.EQ: "=", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
    exp.And: "AND", exp.Or: "OR", exp.NullSafeEQ: "<=>", exp.DPipe: "||",
    exp.BitwiseAnd: "&", exp.BitwiseOr: "|", exp.BitwiseXor: "^",
}


_FUNCTIONS: dict[type[exp.Expr], str] = {
    exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max", exp.Upper: "upper",
    exp.Lower: "lower", exp.Abs: "abs", exp.Round: "round", exp.Length: "length",
    exp.Coalesce: "coalesce", exp.Concat: "concat",
}
"""Functions whose Spark name is ``name(arg, ...)`` with the arguments as written."""


def spark_name(node: exp.Expr) -> str | None:
    """The column name Spark gives the un-aliased expression ``node``, or None when unsure.

    Covers columns, literals, ``count``, the functions of ``_FUNCTIONS``, arithmetic,
    comparisons, ``AND``/``OR``/``NOT``, ``IS NULL``, ``CAST`` and ``CASE``; anything
    else keeps the engine's own name (tracked in the conformance work).
    """
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Null):
        return "NULL"
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Paren):
        return spark_name(node.this)
    if isinstance(node, exp.Count):
        arg = node.this
        if arg is None or isinstance(arg, exp.Star):
            return "count(1)"
        if isinstance(arg, exp.Distinct):
            return _call("count(DISTINCT ", arg.expressions, ")")
        return _call("count(", [arg], ")")
    op = _BINARY_SQL.get(type(node))
    if op is not None:
        left, right = spark_name(node.this), spark_name(node.args["expression"])
        return None if left is None or right is None else f"({left} {op} {right})"
    if isinstance(node, (exp.Not, exp.Neg)):
        inner = spark_name(node.this)
        return None if inner is None else f"({'NOT' if isinstance(node, exp.Not) else '-'} {inner})"
    if isinstance(node, exp.Is) and isinstance(node.args.get("expression"), exp.Null):
        inner = spark_name(node.this)
        return None if inner is None else f"({inner} IS NULL)"
    if isinstance(node, exp.Cast):
        if isinstance(node.this, exp.Column):
            return node.this.name  # Spark 4 names a cast column by the column
        inner = spark_name(node.this)
        return None if inner is None else f"CAST({inner} AS {node.args['to'].sql(dialect='spark')})"
    if isinstance(node, exp.Case) and node.this is None:
        parts = []
        for when in node.args["ifs"]:
            cond, then = spark_name(when.this), spark_name(when.args["true"])
            if cond is None or then is None:
                return None
            parts.append(f"WHEN {cond} THEN {then}")
        default = node.args.get("default")
        if default is not None:
            other = spark_name(default)
            if other is None:
                return None
            parts.append(f"ELSE {other}")
        return f"CASE {' '.join(parts)} END"
    name = _FUNCTIONS.get(type(node))
    if name is not None:
        args = _arguments(node)
        if isinstance(node, exp.Round) and node.args.get("decimals") is None:
            args.append(exp.Literal.number(0))  # Spark names round(x) ``round(x, 0)``
        return _call(f"{name}(", args, ")")
    return None


def _call(head: str, args: list[exp.Expr], tail: str) -> str | None:
    names = [spark_name(a) for a in args]
    if any(n is None for n in names):
        return None
    return head + ", ".join(n for n in names if n is not None) + tail


def _arguments(node: exp.Expr) -> list[exp.Expr]:
    out: list[exp.Expr] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            out.extend(v for v in value if isinstance(v, exp.Expr))
        elif isinstance(value, exp.Expr):
            out.append(value)
    return out


def name_like_spark(tree: exp.Expr) -> exp.Expr:
    """Alias every un-aliased, non-column expression of every select list by Spark's name."""
    for select in tree.find_all(exp.Select):
        named: list[exp.Expr] = []
        for projection in select.expressions:
            if isinstance(projection, (exp.Alias, exp.Column, exp.Star)):
                named.append(projection)
                continue
            name = spark_name(projection)
            named.append(projection if name is None else exp.alias_(projection, name, quoted=True))
        select.set("expressions", named)
    return tree
