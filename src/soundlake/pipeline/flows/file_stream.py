"""Streaming flows over files on an engine's own streaming runtime (``native_streaming``).

When the engine declares ``native_streaming`` (Spark: Structured Streaming with
``trigger(availableNow=True)``), a streaming flow whose only streaming input is a folder
of files runs as an engine stream. The engine's checkpoint (under
``<storage>/_soundlake/pipelines/<pipeline>/streams/<flow>/<input>``) discovers the new
files and replays an unfinished micro-batch with the same files; each micro-batch runs
the same batch code as every other flow (:func:`execute_batch`: query, expectations,
quarantine, writes carrying the app transaction ``(pipeline:flow, batch)``).

Auto Loader semantics stay soundlake's (docs/pipeline.md, "File ingestion"): the tracked schema,
schema evolution and rescued data are decided per micro-batch by ``autoloader``; the
engine's rows are used when every file of the micro-batch fits the tracked schema
(Parquet), otherwise soundlake's reader reads the micro-batch's files.

Exactly-once, per micro-batch: (1) files already in the flow's checkpoint are skipped
(a replay, or files an engine without native streaming processed); (2) the target and
quarantine commits carry ``(pipeline:flow, N)``, so a replay after a crash writes nothing
twice; (3) the checkpoint stores the files, the schema and ``batch = N``; (4) the engine
records the micro-batch. The checkpoint's file list is the same as on engines without
native streaming, so a project can switch engines between updates.
"""

from __future__ import annotations

import posixpath
from typing import Any

import pyarrow as pa

from soundlake.catalog.state import safe_name
from soundlake.engines.base import FileStream, FileStreamBatch
from soundlake.pipeline import autoloader as al
from soundlake.pipeline.checkpoint import Checkpoint, batch_done
from soundlake.pipeline.context import RunContext
from soundlake.pipeline.expectations import ExpectationMetrics
from soundlake.pipeline.flows.base import FlowResult, execute_batch
from soundlake.pipeline.inputs import Leaf, Node, engine_can_read, leaves, plan_batch
from soundlake.pipeline.planner import FlowPlan


def stream_leaf(
    ctx: RunContext, plan: FlowPlan, nodes: list[Node], cp: Checkpoint
) -> Leaf | None:
    """The file input to run as an engine stream, or None to use soundlake's checkpoints.

    A flow qualifies when the engine has ``native_streaming``, the flow is a streaming
    (not ``once``) flow, its only streaming input is an existing folder of files, and no
    batch planned by soundlake's own protocol is waiting to be resumed.
    """
    if (
        not ctx.engine.capabilities.native_streaming
        or plan.kind != "streaming"
        or cp.planned is not None
    ):
        return None
    streaming = [leaf for leaf in leaves(nodes) if leaf.streaming]
    if len(streaming) != 1 or streaming[0].input.kind != "files":
        return None
    root = al.resolve_path(str(streaming[0].input.path), ctx.base_dir)
    return streaming[0] if al.is_folder(root) else None


def stream_checkpoint(ctx: RunContext, flow: str, key: str) -> str:
    """Where the engine keeps the checkpoint of ``flow``'s stream over input ``key``."""
    return ctx.state.uri("streams", safe_name(flow), safe_name(key))


def run_file_stream(
    ctx: RunContext, plan: FlowPlan, sql: str, nodes: list[Node], leaf: Leaf
) -> FlowResult:
    """Run the flow as an engine stream over the files available now."""
    batches = _MicroBatches(ctx, plan, sql, nodes, leaf)
    if batches.others:
        planned = plan_batch(ctx, batches.others, {}, flow=plan.name, target=plan.target)
        if planned.missing:
            return FlowResult("IDLE", message=f"waiting for input: {', '.join(planned.missing)}")
    cp = Checkpoint.load(ctx, plan.name)
    prev = cp.sources.get(leaf.key) or {}
    schema = al.schema_from_json(prev["schema"]) if prev.get("schema") else None
    if schema is None:
        found = al.discover(batches.root, batches.options, set(prev.get("files", ())))
        if not found:
            return FlowResult("IDLE", message="no new input")
        schema, _ = al.evolve_schema(None, found, batches.root, batches.options)
    batches.stream_schema = schema
    rescued = batches.options.rescued_column
    stream = FileStream(
        root=batches.root,
        format=batches.options.format,
        schema=pa.schema([f for f in schema if f.name != rescued]),
        checkpoint=stream_checkpoint(ctx, plan.name, leaf.key),
        options=batches.raw_options,
        rescued_column=rescued,
        with_metadata=leaf.mentions_metadata,
        ingestion_time=ctx.started,
        storage_options=ctx.storage_options,
    )
    ctx.engine.run_file_stream(stream, batches)
    return batches.result()


class _MicroBatches:
    """The callback run for each micro-batch; collects the flow's results."""

    def __init__(
        self, ctx: RunContext, plan: FlowPlan, sql: str, nodes: list[Node], leaf: Leaf
    ) -> None:
        self.ctx, self.plan, self.sql, self.nodes, self.leaf = ctx, plan, sql, nodes, leaf
        self.raw_options = {
            str(k): str(v) for k, v in leaf.input.options.items()
        }
        self.root = al.resolve_path(str(leaf.input.path), ctx.base_dir)
        self.options = al.FileSourceOptions.parse(self.raw_options, str(leaf.input.path))
        self.others = [other for other in leaves(nodes) if other is not leaf]
        self.stream_schema: pa.Schema | None = None
        self.results: list[FlowResult] = []
        self.added: list[str] = []
        self.engine_reads = 0

    def __call__(self, micro: FileStreamBatch) -> None:
        ctx, plan, key = self.ctx, self.plan, self.leaf.key
        cp = Checkpoint.load(ctx, plan.name)
        prev = cp.sources.get(key) or {}
        processed = set(prev.get("files", ()))
        infos = [
            al.FileInfo(posixpath.relpath(f.path, self.root), f.size, f.mtime_ns)
            for f in micro.files
        ]
        new = [info for info in infos if info.path not in processed]
        if not new:
            return  # a replay of a committed micro-batch, or files processed without the stream
        current = al.schema_from_json(prev["schema"]) if prev.get("schema") else None
        schema, added = al.evolve_schema(current, new, self.root, self.options)
        entry: dict[str, Any] = {
            "kind": "files",
            "root": self.root,
            "files": [f.to_json() for f in new],
            "schema": al.schema_to_json(schema),
            "added_columns": added,
            "metadata": self.leaf.mentions_metadata,
            "path": str(self.leaf.input.path),
            "options": self.raw_options,
        }
        entries: dict[str, Any] = {key: entry}
        if self.others:
            entries.update(
                plan_batch(ctx, self.others, {}, flow=plan.name, target=plan.target).entries
            )
        batch = cp.next_batch()
        overrides = {key: micro.rows} if len(new) == len(infos) and self._fits(schema, new) else {}
        self.engine_reads += bool(overrides)
        skip_target, skip_q = batch_done(ctx, plan.name, plan.target, batch, has_quarantine=plan.has_quarantine)
        if not (skip_target and skip_q):
            self.results.append(
                execute_batch(
                    ctx,
                    plan,
                    self.sql,
                    self.nodes,
                    entries,
                    batch=batch,
                    mode="append",
                    skip_target=skip_target,
                    skip_quarantine=skip_q,
                    overrides=overrides,
                )
            )
        offsets = {"files": sorted(processed | {f.path for f in new}), "schema": entry["schema"]}
        cp.commit(ctx, batch, target=plan.target, after={key: offsets})
        self.added.extend(added)

    def _fits(self, schema: pa.Schema, files: list[al.FileInfo]) -> bool:
        """True when the engine's read of ``files`` equals soundlake's reader's."""
        stream = self.stream_schema
        if self.options.format != "parquet" or stream is None:
            return False
        if [(f.name, f.type) for f in schema] != [(f.name, f.type) for f in stream]:
            return False  # the schema evolved during this run
        return engine_can_read(self.root, schema, files, self.options)

    def result(self) -> FlowResult:
        """The flow's outcome over every micro-batch of this run."""
        if not self.results:
            return FlowResult("IDLE", message="no new input")
        last = self.results[-1]
        merged = FlowResult(
            "COMPLETED",
            num_output_rows=sum(r.num_output_rows for r in self.results),
            batch=last.batch,
            expectations=_merge(
                [r.expectations for r in self.results if r.expectations is not None]
            ),
            view_expectations=[m for r in self.results for m in r.view_expectations],
        )
        # micro-batches run, and how many of them the engine read itself (the others
        # needed soundlake's reader: schema evolution, rescue, JSON/CSV)
        merged.extra["stream"] = {"micro_batches": len(self.results), "engine_reads": self.engine_reads}
        if self.added:
            merged.extra["schema_evolution"] = {"added_columns": self.added}
        return merged


def _merge(metrics: list[ExpectationMetrics]) -> ExpectationMetrics | None:
    if not metrics:
        return None
    first = metrics[0]
    total = ExpectationMetrics(first.dataset, first.names)
    for m in metrics:
        total.input_rows += m.input_rows
        total.output_rows += m.output_rows
        total.dropped_rows += m.dropped_rows
        total.quarantined_rows += m.quarantined_rows
        total.failed = [a + b for a, b in zip(total.failed, m.failed)]
    return total
