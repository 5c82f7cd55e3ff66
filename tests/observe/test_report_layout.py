"""Graph layout edge cases seen on real pipelines."""

from __future__ import annotations

from soundlake.observe.report_model import GraphEdge, GraphNode
from soundlake.observe.report_svg import layout_graph


def test_layout_with_inputs_outside_the_graph_and_unplaced_members() -> None:
    # A mart reads a table the pipeline does not define (external) and sits in a column
    # with members whose predecessors are not placed: ordering must not fail.
    nodes = [
        GraphNode(name="c.silver.a", layer="silver", kind="streaming table"),
        GraphNode(name="c.gold.mart_x", layer="mart", kind="materialized view"),
        GraphNode(name="c.gold.mart_y", layer="mart", kind="materialized view"),
        GraphNode(name="c.gold.mart_z", layer="mart", kind="materialized view"),
    ]
    edges = [
        GraphEdge(source="c.gold.dim_external", target="c.gold.mart_x"),
        GraphEdge(source="c.silver.a", target="c.gold.mart_y"),
    ]
    layout = layout_graph(nodes, edges)
    assert set(layout.positions) == {n.name for n in nodes}
    marts = dict(layout.columns)["mart"]
    assert sorted(marts) == ["c.gold.mart_x", "c.gold.mart_y", "c.gold.mart_z"]


def test_bronze_folder_nodes_take_the_row_count_of_their_table() -> None:
    from soundlake.observe.report_events import _lookup

    counts = {"DimUser": 207, "c.silver.dimuser": 200}
    assert _lookup(counts, "files:/lake/bronze/DimUser") == 207
    assert _lookup(counts, "files:/lake/bronze/DimUser/") == 207
    assert _lookup(counts, "C.SILVER.DIMUSER") == 200
    assert _lookup(counts, "files:/lake/bronze/FactStream") is None
