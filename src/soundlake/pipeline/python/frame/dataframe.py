"""A PySpark-compatible DataFrame API that builds Spark SQL for the DuckDB engine.

Pipeline dataset functions written with PySpark (``spark.readStream.table(...)
.withColumn(...).dropDuplicates(...)``) run locally: the session here records each call
as Spark SQL (with sqlglot) instead of executing it. A dataset function's DataFrame
becomes SQL text whose inputs are ``STREAM(table)``, tables and ``read_files(...)``, so the
pipeline runtime executes it exactly like a SQL definition (on DuckDB, after transpiling).

Why not SQLFrame: SQLFrame 4.10 needs every table's schema before building a query (its
standalone session cannot read a pipeline table that does not exist yet) and pins
``sqlglot<30.30``, which conflicts with soundlake's sqlglot pin.

Semantics that differ from Spark (documented choices):

- Columns are not known while a definition loads. When a DataFrame's columns are unknown,
  ``withColumn`` of an existing name, ``withColumnRenamed`` and ``drop`` use DuckDB's
  ``COLUMNS(lambda ...)`` star, so the replaced/renamed column moves to the end (Spark
  keeps its position). After ``select``/``agg`` with named columns, columns are known and
  the SQL is plain Spark SQL that keeps Spark's column order.
- ``dropDuplicates(subset)`` keeps one row per key *within each batch* (not across
  batches with streaming state); ``withWatermark`` is accepted and ignored.
- Actions and writes (``collect``, ``count``, ``show``, ``toPandas``, ``write``,
  ``saveAsTable``, ...) are side effects that dataset functions must not perform: they
  raise a DefinitionError naming the call and the file. At a file's top level the reads
  ``collect``, ``first``, ``head``, ``take``, ``count``, ``isEmpty`` and ``toPandas`` (and
  ``columns`` / ``schema`` / ``dtypes`` anywhere) read the existing tables (:mod:`.reads`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa
from sqlglot import exp

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.python.frame import reads
from soundlake.pipeline.python.frame.column import (
    DIALECT,
    Column,
    call_site,
    column_ref,
    flatten,
    order_expr,
    parse_expression,
    ref_label,
    to_column,
    to_expr,
    unsupported,
)

_ALIASES = itertools.count()
SIDE_EFFECTS = frozenset(
    {
        "collect", "toPandas", "toArrow", "toLocalIterator", "show", "count", "take", "head",
        "first", "tail", "foreach", "foreachPartition", "write", "writeStream", "writeTo",
        "saveAsTable", "toTable", "save", "insertInto", "createOrReplaceTempView",
        "createTempView", "createGlobalTempView", "createOrReplaceGlobalTempView",
        "printSchema", "explain", "describe", "summary", "isEmpty", "rdd", "toJSON",
        "checkpoint", "localCheckpoint", "mapInPandas", "mapInArrow", "applyInPandas",
    }
)
_READS = frozenset({"collect", "first", "head", "take", "count", "isEmpty", "toPandas"})
"""Actions a pipeline file may run at its top level on existing tables (:mod:`.reads`)."""
_NO_OPS = frozenset({"cache", "persist", "unpersist", "repartition", "coalesce", "hint",
                     "repartitionByRange", "sortWithinPartitions", "withWatermark"})
_JOIN_KINDS = {
    "inner": ("", "INNER"), "cross": ("", "CROSS"), "left": ("LEFT", "OUTER"),
    "leftouter": ("LEFT", "OUTER"), "left_outer": ("LEFT", "OUTER"), "right": ("RIGHT", "OUTER"),
    "rightouter": ("RIGHT", "OUTER"), "right_outer": ("RIGHT", "OUTER"), "full": ("FULL", "OUTER"),
    "outer": ("FULL", "OUTER"), "fullouter": ("FULL", "OUTER"), "full_outer": ("FULL", "OUTER"),
    "semi": ("LEFT", "SEMI"), "leftsemi": ("LEFT", "SEMI"), "left_semi": ("LEFT", "SEMI"),
    "anti": ("LEFT", "ANTI"), "leftanti": ("LEFT", "ANTI"), "left_anti": ("LEFT", "ANTI"),
}


def _new_alias() -> str:
    return f"_sl_df{next(_ALIASES)}"


def reset_aliases() -> None:
    """Restart relation alias numbering (call before each dataset function: stable SQL)."""
    global _ALIASES
    _ALIASES = itertools.count()


class DataFrame:
    """A lazily built Spark SQL query with the PySpark DataFrame API.

    Attributes:
        query: The sqlglot query (Spark SQL).
        alias_name: The relation alias other DataFrames use to reference this one.
        known_columns: Output column names when known, else None.
        streaming: True when the query reads a stream (``readStream``).
    """

    def __init__(
        self,
        query: exp.Query,
        *,
        streaming: bool,
        known_columns: tuple[str, ...] | None = None,
        alias_name: str | None = None,
        hidden: frozenset[str] = frozenset(),
    ) -> None:
        self.query = query
        self.streaming = streaming
        self.known_columns = known_columns
        self.alias_name = alias_name or _new_alias()
        self._hidden = hidden

    # -- SQL ------------------------------------------------------------------------------

    def to_sql(self) -> str:
        """The query as Spark SQL text (Databricks dialect)."""
        return self.query.sql(dialect=DIALECT)

    @property
    def isStreaming(self) -> bool:
        """True when the DataFrame reads a stream."""
        return self.streaming

    # -- building blocks --------------------------------------------------------------------

    def _open_select(self) -> exp.Select | None:
        """This query, when further projection/filtering can be applied at its level."""
        q = self.query
        if not isinstance(q, exp.Select):
            return None
        blocked = ("group", "limit", "distinct", "qualify", "order", "having", "offset")
        if any(q.args.get(k) for k in blocked):
            return None
        if len(q.expressions) != 1 or not isinstance(q.expressions[0], exp.Star):
            return None
        return q

    def _wrapped(self) -> tuple[exp.Select, frozenset[str]]:
        """``SELECT * FROM (this) AS alias``, with the aliases that become invisible."""
        inner = self.query.copy()
        hidden = self._hidden | frozenset(_relation_aliases(inner))
        select = exp.Select(expressions=[exp.Star()]).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(self.alias_name)))
        )
        return select, hidden

    def _base(self) -> tuple[exp.Select, frozenset[str]]:
        open_select = self._open_select()
        if open_select is not None:
            return open_select.copy(), self._hidden
        return self._wrapped()

    def _derive(self, query: exp.Query, hidden: frozenset[str], columns: tuple[str, ...] | None) -> DataFrame:
        return DataFrame(query, streaming=self.streaming, known_columns=columns, hidden=hidden)

    def _fix(self, node: exp.Expr, hidden: frozenset[str]) -> exp.Expr:
        """Unqualify columns that name relations no longer visible after wrapping, and
        this DataFrame's own columns (``df.x`` / ``df["x"]`` in ``df.select(...)``)."""
        hidden = hidden | {self.alias_name}

        def strip(n: exp.Expr) -> exp.Expr:
            if isinstance(n, exp.Column) and n.table and n.table in hidden:
                return exp.column(n.this.copy())
            return n

        return node.copy().transform(strip)

    # -- projection -------------------------------------------------------------------------

    def select(self, *cols: Any) -> DataFrame:
        items = [_named(to_column(c)) for c in flatten(cols)]
        base, hidden = self._base()
        base.set("expressions", [self._fix(c.expr, hidden) for c in items])
        names = tuple(c.output_name or "" for c in items)
        known = names if all(names) else None
        return self._derive(base, hidden, known)

    def selectExpr(self, *exprs: str) -> DataFrame:
        return self.select(*[Column(parse_expression(e)) for e in flatten(exprs)])

    def withColumn(self, name: str, col: Column) -> DataFrame:
        return self.withColumns({name: col})

    def withColumns(self, mapping: Mapping[str, Column]) -> DataFrame:
        if not isinstance(mapping, Mapping):
            raise unsupported("withColumns with a non-dict argument")
        base, hidden = self._wrapped()
        values = {n: self._fix(to_expr(c), hidden) for n, c in mapping.items()}
        if self.known_columns is not None:
            lowered = {n.lower(): n for n in values}
            items: list[exp.Expr] = []
            for existing in self.known_columns:
                if existing.lower() in lowered:
                    new_name = lowered.pop(existing.lower())
                    items.append(exp.alias_(values[new_name], exp.to_identifier(new_name)))
                else:
                    items.append(exp.column(exp.to_identifier(existing)))
            items += [exp.alias_(values[n], exp.to_identifier(n)) for n in lowered.values()]
            known: tuple[str, ...] | None = tuple(i.alias_or_name for i in items)
        else:
            items = [_all_except(values)] + [exp.alias_(v, exp.to_identifier(n)) for n, v in values.items()]
            known = None
        base.set("expressions", items)
        return self._derive(base, hidden, known)

    def withColumnRenamed(self, existing: str, new: str) -> DataFrame:
        return self.withColumnsRenamed({existing: new})

    def withColumnsRenamed(self, mapping: Mapping[str, str]) -> DataFrame:
        base, hidden = self._wrapped()
        if self.known_columns is not None:
            lowered = {k.lower(): v for k, v in mapping.items()}
            items = [
                exp.alias_(exp.column(exp.to_identifier(c)), exp.to_identifier(lowered[c.lower()]))
                if c.lower() in lowered else exp.column(exp.to_identifier(c))
                for c in self.known_columns
            ]
            base.set("expressions", items)
            return self._derive(base, hidden, tuple(i.alias_or_name for i in items))
        values = {new: exp.column(exp.to_identifier(old)) for old, new in mapping.items()}
        items = [_all_except({old: None for old in mapping}, keep_names=values)]
        items += [exp.alias_(v, exp.to_identifier(n)) for n, v in values.items()]
        base.set("expressions", items)
        return self._derive(base, hidden, None)

    def drop(self, *cols: Any) -> DataFrame:
        names = []
        for c in flatten(cols):
            name = c if isinstance(c, str) else to_column(c).output_name
            if not name:
                raise unsupported("drop of an expression", "drop columns by name")
            names.append(name)
        base, hidden = self._wrapped()
        if self.known_columns is not None:
            drop = {n.lower() for n in names}
            keep = tuple(c for c in self.known_columns if c.lower() not in drop)
            base.set("expressions", [exp.column(exp.to_identifier(c)) for c in keep])
            return self._derive(base, hidden, keep)
        base.set("expressions", [_all_except({n: None for n in names})])
        return self._derive(base, hidden, None)

    def alias(self, name: str) -> DataFrame:
        return DataFrame(
            self.query, streaming=self.streaming, known_columns=self.known_columns,
            alias_name=name, hidden=self._hidden,
        )

    # -- filtering and ordering -------------------------------------------------------------

    def filter(self, condition: Any) -> DataFrame:
        cond = parse_expression(condition) if isinstance(condition, str) else to_expr(condition)
        base, hidden = self._base()
        base = base.where(self._fix(cond, hidden), copy=False)
        return self._derive(base, hidden, self.known_columns)

    where = filter

    def orderBy(self, *cols: Any, ascending: bool | list[bool] = True) -> DataFrame:
        items = flatten(cols)
        flags = ascending if isinstance(ascending, list) else [ascending] * len(items)
        orders = []
        for item, up in zip(items, flags):
            node = order_expr(item)
            if not up and isinstance(item, str):
                node = exp.Ordered(this=node.this, desc=True, nulls_first=False)
            orders.append(node)
        base, hidden = self._base()
        base.set("order", exp.Order(expressions=[self._fix(o, hidden) for o in orders]))
        return self._derive(base, hidden, self.known_columns)

    sort = orderBy

    def limit(self, n: int) -> DataFrame:
        base, hidden = self._wrapped()
        return self._derive(base.limit(n, copy=False), hidden, self.known_columns)

    def distinct(self) -> DataFrame:
        base, hidden = self._wrapped()
        return self._derive(base.distinct(copy=False), hidden, self.known_columns)

    def dropDuplicates(self, subset: Any = None) -> DataFrame:
        if subset is None:
            return self.distinct()
        keys = [to_expr(to_column(c)) for c in flatten([subset])]
        base, hidden = self._wrapped()
        number = exp.Window(
            this=exp.RowNumber(),
            partition_by=[k.copy() for k in keys],
            order=exp.Order(expressions=[exp.Ordered(this=k.copy(), nulls_first=True) for k in keys]),
        )
        base.set("qualify", exp.Qualify(this=exp.EQ(this=number, expression=exp.Literal.number(1))))
        return self._derive(base, hidden, self.known_columns)

    drop_duplicates = dropDuplicates
    dropDuplicatesWithinWatermark = dropDuplicates

    def dropna(self, how: str = "any", thresh: int | None = None, subset: Any = None) -> DataFrame:
        if thresh is not None or subset is None:
            raise unsupported("dropna without subset / with thresh", "pass subset=[columns]")
        checks = [to_column(c).isNotNull() for c in flatten([subset])]
        condition = checks[0]
        for check in checks[1:]:
            condition = (condition & check) if how == "any" else (condition | check)
        return self.filter(condition)

    def fillna(self, value: Any, subset: Any = None) -> DataFrame:
        from soundlake.pipeline.python.frame import functions as F

        if isinstance(value, Mapping):
            pairs = dict(value)
        elif subset is not None:
            pairs = {c: value for c in flatten([subset])}
        else:
            raise unsupported("fillna without subset", "pass subset=[columns] or a dict")
        return self.withColumns({c: F.coalesce(F.col(c), F.lit(v)) for c, v in pairs.items()})

    # -- combining --------------------------------------------------------------------------

    def join(self, other: DataFrame, on: Any = None, how: str | None = None) -> DataFrame:
        if not isinstance(other, DataFrame):
            raise unsupported("join with a non-DataFrame")
        kind = _JOIN_KINDS.get((how or "inner").lower().replace(" ", ""))
        if kind is None:
            raise DefinitionError(f"{call_site()}: unknown join type '{how}'")
        side, join_kind = kind
        left = self._as_relation()
        right = other._as_relation()
        args: dict[str, Any] = {"this": right}
        if side:
            args["side"] = side
        if join_kind in ("SEMI", "ANTI", "CROSS"):
            args["kind"] = join_kind
        if on is not None:
            items = on if isinstance(on, list) else [on]
            if all(isinstance(i, str) for i in items):
                args["using"] = [exp.to_identifier(i) for i in items]
            else:
                conds = [to_expr(i) for i in items]
                condition = conds[0]
                for c in conds[1:]:
                    condition = exp.And(this=condition, expression=c)
                args["on"] = condition
        select = exp.Select(expressions=[exp.Star()]).from_(left)
        select.append("joins", exp.Join(**args))
        hidden = self._hidden | other._hidden
        return DataFrame(select, streaming=self.streaming or other.streaming, hidden=hidden)

    def crossJoin(self, other: DataFrame) -> DataFrame:
        return self.join(other, how="cross")

    def _as_relation(self) -> exp.Expr:
        return exp.Subquery(this=self.query.copy(), alias=exp.TableAlias(this=exp.to_identifier(self.alias_name)))

    def union(self, other: DataFrame) -> DataFrame:
        query = exp.Union(this=self.query.copy(), expression=other.query.copy(), distinct=False)
        return DataFrame(query, streaming=self.streaming or other.streaming, known_columns=self.known_columns)

    unionAll = union

    def unionByName(self, other: DataFrame, allowMissingColumns: bool = False) -> DataFrame:
        if self.known_columns is None or other.known_columns is None or allowMissingColumns:
            raise unsupported(
                "unionByName on DataFrames whose columns are not known",
                "select() the columns of both sides first, or use union()",
            )
        return self.union(other.select(*self.known_columns))

    def groupBy(self, *cols: Any) -> GroupedData:
        return GroupedData(self, [to_column(c) for c in flatten(cols)])

    groupby = groupBy

    def agg(self, *exprs: Any) -> DataFrame:
        return self.groupBy().agg(*exprs)

    def transform(self, func: Callable[..., DataFrame], *args: Any, **kwargs: Any) -> DataFrame:
        return func(self, *args, **kwargs)

    # -- columns ----------------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """The column names: known from the calls that built the DataFrame, else read from
        the existing tables it reads (:mod:`.reads`)."""
        if self.known_columns is None:
            return list(self._schema("DataFrame.columns").names)
        return list(self.known_columns)

    @property
    def schema(self) -> Any:
        """The result's ``StructType``: from the definitions of the pipeline's datasets it reads,
        or from the existing tables."""
        return reads.struct_type(self._schema("DataFrame.schema"))

    def _schema(self, what: str) -> pa.Schema:
        from soundlake.pipeline.python.state import STATE

        state = STATE.get()
        return reads.schema(self.to_sql(), state.definitions() if state is not None else None,
                            what=what, where=call_site())

    @property
    def dtypes(self) -> list[tuple[str, str]]:
        """``[(column, Spark type name), ...]`` of the result."""
        return [(f.name, f.dataType.simpleString()) for f in self.schema.fields]

    def _result(self, what: str, *, limit: int | None = None, sql: str | None = None) -> Any:
        text = sql or self.to_sql()
        if limit is not None:
            text = f"SELECT * FROM ({text}) AS _sl_read LIMIT {limit}"
        return reads.read(text, what=what, where=call_site())

    def _action(self, name: str) -> Callable[..., Any] | None:
        """A definition-time read (``collect`` ...) when allowed here: at a file's top level,
        on a batch DataFrame. None elsewhere (the caller refuses it as a side effect)."""
        from soundlake.pipeline.python.state import STATE

        state = STATE.get()
        if name not in _READS or state is None or state.calling is not None:
            return None
        what = f"DataFrame.{name}()"
        if self.streaming:
            raise DefinitionError(
                f"{call_site()}: {what} on a streaming DataFrame: a stream is read by a flow, not at "
                "definition time", hint="read the table with spark.read.table(...) instead of readStream",
            )

        def limited(n: int) -> list[reads.Row]:
            return reads.rows(self._result(what, limit=n))

        def first() -> reads.Row | None:
            found = limited(1)
            return found[0] if found else None

        actions: dict[str, Callable[..., Any]] = {
            "collect": lambda: reads.rows(self._result(what)),
            "first": first,
            "head": lambda n=None: first() if n is None else limited(n),
            "take": limited,
            "count": lambda: int(self._result(
                what, sql=f"SELECT count(*) AS n FROM ({self.to_sql()}) AS _sl_read").column("n")[0].as_py()),
            "isEmpty": lambda: not limited(1),
            "toPandas": lambda: self._result(what).to_pandas(),
        }
        return actions[name]

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str) and ("." in item or "`" in item):
            node = column_ref(item)  # df["st.x"]: the field x of struct st, as F.col("st.x")
            return Column(node, ref_label(node))
        if isinstance(item, str):
            return Column(exp.column(exp.to_identifier(item), table=exp.to_identifier(self.alias_name)), item)
        if isinstance(item, Column):
            return self.filter(item)
        if isinstance(item, (list, tuple)):
            return self.select(*item)
        raise unsupported(f"DataFrame[{type(item).__name__}]")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        action = self._action(name)
        if action is not None:
            return action
        if name in SIDE_EFFECTS:
            raise DefinitionError(
                f"{call_site()}: DataFrame.{name}() in a dataset function: dataset functions must "
                "only define a query, without side effects (no actions, writes or collects)",
                hint="return the DataFrame; soundlake runs and writes it",
            )
        if name in _NO_OPS:
            return lambda *args, **kwargs: self
        if name in _UNSUPPORTED:
            raise unsupported(f"DataFrame.{name}")
        return self[name]


_UNSUPPORTED = frozenset({
    "sample", "randomSplit", "pivot", "unpivot", "melt", "cube", "rollup", "na", "stat",
    "intersect", "intersectAll", "subtract", "exceptAll", "observe", "toDF", "withMetadata", "sampleBy", "freqItems", "crosstab", "approxQuantile",
})


class GroupedData:
    """``df.groupBy(...)``: ``agg``, ``count``, ``sum``, ``avg``, ``min``, ``max``."""

    def __init__(self, df: DataFrame, keys: list[Column]) -> None:
        self.df = df
        self.keys = keys

    def agg(self, *exprs: Any) -> DataFrame:
        if len(exprs) == 1 and isinstance(exprs[0], Mapping):
            from soundlake.pipeline.python.frame import functions as F

            items = [_named(getattr(F, fn)(c)) for c, fn in exprs[0].items()]
        else:
            items = [_named(to_column(e)) for e in flatten(exprs)]
        base, hidden = self.df._base()
        keys = [self.df._fix(_named(k).expr, hidden) for k in self.keys]
        base.set("expressions", keys + [self.df._fix(i.expr, hidden) for i in items])
        if keys:
            base.set("group", exp.Group(expressions=[k.this.copy() if isinstance(k, exp.Alias) else k.copy() for k in keys]))
        names = tuple(_named(c).output_name or "" for c in (*self.keys, *items))
        return self.df._derive(base, hidden, names if all(names) else None)

    def count(self) -> DataFrame:
        return self.agg(Column(exp.alias_(exp.Count(this=exp.Star()), "count")))

    def _simple(self, fn: str, cols: tuple[str, ...]) -> DataFrame:
        from soundlake.pipeline.python.frame import functions as F

        if not cols:
            raise unsupported(f"GroupedData.{fn}() without column names")
        return self.agg(*[getattr(F, fn)(c) for c in cols])

    def sum(self, *cols: str) -> DataFrame:
        return self._simple("sum", cols)

    def avg(self, *cols: str) -> DataFrame:
        return self._simple("avg", cols)

    mean = avg

    def min(self, *cols: str) -> DataFrame:
        return self._simple("min", cols)

    def max(self, *cols: str) -> DataFrame:
        return self._simple("max", cols)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise unsupported(f"GroupedData.{name}")


def _named(column: Column) -> Column:
    """The column with PySpark's name as alias when selected without one (``upper(s)``).

    Plain column references keep their own name; a column whose PySpark name soundlake
    does not know (``F.expr`` text) is left to Spark SQL's naming rules.
    """
    if column.output_name is not None or column.label is None:
        return column
    if isinstance(column.expr, (exp.Star, exp.Alias, exp.Column)):
        return column
    return column.alias(column.label)


def _relation_aliases(query: exp.Expr) -> list[str]:
    out = []
    for sub in query.find_all(exp.Subquery, exp.Table):
        alias = sub.args.get("alias")
        if alias is not None and alias.name:
            out.append(alias.name)
    return out


def _all_except(names: Mapping[str, Any], keep_names: Mapping[str, Any] | None = None) -> exp.Expr:
    """DuckDB ``COLUMNS(lambda c: lower(c) NOT IN (...))``: every column but ``names``."""
    excluded = {n.lower() for n in names} | {n.lower() for n in (keep_names or {})}
    var = exp.to_identifier("c")
    body = exp.Not(
        this=exp.In(
            this=exp.Lower(this=exp.column(var.copy())),
            expressions=[exp.Literal.string(n) for n in sorted(excluded)],
        )
    )
    return exp.Columns(this=exp.Lambda(this=body, expressions=[var]))


# The readers and the session live in dataframe_session; re-exported here for one import.
from soundlake.pipeline.python.frame.session import (
    DataFrameReader,
    PipelineSession,
    RuntimeConfig,
    column,
)

__all__ = ["SIDE_EFFECTS", "DataFrame", "DataFrameReader", "GroupedData", "PipelineSession",
           "RuntimeConfig", "column", "reset_aliases"]
