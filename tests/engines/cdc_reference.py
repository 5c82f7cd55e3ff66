"""A deliberately simple model of AUTO CDC, applied to all events at once.

It walks each key's events in sequence order, one by one, exactly as SEMANTICS.md
section 3 and docs/cdc.md describe them. The engine must produce the same rows however
the events are split into batches and ordered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class RefSpec:
    """The parts of a CDC spec the model needs, with Python callables for expressions."""

    keys: tuple[str, ...]
    columns: tuple[str, ...]
    seq: Callable[[Row], Any]
    scd_type: int = 1
    is_delete: Callable[[Row], bool] = lambda r: False
    is_truncate: Callable[[Row], bool] = lambda r: False
    ignore_null_updates: bool = False
    untracked: tuple[str, ...] = ()
    seq_out: Callable[[Any], Any] = field(default=lambda s: s)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.keys)

    @property
    def tracked(self) -> tuple[str, ...]:
        return tuple(c for c in self.values if c not in self.untracked)


def _rank(spec: RefSpec, op: int, vals: Row) -> tuple[Any, ...]:
    """Tie rule: delete over upsert, then greatest values column by column, NULL lowest."""
    return (op, *[(vals[c] is not None, vals[c] if vals[c] is not None else 0) for c in spec.values])


def _events_by_key(spec: RefSpec, events: Sequence[Row]) -> tuple[dict[tuple, list], Any]:
    truncate = None
    winners: dict[tuple, dict[Any, tuple[int, Row]]] = {}
    for e in events:
        s = spec.seq(e)
        if spec.is_truncate(e):
            truncate = s if truncate is None or s > truncate else truncate
            continue
        op = 1 if spec.is_delete(e) else 0
        vals = {c: (e.get(c) if op == 0 else None) for c in spec.values}
        key = tuple(e[k] for k in spec.keys)
        per_seq = winners.setdefault(key, {})
        old = per_seq.get(s)
        if old is None or _rank(spec, op, vals) > _rank(spec, *old):
            per_seq[s] = (op, vals)
    out: dict[tuple, list] = {}
    for key, per_seq in winners.items():
        evs = dict(per_seq)
        if truncate is not None:  # a truncate deletes every key at its sequence
            evs[truncate] = (1, {c: None for c in spec.values})
        out[key] = sorted(evs.items(), key=lambda kv: kv[0])
    return out, truncate


def _fill(spec: RefSpec, prev: Row | None, vals: Row) -> Row:
    if not spec.ignore_null_updates or prev is None:
        return dict(vals)
    return {c: (vals[c] if vals[c] is not None else prev[c]) for c in spec.values}


def reference(spec: RefSpec, events: Sequence[Row]) -> list[Row]:
    """The target rows after applying ``events`` (SCD1 rows or SCD2 versions)."""
    by_key, _ = _events_by_key(spec, events)
    rows: list[Row] = []
    for key, evs in by_key.items():
        keyrow = dict(zip(spec.keys, key))
        if spec.scd_type == 1:
            cur: Row | None = None
            for _, (op, vals) in evs:
                cur = None if op == 1 else _fill(spec, cur, vals)
            if cur is not None:
                rows.append(_ordered(spec, {**keyrow, **cur}))
            continue
        rows.extend(_scd2_key(spec, keyrow, evs))
    return rows


def _scd2_key(spec: RefSpec, keyrow: Row, evs: list) -> list[Row]:
    versions: list[Row] = []
    cur: Row | None = None  # open version
    last: Row | None = None  # effective values of the previous upsert in this run
    for s, (op, vals) in evs:
        if op == 1:
            if cur is not None:
                cur["__END_AT"] = spec.seq_out(s)
            cur, last = None, None
            continue
        eff = _fill(spec, last, vals)
        last = eff
        if cur is not None and all(cur[c] == eff[c] for c in spec.tracked):
            cur.update(eff)  # untracked change or identical upsert: in place
            continue
        if cur is not None:
            cur["__END_AT"] = spec.seq_out(s)
        cur = {**keyrow, **eff, "__START_AT": spec.seq_out(s), "__END_AT": None}
        versions.append(cur)
    return [_ordered(spec, v, scd2=True) for v in versions]


def _ordered(spec: RefSpec, row: Row, scd2: bool = False) -> Row:
    names = list(spec.columns) + (["__START_AT", "__END_AT"] if scd2 else [])
    return {n: row[n] for n in names}


def canonical(rows: Sequence[Row]) -> list[tuple]:
    """Rows as a sorted list of tuples (NULL-safe ordering) for comparisons."""
    def key(t: tuple) -> tuple:
        return tuple((v is not None, repr(type(v)), v if v is not None else 0) for v in t)

    tuples = [tuple(r.values()) for r in rows]
    return sorted(tuples, key=key)
