"""The exactly-once protocol of every flow, written once.

Every flow kind (streaming and ``once`` flows, engine file streams, materialized views
with full, windowed or incremental refresh, AUTO CDC and AUTO CDC FROM SNAPSHOT) and the
full refresh go through one :class:`Checkpoint`, whose steps are, per batch N:

1. **plan** (:meth:`Checkpoint.record_plan`): describe the input of batch N (files, Delta
   version ranges, a snapshot version) and store it as ``planned`` before anything is
   written; crash point ``after_plan``;
2. **write**: the flow writes its target (and quarantine, partial aggregates, CDC state)
   with the Delta app transaction ``(pipeline:flow, N)``: a table that already holds N is
   never written twice;
3. **commit** (:meth:`Checkpoint.commit`): advance ``batch`` to N, merge the new source
   offsets, clear ``planned`` and record the target's Delta version; crash points
   ``before_checkpoint`` and ``after_checkpoint``.

On restart, :meth:`Checkpoint.resume` decides what a planned batch still needs from the
app transactions the tables hold: nothing (commit it), a re-run with the same input, or
(for flows without engine-side state, when no table holds it) a fresh plan.

The document is JSON at ``<storage>/_soundlake/pipelines/<pipeline>/checkpoints/<flow>.json``
(docs/architecture.md shows its shape); keys this version does not know are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from soundlake.catalog.names import TableName
from soundlake.catalog.state import checkpoint_key
from soundlake.core.clock import utc_now
from soundlake.lake import delta
from soundlake.pipeline.context import RunContext, fault_point, quarantine_name

_KNOWN = ("flow", "batch", "sources", "planned", "once_done", "signature", "definition",
          "source_versions", "incremental", "table_version", "updated_at", "run_id")


@dataclass
class PendingBatch:
    """A batch that was planned (its input recorded) but not yet committed.

    Attributes:
        batch: The batch number N (also the app transaction version of its writes).
        entries: What the batch reads, per input key (files, Delta version ranges).
        after: The source offsets once the batch is committed.
        extra: Facts of one flow kind (a snapshot's ``version``, an incremental view's
            ``from``/``to``/``files``/``sql``), stored beside the others.
        target_done: Set by :meth:`Checkpoint.resume`: the target holds the batch.
        quarantine_done: Set by :meth:`Checkpoint.resume`: the quarantine holds it (or
            the flow has no quarantine).
    """

    batch: int
    entries: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    target_done: bool = False
    quarantine_done: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``planned`` document."""
        return {**self.extra, "batch": self.batch, "entries": self.entries, "after": self.after}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PendingBatch:
        """Read a ``planned`` document (any version's shape)."""
        extra = {k: v for k, v in doc.items() if k not in ("batch", "entries", "after")}
        return cls(int(doc["batch"]), dict(doc.get("entries") or {}), dict(doc.get("after") or {}), extra)


@dataclass
class Checkpoint:
    """One flow's progress: the last committed batch, source offsets, a planned batch.

    Attributes:
        flow: The flow's name.
        batch: The last committed batch (0: none yet).
        sources: Offsets per input key (files seen, Delta versions read).
        planned: The batch planned but not committed, if any.
        once_done: A ``once`` flow ran (until the next full refresh).
        signature: A materialized view's inputs and definition at its last refresh.
        definition: A windowed view's definition hash at its last refresh.
        source_versions: A snapshot flow's source versions at its last snapshot.
        incremental: An incremental view's merged source version and query digest.
        table_version: The target's Delta version after the last commit.
        other: Keys this version does not know (kept as they are).
    """

    flow: str
    batch: int = 0
    sources: dict[str, Any] = field(default_factory=dict)
    planned: PendingBatch | None = None
    once_done: bool = False
    signature: str | None = None
    definition: str | None = None
    source_versions: dict[str, Any] | None = None
    incremental: dict[str, Any] | None = None
    table_version: int | None = None
    other: dict[str, Any] = field(default_factory=dict)

    # --- storage -------------------------------------------------------------------------

    @classmethod
    def load(cls, ctx: RunContext, flow: str) -> Checkpoint:
        """The flow's checkpoint (a fresh one when there is none).

        Raises:
            StorageError: when the document is not valid JSON.
        """
        return cls.read(ctx, flow) or cls(flow)

    @classmethod
    def read(cls, ctx: RunContext, flow: str) -> Checkpoint | None:
        """The flow's stored checkpoint, or None when there is none.

        Raises:
            StorageError: when the document is not valid JSON.
        """
        doc = ctx.state.read(checkpoint_key(flow))
        return cls.from_json(flow, doc) if doc is not None else None

    @property
    def known_batch(self) -> int:
        """The highest batch this checkpoint knows: committed or planned."""
        return max(self.batch, self.planned.batch if self.planned is not None else 0)

    @classmethod
    def from_json(cls, flow: str, doc: dict[str, Any]) -> Checkpoint:
        """Read a checkpoint document."""
        planned = doc.get("planned")
        version = doc.get("table_version")
        return cls(
            flow=flow,
            batch=int(doc.get("batch") or 0),
            sources=dict(doc.get("sources") or {}),
            planned=PendingBatch.from_json(planned) if isinstance(planned, dict) else None,
            once_done=bool(doc.get("once_done")),
            signature=doc.get("signature"),
            definition=doc.get("definition"),
            source_versions=doc.get("source_versions"),
            incremental=doc.get("incremental"),
            table_version=int(version) if version is not None else None,
            other={k: v for k, v in doc.items() if k not in _KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        """The checkpoint document (without the save-time fields)."""
        doc: dict[str, Any] = {
            **self.other,
            "flow": self.flow,
            "batch": self.batch,
            "sources": self.sources,
            "planned": self.planned.to_json() if self.planned is not None else None,
        }
        optional = {
            "once_done": self.once_done or None,
            "signature": self.signature,
            "definition": self.definition,
            "source_versions": self.source_versions,
            "incremental": self.incremental,
            "table_version": self.table_version,
        }
        doc.update({k: v for k, v in optional.items() if v is not None})
        return doc

    def save(self, ctx: RunContext, *, target: TableName | None = None) -> None:
        """Atomically store the checkpoint.

        With ``target`` (a batch was committed), the table's version after the commit is
        recorded too: the next update checks that the table did not go back (lost commits).
        """
        if target is not None:
            self.table_version = delta.table_version(ctx.table_uri(target), ctx.storage_options)
        doc = self.to_json()
        doc["updated_at"] = utc_now().isoformat()
        doc["run_id"] = ctx.run_id
        ctx.state.write(checkpoint_key(self.flow), doc)

    # --- the protocol --------------------------------------------------------------------

    def next_batch(self, done: int | None = None) -> int:
        """The number of the next batch: above the checkpoint and above ``done`` (a table's)."""
        return max(self.batch, done or 0) + 1

    def record_plan(self, ctx: RunContext, pending: PendingBatch) -> None:
        """Step 1: store what batch N reads before anything is written."""
        self.planned = pending
        self.save(ctx)
        fault_point("after_plan", self.flow)

    def resume(
        self,
        ctx: RunContext,
        target: TableName,
        *,
        has_quarantine: bool,
        replan: bool,
        done_fields: dict[str, Any] | None = None,
    ) -> PendingBatch | None:
        """The planned batch to run again with the same input, or None.

        A batch that every table already holds is committed here (the crash came after
        the writes). With ``replan`` (flows that keep no state inside the engine), a batch
        that no table holds is dropped and planned afresh, so it also reads input that
        arrived since; otherwise it runs again with its recorded input, as the engine's
        own state (AUTO CDC) may already hold part of it. ``done_fields`` are set when a
        held batch is committed here (``once_done`` of a ``once`` flow).
        """
        pending = self.planned
        if pending is None:
            return None
        pending.target_done, pending.quarantine_done = batch_done(
            ctx, self.flow, target, pending.batch, has_quarantine=has_quarantine
        )
        if pending.target_done and pending.quarantine_done:
            self.commit(ctx, pending.batch, target=target, after=pending.after, crash_points=False,
                        **(done_fields or {}))
            return None
        if replan and not pending.target_done and not (has_quarantine and pending.quarantine_done):
            self.planned = None
            return None
        return pending

    def commit(
        self,
        ctx: RunContext,
        batch: int,
        *,
        target: TableName,
        after: dict[str, Any] | None = None,
        crash_points: bool = True,
        **fields: Any,
    ) -> None:
        """Step 3: batch ``batch`` is in every table: advance, merge offsets, set ``fields``."""
        if crash_points:
            fault_point("before_checkpoint", self.flow)
        self.batch = batch
        self.sources.update(after or {})
        self.planned = None
        for name, value in fields.items():
            if not hasattr(self, name) or name in ("flow", "planned", "other"):
                raise TypeError(f"Checkpoint has no field {name!r}")
            setattr(self, name, value)
        self.save(ctx, target=target)
        if crash_points:
            fault_point("after_checkpoint", self.flow)

    def rewound(self, batch: int) -> Checkpoint:
        """A fresh checkpoint for a full refresh that keeps batch numbers increasing."""
        return Checkpoint(self.flow, batch=max(batch, self.known_batch))


def batch_done(
    ctx: RunContext, flow: str, target: TableName, batch: int, *, has_quarantine: bool
) -> tuple[bool, bool]:
    """Whether the target and the quarantine table already hold ``batch`` of ``flow``."""
    app_id = ctx.app_id(flow)
    held = delta.transaction_version(ctx.table_uri(target), app_id, ctx.storage_options)
    if not has_quarantine:
        return (held is not None and held >= batch), True
    q = delta.transaction_version(ctx.table_uri(quarantine_name(target)), app_id, ctx.storage_options)
    return (held is not None and held >= batch), (q is not None and q >= batch)
