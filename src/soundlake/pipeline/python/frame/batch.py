"""The DataFrame a ``foreach_batch_sink`` function gets on the DuckDB engine.

On Databricks (and on soundlake's Spark engine) the function gets a PySpark DataFrame of
the micro-batch. soundlake's local DataFrame records queries instead of holding rows, so
on the DuckDB engine the function gets a :class:`BatchFrame`: the micro-batch's rows
(already computed, in memory) with PySpark's read actions (``collect``, ``count``,
``first``, ``head``, ``take``, ``isEmpty``, ``toPandas``, ``columns``, ``schema``,
``dtypes``, ``show``), plus ``toArrow()``. Transformations and ``df.write`` are not
offered: an attribute it lacks fails the flow on one line naming it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from soundlake.core.errors import FlowError
from soundlake.pipeline.python.frame import reads


class BatchFrame:
    """The rows of one micro-batch, read-only, with PySpark's read actions.

    Args:
        table: The micro-batch's rows.
        sink: The sink's name (for error messages).
    """

    def __init__(self, table: pa.Table, sink: str = "") -> None:
        self._table = table
        self._sink = sink

    @property
    def columns(self) -> list[str]:
        """The column names."""
        return list(self._table.column_names)

    @property
    def schema(self) -> Any:
        """The rows' ``StructType``."""
        return reads.struct_type(self._table.schema)

    @property
    def dtypes(self) -> list[tuple[str, str]]:
        """``[(column, Spark type name), ...]``."""
        return [(f.name, f.dataType.simpleString()) for f in self.schema.fields]

    @property
    def isStreaming(self) -> bool:
        """False: a micro-batch is a batch DataFrame, as in ``foreachBatch``."""
        return False

    def count(self) -> int:
        """The number of rows."""
        return int(self._table.num_rows)

    def collect(self) -> list[reads.Row]:
        """Every row as a ``Row``."""
        return reads.rows(self._table)

    def take(self, n: int) -> list[reads.Row]:
        """The first ``n`` rows."""
        return reads.rows(self._table.slice(0, max(0, n)))

    def head(self, n: int | None = None) -> Any:
        """The first row (None when empty), or the first ``n`` rows."""
        return self.first() if n is None else self.take(n)

    def first(self) -> reads.Row | None:
        """The first row, or None."""
        found = self.take(1)
        return found[0] if found else None

    def isEmpty(self) -> bool:
        """True when the micro-batch has no rows."""
        return bool(self._table.num_rows == 0)

    def toPandas(self) -> Any:
        """The rows as a pandas DataFrame."""
        return self._table.to_pandas()

    def toArrow(self) -> pa.Table:
        """The rows as a ``pyarrow.Table`` (PySpark 4's ``DataFrame.toArrow``)."""
        return self._table

    def show(self, n: int = 20, truncate: bool | int = True, vertical: bool = False) -> None:
        """Print the first ``n`` rows."""
        del truncate, vertical
        print(self._table.slice(0, n).to_pandas().to_string(index=False))

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise FlowError(
            f"foreach_batch_sink '{self._sink}': DataFrame.{name} is not available on the DuckDB engine's "
            "micro-batch frame (it offers collect, count, first, head, take, isEmpty, toPandas, toArrow, "
            "columns, schema, show)",
            hint="run the pipeline with --engine spark to get a PySpark DataFrame",
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}: {t}" for n, t in self.dtypes)
        return f"BatchFrame[{fields}]"
