"""Public pipeline API: ``from soundlake import pipelines as dp``.

The same names as ``pyspark.pipelines`` (and Databricks ``dp``): ``table``,
``materialized_view``, ``temporary_view`` / ``view``, ``create_streaming_table``,
``append_flow``, ``create_auto_cdc_flow``, ``create_auto_cdc_from_snapshot_flow``,
``expect``, ``expect_or_drop``, ``expect_or_fail``, ``expect_all*``, plus soundlake's
``expect_or_quarantine`` / ``expect_all_or_quarantine``, and the sinks ``create_sink`` /
``foreach_batch_sink``. ``functions``, ``types`` and
``Window`` are the local PySpark-compatible builders used in dataset functions.
"""

from __future__ import annotations

from soundlake.pipeline.python.api import (
    append_flow,
    apply_changes,
    apply_changes_from_snapshot,
    create_auto_cdc_flow,
    create_auto_cdc_from_snapshot_flow,
    create_sink,
    create_streaming_live_table,
    create_streaming_table,
    create_target_table,
    expect,
    expect_all,
    expect_all_or_drop,
    expect_all_or_fail,
    expect_all_or_quarantine,
    expect_or_drop,
    expect_or_fail,
    expect_or_quarantine,
    foreach_batch_sink,
    materialized_view,
    read,
    read_stream,
    table,
    temporary_view,
    view,
)
from soundlake.pipeline.python.frame import functions, types
from soundlake.pipeline.python.frame.column import Column, Window
from soundlake.pipeline.python.frame.dataframe import DataFrame

__all__ = [
    "Column",
    "DataFrame",
    "Window",
    "append_flow",
    "apply_changes",
    "apply_changes_from_snapshot",
    "create_auto_cdc_flow",
    "create_auto_cdc_from_snapshot_flow",
    "create_sink",
    "create_streaming_live_table",
    "create_streaming_table",
    "create_target_table",
    "expect",
    "expect_all",
    "expect_all_or_drop",
    "expect_all_or_fail",
    "expect_all_or_quarantine",
    "expect_or_drop",
    "expect_or_fail",
    "expect_or_quarantine",
    "foreach_batch_sink",
    "functions",
    "materialized_view",
    "read",
    "read_stream",
    "table",
    "temporary_view",
    "types",
    "view",
]
