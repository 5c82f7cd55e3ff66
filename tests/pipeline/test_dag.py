"""The one DAG type shared by graph, planner and runner, and the flow-kind dispatch."""

from __future__ import annotations

from itertools import pairwise
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soundlake.pipeline.dag import CycleError, Dag
from soundlake.pipeline.definitions import FlowKind
from soundlake.pipeline.runner import FLOW_RUNNERS


def test_order_puts_dependencies_first_and_keeps_definition_order_for_ties() -> None:
    dag = Dag.of([("c", ["a"]), ("b", []), ("a", []), ("d", ["c", "b"])])
    assert dag.order() == ("b", "a", "c", "d")


def test_unknown_dependencies_are_ignored() -> None:
    assert Dag.of([("x", ["external"])]).order() == ("x",)


def test_cycle_names_the_loop_upstream_first() -> None:
    dag = Dag.of([("a", ["c"]), ("b", ["a"]), ("c", ["b"]), ("free", [])])
    with pytest.raises(CycleError) as caught:
        dag.order()
    loop = caught.value.loop
    assert loop[0] == loop[-1] and set(loop) == {"a", "b", "c"}
    for upstream, downstream in pairwise(loop):
        assert upstream in dag.upstream[downstream]


def test_self_dependency_is_a_cycle_of_one() -> None:
    with pytest.raises(CycleError) as caught:
        Dag.of([("a", []), ("s", ["s"])]).order()
    assert caught.value.loop == ["s", "s"]


def test_downstream_is_transitive_and_excludes_the_node() -> None:
    dag = Dag.of([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", [])])
    assert dag.downstream("a") == {"b", "c"}
    assert dag.downstream("d") == set()


@given(st.lists(st.sets(st.integers(0, 11), max_size=4), min_size=1, max_size=12))
def test_order_of_any_acyclic_graph_respects_every_edge(raw: list[set[int]]) -> None:
    # only edges to earlier nodes: acyclic by construction
    deps = [(f"n{i}", [f"n{j}" for j in sorted(d) if j < i]) for i, d in enumerate(raw)]
    order = Dag.of(reversed(deps)).order()
    position = {name: i for i, name in enumerate(order)}
    assert sorted(order) == sorted(name for name, _ in deps)
    for name, upstream in deps:
        assert all(position[u] < position[name] for u in upstream)


def test_every_flow_kind_has_a_runner() -> None:
    assert set(FLOW_RUNNERS) == set(get_args(FlowKind))
