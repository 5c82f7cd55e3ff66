"""render_report: a pure, deterministic, self-contained HTML page."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import date, datetime
from html.parser import HTMLParser

from soundlake.demo.report_sample import sample_report_data
from soundlake.observe.report import (
    DailyListening,
    ExpectationResult,
    FlowRun,
    GraphEdge,
    GraphNode,
    MartCharts,
    RankedItem,
    ReportData,
    RunSummary,
    count_charts,
    render_report,
)
from soundlake.observe.report_svg import NODE_H, NODE_W, layout_graph

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr", "area", "base"}
SVG_SELF_CLOSING = re.compile(r"<[^<>]+/>")


class Balance(HTMLParser):
    """Checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def assert_well_formed(html: str) -> None:
    checker = Balance()
    checker.feed(html)
    checker.close()
    assert checker.errors == [] and checker.stack == []


def test_sample_report_is_complete_and_well_formed() -> None:
    data = sample_report_data()
    html = render_report(data)
    assert html.startswith("<!DOCTYPE html>")
    assert_well_formed(html)
    assert html.count('class="node"') == len(data.nodes) == 22
    assert html.count('class="edge') == len(data.edges)
    assert len(re.findall(r'<svg [^>]*class="chart', html)) == count_charts(data) == 4 + 3
    assert f'data-expect-nodes="{len(data.nodes)}"' in html
    for section in ('id="graph"', 'id="runs"', 'id="expectations"', 'id="marts"'):
        assert section in html
    assert "upd-003" in html and "FAILED" in html and "SKIPPED" in html
    assert "known_user" in html  # expectation table
    assert "quarantined rows" in html


def test_render_is_deterministic() -> None:
    assert render_report(sample_report_data()) == render_report(sample_report_data())


def test_no_external_assets() -> None:
    html = render_report(sample_report_data())
    assert "<link" not in html and " src=" not in html and "@import" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}


def test_all_text_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    data = ReportData(
        title=evil,
        pipeline_name=evil,
        generated_at=evil,
        nodes=(GraphNode(evil, "silver", evil, 1, evil),),
        runs=(RunSummary(evil, evil, flows=(FlowRun(evil, evil, evil, error=evil),)),),
        expectations=(ExpectationResult(evil, evil, evil, 1, 1),),
        marts=MartCharts(
            top_tracks=(RankedItem(evil, evil, 3),),
            daily_listening=(DailyListening(date(2026, 1, 1), 1, 1.0),),
        ),
    )
    html = render_report(data)
    assert "<script>alert" not in html
    assert html.count("<script>") == 1  # only the report's own script
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert_well_formed(html)


def test_missing_marts_and_empty_data_say_so() -> None:
    html = render_report(ReportData())
    assert_well_formed(html)
    assert html.count("mart is missing or empty") == 4
    assert "No runs recorded" in html and "No datasets in the event log" in html
    assert "No expectation results" in html
    assert 'data-expect-charts="0"' in html


def test_graph_layout_columns_follow_layers_without_overlaps() -> None:
    data = sample_report_data()
    layout = layout_graph(data.nodes, data.edges)
    x_by_layer: dict[str, set[float]] = {}
    for node in data.nodes:
        x_by_layer.setdefault(node.layer, set()).add(layout.positions[node.name][0])
    order = ["bronze", "silver", "gold", "mart"]
    for left, right in itertools.pairwise(order):
        assert max(x_by_layer[left]) < min(x_by_layer[right])
    boxes = sorted(layout.positions.values())
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1 :]:
            assert abs(x1 - x2) >= NODE_W or abs(y1 - y2) >= NODE_H
    for x, y in boxes:
        assert 0 <= x and x + NODE_W <= layout.width and 0 <= y and y + NODE_H <= layout.height


def test_same_layer_chain_gets_its_own_column() -> None:
    nodes = (
        GraphNode("a.gold.stg", "gold"),
        GraphNode("a.gold.dim", "gold"),
        GraphNode("a.silver.t", "silver"),
    )
    edges = (GraphEdge("a.silver.t", "a.gold.stg"), GraphEdge("a.gold.stg", "a.gold.dim"))
    layout = layout_graph(nodes, edges)
    xs = [layout.positions[n][0] for n in ("a.silver.t", "a.gold.stg", "a.gold.dim")]
    assert xs == sorted(xs) and len(set(xs)) == 3


def test_cycle_does_not_hang() -> None:
    nodes = (GraphNode("a", "silver"), GraphNode("b", "silver"))
    edges = (GraphEdge("a", "b"), GraphEdge("b", "a"))
    html = render_report(ReportData(nodes=nodes, edges=edges))
    assert html.count('class="node"') == 2


def test_run_gantt_and_statuses() -> None:
    t0 = datetime(2026, 1, 1, 0, 0, 0)
    run = RunSummary(
        "u1",
        "FAILED",
        t0,
        t0.replace(second=9),
        flows=(
            FlowRun(
                "f1", "d1", "COMPLETED", t0.replace(second=1), t0.replace(second=4), output_rows=12
            ),
            FlowRun("f2", "d2", "FAILED", t0.replace(second=4), t0.replace(second=8), error="boom"),
            FlowRun("f3", "d3", "SKIPPED", t0.replace(second=8), t0.replace(second=8)),
        ),
    )
    html = render_report(ReportData(runs=(run,)))
    assert html.count('class="gantt-row"') == 3
    assert 'data-status="FAILED"' in html and "error: boom" in html
    assert "1 completed, 1 failed, 1 skipped" in html
    assert "9.0 s" in html


def test_expectation_bars_mark_failures_per_run() -> None:
    runs = tuple(RunSummary(f"u{i}", "COMPLETED") for i in (1, 2, 3))
    results = (ExpectationResult("u1", "d", "e", 10, 0), ExpectationResult("u3", "d", "e", 8, 2))
    html = render_report(ReportData(runs=runs, expectations=results))
    assert "run 2: not evaluated" in html
    assert "run 3: 8 passed, 2 failed of 10" in html
    assert "20.00%" in html


def test_plan_mix_in_plays_is_labelled() -> None:
    data = replace(
        sample_report_data(), marts=replace(sample_report_data().marts, plan_mix_measure="plays")
    )
    assert "plays per month" in render_report(data)


def test_many_runs_draw_bounded_timelines_and_bars() -> None:
    t0 = datetime(2026, 1, 1)
    runs = tuple(
        RunSummary(
            f"u{i:03d}", "COMPLETED", t0, t0, flows=(FlowRun("f", "d", "COMPLETED", t0, t0),)
        )
        for i in range(45)
    )
    results = tuple(ExpectationResult(r.update_id, "d", "e", 5, i % 3) for i, r in enumerate(runs))
    data = ReportData(runs=runs, expectations=results)
    html = render_report(data)
    assert html.count('class="chart chart-gantt"') == count_charts(data) == 10
    assert html.count("<tr><td>") == 45 + 1  # every run in the table, one expectation row
    assert "run 16: " in html and "run 45: " in html and "run 15: " not in html
    assert_well_formed(html)
    # the run table and the timelines below it are both latest first, as the note says
    listed = re.findall(r"<tr><td>\d+</td><td><code>(u\d+)</code>", html)
    assert listed == [f"u{i:03d}" for i in reversed(range(45))]
    assert "One row per pipeline update, latest first" in html
