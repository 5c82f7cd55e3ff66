"""Spark Structured Streaming's analyzer rules, checked on every streaming flow before anything runs.

soundlake runs each micro-batch of a streaming flow as a batch query (on both engines), so
it could compute queries that Spark's streaming analyzer refuses
(``UnsupportedOperationChecker`` and ``CheckAnalysis``): a project would run locally and
fail once bundled to Databricks. This module walks the parsed Spark SQL of each flow that
reads a stream (``STREAM(...)``, ``STREAM read_files(...)``, ``spark.readStream``) the way
Spark's checker walks the logical plan (bottom-up, each relation knowing whether it is
streaming) and refuses, with Spark's error class, what Spark refuses for a streaming table,
whose flows run in **append** output mode:

- ``INVALID_SUBQUERY_EXPRESSION.STREAMING_QUERY``: a stream read inside a subquery
  expression (``IN (SELECT ...)``, ``EXISTS``, a scalar subquery);
- ``STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION``: an aggregation over a stream (``GROUP
  BY``, an aggregate function, ``SELECT DISTINCT``, ``UNION`` without ``ALL``): append mode
  needs a watermark on the grouping, which pipeline SQL cannot declare here;
- ``NON_TIME_WINDOW_NOT_SUPPORTED_IN_STREAMING``: a window function (``... OVER (...)``,
  e.g. ``QUALIFY row_number() OVER (PARTITION BY ...) = 1``) over a stream;
- ``_LEGACY_ERROR_TEMP_3102`` (Spark's unsupported-operation messages): sorting (``ORDER
  BY``, ``SORT BY``, ``CLUSTER BY``), ``OFFSET``, sampling (``TABLESAMPLE`` by percent or
  bucket), a ``UNION`` of a stream and a batch query, ``EXCEPT`` with a stream on the
  right, ``INTERSECT`` with a stream, outer, semi and anti joins with the stream on the
  side Spark refuses (a stream-stream outer or semi join needs watermarks).

Allowed, as in Spark: projections, filters, ``LIMIT`` (``TABLESAMPLE (n ROWS)``), inner and
cross joins (also stream-stream), a stream ``LEFT [OUTER|SEMI|ANTI] JOIN`` a batch query
(and ``RIGHT`` with the stream on the right), ``UNION ALL`` of streams, ``EXCEPT`` of a batch
query, batch subqueries, ``LATERAL VIEW``, generators. Each rule is proven against real
Spark (``tests/engines/spark/test_streaming_rules_spark.py``).

Python DataFrame flows are checked on the Spark SQL their DataFrame renders, with two
differences: ``dropDuplicates`` and ``distinct`` are Spark's streaming deduplication
(allowed), and stream-stream outer joins are not refused, because ``withWatermark`` (which
makes them valid in append mode) leaves no trace in the rendered SQL. Aggregations are
refused as in SQL: without a watermark Spark refuses them, and with ``withWatermark``
Spark emits each group once the watermark passes it, which soundlake's micro-batches
(each run as a batch query) do not reproduce.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlglot import exp

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import QueryFlow
from soundlake.pipeline.graph import Graph
from soundlake.pipeline.sql.query import READ_DIALECT, parse_query

SUBQUERY = "INVALID_SUBQUERY_EXPRESSION.STREAMING_QUERY"
OUTPUT_MODE = "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION"
NON_TIME_WINDOW = "NON_TIME_WINDOW_NOT_SUPPORTED_IN_STREAMING"
UNSUPPORTED = "_LEGACY_ERROR_TEMP_3102"

SORT = "Sorting is not supported on streaming DataFrames/Datasets, unless it is on aggregated DataFrame/Dataset in Complete output mode"
OFFSET = "Offset is not supported on streaming DataFrames/Datasets"
SAMPLE = "Sampling is not supported on streaming DataFrames/Datasets"
UNION_MIXED = "Union between streaming and batch DataFrames/Datasets is not supported"
EXCEPT_RIGHT = "Except on a streaming DataFrame/Dataset on the right is not supported"
INTERSECT = "Intersect of streaming DataFrames/Datasets is not supported"
ANTI_RIGHT = "LeftAnti joins with a streaming DataFrame/Dataset on the right are not supported"

# Spark's own phases: subquery expressions fail in analysis, the output mode is checked
# before the operators, then the operators bottom-up.
_ANALYSIS, _OUTPUT_MODE, _OPERATOR = 0, 1, 2


@dataclass(frozen=True)
class StreamingRejection:
    """What Spark's streaming analyzer refuses: its error class, its message, the construct."""

    error_class: str
    message: str
    construct: str

    def describe(self) -> str:
        """One line: ``[CLASS] message (at: construct)``."""
        return f"[{self.error_class}] {self.message} (at: {self.construct})"


_HINTS = {
    NON_TIME_WINDOW: "de-duplicate or rank in a materialized view or with AUTO CDC (keys + SEQUENCE BY), "
    "not in the streaming table",
    OUTPUT_MODE: "aggregate in a materialized view over the streaming table",
    SORT: "drop the ORDER BY (a table has no order) or sort in a materialized view",
    SUBQUERY: "read the stream in FROM/JOIN, or the table in batch (without STREAM) in the subquery",
}


def check_streaming_flows(graph: Graph) -> None:
    """Check every query flow of ``graph`` that reads a stream (:func:`check_streaming_flow`).

    Raises:
        DefinitionError: for the first flow Spark Structured Streaming would refuse.
    """
    for node in graph.flows.values():
        if isinstance(node.flow, QueryFlow) and any(i.streaming for i in node.inputs):
            check_streaming_flow(node.flow)


def check_streaming_flow(flow: QueryFlow) -> None:
    """Refuse a streaming flow's query that Spark Structured Streaming refuses.

    A flow whose query reads no stream (or a Python function not yet rendered) passes.

    Raises:
        DefinitionError: naming the file and line, the flow, Spark's error class and
            message, the construct, and a hint.
    """
    if flow.sql is None:
        return
    found = streaming_rejection(flow.sql, dataframe=flow.native is not None)
    if found is None:
        return
    hint = _HINTS.get(found.message if found.error_class == UNSUPPORTED else found.error_class)
    raise DefinitionError(
        f"{flow.location}: flow '{flow.name}' reads a stream, and Spark Structured Streaming refuses its "
        f"query in append mode (a streaming table on Databricks): {found.describe()}",
        hint=hint or "see docs/pipeline-definitions.md, 'Streaming queries'",
    )


def streaming_rejection(sql: str, *, dataframe: bool = False) -> StreamingRejection | None:
    """The first error Spark's streaming analyzer gives ``sql`` in append mode, or None.

    ``dataframe``: the SQL a Python DataFrame rendered (see the module docstring).
    """
    tree = parse_query(sql)
    walker = _Walker(dataframe)
    walker.query(tree, {})
    if not walker.found:
        return None
    return min(walker.found, key=lambda f: (f[0], f[1]))[2]


def deduplicates_a_stream(sql: str) -> bool:
    """Whether a Python DataFrame's SQL de-duplicates a stream (``dropDuplicates``, ``distinct``).

    Spark keeps every key such a query has seen in its state (without a watermark, for
    ever); soundlake de-duplicates each micro-batch, so the plan warns about it.
    """
    walker = _Walker(True)
    walker.query(parse_query(sql), {})
    return walker.deduplicates


class _Walker:
    def __init__(self, dataframe: bool) -> None:
        self.dataframe = dataframe
        self.found: list[tuple[int, int, StreamingRejection]] = []
        self.deduplicates = False

    def _add(self, phase: int, error_class: str, message: str, node: exp.Expr) -> None:
        text = " ".join(node.sql(READ_DIALECT).split())
        text = text if len(text) <= 120 else text[:117] + "..."
        self.found.append((phase, len(self.found), StreamingRejection(error_class, message, text)))

    # --- queries -----------------------------------------------------------------

    def query(self, node: exp.Expr, ctes: Mapping[str, exp.CTE | bool]) -> bool:
        """Check a query bottom-up; return True when it is streaming."""
        scope = dict(ctes)
        with_ = node.args.get("with_") or node.args.get("with")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                scope[cte.alias_or_name.lower()] = cte
        if isinstance(node, exp.Subquery):
            return self.query(node.this, scope)
        if isinstance(node, exp.Select):
            streaming = self._select(node, scope)
        elif isinstance(node, exp.SetOperation):
            streaming = self._set_operation(node, scope)
        else:
            return False
        if streaming:
            self._modifiers(node)
        return streaming

    def _select(self, node: exp.Select, scope: dict[str, exp.CTE | bool]) -> bool:
        from_ = node.args.get("from_") or node.args.get("from")
        streaming = self._relation(from_.this, scope) if isinstance(from_, exp.From) else False
        for join in node.args.get("joins") or ():
            right = self._relation(join.this, scope)
            self._join(join, streaming, right)
            streaming = streaming or right
        for sub in _subqueries(node):
            if self.query(sub, scope):
                self._add(_ANALYSIS, SUBQUERY, "Invalid subquery: Streaming query is not allowed in subquery "
                          "expressions", sub)
        if not streaming:
            return False
        aggregation = _aggregation(node, distinct=not self.dataframe)
        if aggregation is not None:
            message = ("Invalid streaming output mode: append. This output mode is not supported for streaming "
                       "aggregations without watermark on streaming DataFrames/DataSets")
            if self.dataframe:  # withWatermark leaves no trace in the rendered SQL
                message += (". With withWatermark, Spark emits each group once the watermark passes it, which "
                            "soundlake does not reproduce (each micro-batch would append partial aggregates)")
            self._add(_OUTPUT_MODE, OUTPUT_MODE, message, aggregation)
        if self.dataframe and isinstance(node.args.get("distinct"), exp.Expr):
            self.deduplicates = True
        for window in _windows(node):
            if self.dataframe and _is_drop_duplicates(window):
                self.deduplicates = True
                continue
            self._add(_OPERATOR, NON_TIME_WINDOW, f"Window function is not supported in {window.this.sql(READ_DIALECT)}"
                      " on streaming DataFrames/Datasets. Structured Streaming only supports time-window "
                      "aggregation using the WINDOW function", window)
        return True

    def _set_operation(self, node: exp.SetOperation, scope: dict[str, exp.CTE | bool]) -> bool:
        left = self.query(node.this, scope)
        right = self.query(node.expression, scope)
        if isinstance(node, exp.Union):
            if left != right:
                self._add(_OPERATOR, UNSUPPORTED, UNION_MIXED, node)
            elif left and node.args.get("distinct") and not self.dataframe:
                self._add(_OUTPUT_MODE, OUTPUT_MODE, "Invalid streaming output mode: append. This output mode "
                          "is not supported for streaming aggregations without watermark on streaming "
                          "DataFrames/DataSets", node)
        elif isinstance(node, exp.Except) and right:
            self._add(_OPERATOR, UNSUPPORTED, EXCEPT_RIGHT, node)
        elif isinstance(node, exp.Intersect) and (left or right):
            self._add(_OPERATOR, UNSUPPORTED, INTERSECT, node)
        return left or right

    def _modifiers(self, node: exp.Expr) -> None:
        """ORDER BY / SORT BY / CLUSTER BY and OFFSET of a streaming query (above its windows)."""
        for key in ("order", "sort", "cluster"):
            if node.args.get(key) is not None:
                self._add(_OPERATOR, UNSUPPORTED, SORT, node.args[key])
                break
        if node.args.get("offset") is not None:
            self._add(_OPERATOR, UNSUPPORTED, OFFSET, node.args["offset"])

    # --- relations and joins -----------------------------------------------------

    def _relation(self, node: exp.Expr, scope: dict[str, exp.CTE | bool]) -> bool:
        if isinstance(node, exp.Stream):
            streaming = True
            self._sample(node.this, streaming)
            return True
        if isinstance(node, exp.Table):
            streaming = False
            if isinstance(node.this, exp.Identifier) and not node.db:
                streaming = self._cte(node.name.lower(), scope)
            self._sample(node, streaming)
            return streaming
        if isinstance(node, exp.Subquery):
            streaming = self.query(node.this, scope)
            self._sample(node, streaming)
            return streaming
        return False

    def _cte(self, name: str, scope: dict[str, exp.CTE | bool]) -> bool:
        found = scope.get(name)
        if isinstance(found, exp.CTE):  # checked where referenced, as Spark inlines it
            scope[name] = False  # a self-reference reads nothing new
            scope[name] = self.query(found.this, scope)
            return bool(scope[name])
        return bool(found)

    def _sample(self, node: exp.Expr, streaming: bool) -> None:
        sample = node.args.get("sample") if isinstance(node, exp.Expr) else None
        if streaming and isinstance(sample, exp.TableSample) and sample.args.get("rows") is None \
                and sample.args.get("size") is None:
            self._add(_OPERATOR, UNSUPPORTED, SAMPLE, sample)

    def _join(self, join: exp.Join, left: bool, right: bool) -> None:
        if not (left or right):
            return
        side = (join.side or "").upper()
        kind = (join.kind or "").upper()
        if kind == "ANTI":
            if right:
                self._add(_OPERATOR, UNSUPPORTED, ANTI_RIGHT, join)
            return
        if side == "FULL":
            if left and right:
                self._stream_stream(join, "FullOuter")
            else:
                where = "left" if left else "right"
                other = "right" if left else "left"
                self._add(_OPERATOR, UNSUPPORTED, f"FullOuter joins with streaming DataFrames/Datasets on the "
                          f"{where} and a static DataFrame/Dataset on the {other} is not supported", join)
            return
        if side == "LEFT":
            name = "LeftSemi" if kind == "SEMI" else "LeftOuter"
            if left and right:
                self._stream_stream(join, name)
            elif right:
                self._add(_OPERATOR, UNSUPPORTED, f"{name} join with a streaming DataFrame/Dataset on the right "
                          "and a static DataFrame/Dataset on the left is not supported", join)
            return
        if side == "RIGHT":
            if left and right:
                self._stream_stream(join, "RightOuter")
            elif left:
                self._add(_OPERATOR, UNSUPPORTED, "RightOuter join with a streaming DataFrame/Dataset on the left "
                          "and a static DataFrame/DataSet on the right not supported", join)

    def _stream_stream(self, join: exp.Join, name: str) -> None:
        if self.dataframe:
            return  # withWatermark leaves no trace in the rendered SQL
        self._add(_OPERATOR, UNSUPPORTED, f"Stream-stream {name} join between two streaming DataFrame/Datasets "
                  "is not supported without a watermark in the join keys, or a watermark on the nullable "
                  "side and an appropriate range condition", join)


# --- expressions of one SELECT (not descending into nested queries) -------------------

_OWN_ARGS = ("expressions", "where", "group", "having", "qualify", "order", "sort", "cluster", "distribute")


def _own_nodes(node: exp.Select) -> Iterator[exp.Expr]:
    """The expressions of ``node`` itself, stopping at nested queries (yielded, not entered)."""
    stack: list[exp.Expr] = []
    for key in (*_OWN_ARGS, "joins"):
        value = node.args.get(key)
        if key == "joins":
            stack.extend(j.args["on"] for j in value or () if j.args.get("on") is not None)
            continue
        if isinstance(value, list):
            stack.extend(v for v in value if isinstance(v, exp.Expr))
        elif isinstance(value, exp.Expr):
            stack.append(value)
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, exp.Query):
            continue
        stack.extend(current.iter_expressions())


def _subqueries(node: exp.Select) -> list[exp.Query]:
    return [n.this if isinstance(n, exp.Subquery) else n for n in _own_nodes(node)
            if isinstance(n, exp.Query) or (isinstance(n, exp.Subquery) and isinstance(n.this, exp.Query))]


def _aggregation(node: exp.Select, *, distinct: bool = True) -> exp.Expr | None:
    """The node making ``node`` an aggregation (GROUP BY, DISTINCT, an aggregate call), or None.

    ``distinct=False``: ``SELECT DISTINCT`` does not count (a DataFrame's ``distinct()`` is
    Spark's streaming de-duplication).
    """
    for key in ("group", "distinct") if distinct else ("group",):
        clause = node.args.get(key)
        if isinstance(clause, exp.Expr):
            return clause
    inside_window: set[int] = set()
    for n in _own_nodes(node):
        if isinstance(n, exp.Window):
            inside_window.update(id(d) for d in n.this.walk())
        elif isinstance(n, exp.AggFunc) and id(n) not in inside_window and not _in_query(n, node):
            return n
    having = node.args.get("having")
    return having if isinstance(having, exp.Expr) else None


def _in_query(n: exp.Expr, top: exp.Select) -> bool:
    parent = n.parent
    while parent is not None and parent is not top:
        if isinstance(parent, exp.Query):
            return True
        parent = parent.parent
    return False


def _windows(node: exp.Select) -> list[exp.Window]:
    return [n for n in _own_nodes(node) if isinstance(n, exp.Window) and not _in_query(n, node)]


def _is_drop_duplicates(window: exp.Window) -> bool:
    """``row_number() OVER (PARTITION BY k ORDER BY k)``: how the local DataFrame renders dropDuplicates."""
    if not isinstance(window.this, exp.RowNumber):
        return False
    keys = [p.sql(READ_DIALECT) for p in window.args.get("partition_by") or ()]
    order = window.args.get("order")
    ordered = [o.this.sql(READ_DIALECT) for o in order.expressions] if isinstance(order, exp.Order) else []
    return bool(keys) and keys == ordered
