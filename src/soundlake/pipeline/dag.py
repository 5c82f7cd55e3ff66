"""The dependency graph of a pipeline's flows: the one ordering of graph and planner.

The runner starts flows in that order, each once every flow in its upstream set is done.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class CycleError(Exception):
    """The dependencies hold a cycle; ``loop`` lists it upstream first, its first node repeated last."""

    def __init__(self, loop: list[str]) -> None:
        super().__init__(" -> ".join(loop))
        self.loop = loop


@dataclass(frozen=True)
class Dag:
    """Nodes (flow names, in definition order) and the nodes each one depends on.

    Build it with :meth:`of`; dependencies on names that are not nodes are ignored.
    """

    upstream: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, deps: Iterable[tuple[str, Iterable[str]]]) -> Dag:
        """The DAG of ``(node, depends_on)`` pairs, in node order."""
        pairs = [(name, frozenset(upstream)) for name, upstream in deps]
        names = {name for name, _ in pairs}
        return cls({name: frozenset(u & names) for name, u in pairs})

    def order(self) -> tuple[str, ...]:
        """Every node after the nodes it depends on; ties keep node order.

        Raises:
            CycleError: when no such order exists (a node depending on itself included).
        """
        for name, deps in self.upstream.items():
            if name in deps:
                raise CycleError([name, name])
        index = {name: i for i, name in enumerate(self.upstream)}
        dependents: dict[str, list[str]] = {name: [] for name in self.upstream}
        remaining = {name: len(deps) for name, deps in self.upstream.items()}
        for name, deps in self.upstream.items():
            for dep in deps:
                dependents[dep].append(name)
        ready = [(index[n], n) for n, count in remaining.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for dependent in dependents[name]:
                remaining[dependent] -= 1
                if remaining[dependent] == 0:
                    heapq.heappush(ready, (index[dependent], dependent))
        if len(order) < len(self.upstream):
            raise CycleError(self._find_cycle([n for n in self.upstream if remaining[n] > 0]))
        return tuple(order)

    def downstream(self, name: str) -> set[str]:
        """Every node that depends on ``name``, transitively (not ``name`` itself)."""
        out: set[str] = set()
        frontier = {name}
        while frontier:
            frontier = {n for n, deps in self.upstream.items() if deps & frontier and n not in out}
            out |= frontier
        out.discard(name)
        return out

    def _find_cycle(self, blocked: list[str]) -> list[str]:
        """Walk dependencies among blocked nodes until one repeats; return that loop."""
        blocked_set = set(blocked)
        path: list[str] = []
        position: dict[str, int] = {}
        current = blocked[0]
        while current not in position:
            position[current] = len(path)
            path.append(current)
            current = min(d for d in self.upstream[current] if d in blocked_set)
        loop = path[position[current] :] + [current]
        loop.reverse()  # dependency order: upstream first
        return loop
