"""The self-contained HTML report: a pure renderer from :class:`ReportData` to one HTML page.

The page has no external assets (CSS, JS and SVG charts are inline), opens offline, and
is byte-for-byte the same for the same input. A tiny inline script only checks that the
graph and charts rendered and records it on ``<body data-render-ok>`` (used by the
browser test).

Example:
    >>> from soundlake.observe.report import render_report, report_data_from_events
    >>> html = render_report(report_data_from_events(events, mart_charts, row_counts=counts))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from importlib import resources

from soundlake.observe.report_charts import (
    daily_listening_chart,
    expectation_bars,
    plan_mix_chart,
    ranked_bar_chart,
    run_gantt,
)
from soundlake.observe.report_events import report_data_from_events
from soundlake.observe.report_model import (
    LAYERS,
    DailyListening,
    ExpectationResult,
    FlowRun,
    GraphEdge,
    GraphNode,
    MartCharts,
    PlanMixPoint,
    RankedItem,
    ReportData,
    RunSummary,
)
from soundlake.observe.report_svg import (
    LAYER_INKS,
    esc,
    fmt_int,
    fmt_seconds,
    render_graph,
    short_name,
    status_color,
    status_legend,
)

__all__ = [
    "DailyListening",
    "ExpectationResult",
    "FlowRun",
    "GraphEdge",
    "GraphNode",
    "MartCharts",
    "PlanMixPoint",
    "RankedItem",
    "ReportData",
    "RunSummary",
    "count_charts",
    "render_report",
    "report_data_from_events",
]


MAX_GANTT_RUNS = 10
"""Timelines are drawn for the latest runs only (the run table lists all)."""
MAX_BAR_RUNS = 30
"""Expectation bar charts show the latest runs only."""


def _asset(name: str) -> str:
    return (
        resources.files("soundlake.observe").joinpath("templates").joinpath(name).read_text("utf-8")
    )


def _pill(status: str | None) -> str:
    text = status or "unknown"
    return f'<span class="pill" style="background:{status_color(status)}">{esc(text)}</span>'


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "\u2014"


def _duration(run: RunSummary | FlowRun) -> float | None:
    if run.start is None or run.end is None:
        return None
    return max((run.end - run.start).total_seconds(), 0.0)


def count_charts(data: ReportData) -> int:
    """Number of ``svg.chart`` elements :func:`render_report` draws for ``data``."""
    marts = data.marts
    mart_charts = [marts.daily_listening, marts.plan_mix, marts.top_tracks, marts.top_artists]
    recent = data.runs[-MAX_GANTT_RUNS:]
    return sum(1 for rows in mart_charts if rows) + sum(1 for r in recent if r.flows)


def _card(
    label: str, value: str, hint: str = "", *, tint: str = "#cbd5e1", bad: bool = False
) -> str:
    return (
        f'<div class="card{" bad" if bad else ""}" style="--tint:{tint}">'
        f'<div class="label">{esc(label)}</div><div class="value">{esc(value)}</div>'
        f'<div class="hint">{esc(hint)}</div></div>'
    )


def _summary(data: ReportData) -> str:
    cards = []
    for layer in LAYERS:
        nodes = [n for n in data.nodes if n.layer == layer]
        if not nodes:
            continue
        known = [n.rows for n in nodes if n.rows is not None]
        value = fmt_int(sum(known)) if known else "\u2014"
        cards.append(
            _card(f"{layer} rows", value, f"{len(nodes)} datasets", tint=LAYER_INKS[layer])
        )
    latest = data.runs[-1] if data.runs else None
    cards.append(
        _card(
            "runs",
            str(len(data.runs)),
            f"latest {latest.status.lower()}, {fmt_seconds(_duration(latest))}"
            if latest
            else "none yet",
            tint=status_color(latest.status if latest else None),
        )
    )
    latest_results = [e for e in data.expectations if latest and e.update_id == latest.update_id]
    failed = sum(e.failed_records for e in latest_results)
    failing = sum(1 for e in latest_results if e.failed_records)
    cards.append(
        _card(
            "expectation failures",
            fmt_int(failed),
            f"{failing} of {len(latest_results)} expectations in latest run",
            tint="#dc2626" if failed else "#16a34a",
            bad=failed > 0,
        )
    )
    cards.append(
        _card(
            "quarantined rows",
            fmt_int(data.quarantined_rows),
            "held for review",
            tint="#f59e0b" if data.quarantined_rows else "#16a34a",
        )
    )
    return f'<div class="cards">{"".join(cards)}</div>'


def _graph_section(data: ReportData) -> str:
    latest = data.runs[-1].update_id if data.runs else "none"
    return (
        '<section class="panel" id="graph"><h2>Pipeline graph</h2>'
        f'<p class="note">Datasets by layer with the rows each table holds now, flows as arrows; '
        f"status of each flow in the latest "
        f"run (<code>{esc(latest)}</code>). Hover a dataset for details.</p>"
        f'<div class="scroll">{render_graph(data.nodes, data.edges)}</div>'
        f"{status_legend(n.status for n in data.nodes)}</section>"
    )


def _lineage_section(data: ReportData) -> str:
    """Each dataset's columns as buttons; a click highlights the column's upstream path."""
    if not data.lineage:
        return ""
    nodes = {n.name for n in data.nodes}
    columns: dict[str, list[str]] = {}
    for relation, column, _, _ in data.lineage:
        if relation in nodes and column not in columns.setdefault(relation, []):
            columns[relation].append(column)
    rows = "".join(
        f'<div class="lineage-row"><span class="lineage-table">{esc(short_name(relation))}</span>'
        + "".join(f'<button type="button" class="lineage-col" data-rel="{esc(relation)}" '
                  f'data-col="{esc(column)}">{esc(column)}</button>' for column in cols)
        + "</div>"
        for relation, cols in sorted(columns.items())
    )
    payload = json.dumps([list(edge) for edge in data.lineage], separators=(",", ":")).replace("</", "<\\/")
    return (
        '<section class="panel" id="lineage"><h2>Column lineage</h2>'
        '<p class="note">Click a column: the datasets and flows it is computed from light up in the '
        "pipeline graph, and its path down to the source database's columns is listed below.</p>"
        f'<div class="lineage-list">{rows}</div><ol id="lineage-path" class="lineage-path"></ol>'
        f'<script type="application/json" id="lineage-data">{payload}</script></section>'
    )


def _run_row(index: int, run: RunSummary) -> str:
    counts: dict[str, int] = {}
    for flow in run.flows:
        counts[flow.status] = counts.get(flow.status, 0) + 1
    mix = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "\u2014"
    written = sum(f.output_rows for f in run.flows)
    return (
        f"<tr><td>{index}</td><td><code>{esc(run.update_id)}</code></td>"
        f'<td>{esc(_when(run.start))}</td><td class="num">{esc(fmt_seconds(_duration(run)))}</td>'
        f"<td>{_pill(run.status)}</td><td>{esc(mix)}</td>"
        f'<td class="num">{esc(fmt_int(written))}</td></tr>'
    )


def _runs_section(data: ReportData) -> str:
    if not data.runs:
        return (
            '<section class="panel" id="runs"><h2>Run timeline</h2>'
            '<p class="empty">No runs recorded in the event log yet.</p></section>'
        )
    rows = "".join(_run_row(i + 1, r) for i, r in reversed(list(enumerate(data.runs))))
    table = (
        "<table><thead><tr><th>#</th><th>update</th><th>started (UTC)</th>"
        '<th class="num">duration</th><th>status</th><th>flows</th>'
        f'<th class="num">rows written</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    gantts = []
    first = max(len(data.runs) - MAX_GANTT_RUNS, 0)
    for index, run in reversed(list(enumerate(data.runs))[first:]):
        body = run_gantt(run) if run.flows else '<p class="empty">No flow ran.</p>'
        gantts.append(
            f'<details class="run"{" open" if index == len(data.runs) - 1 else ""}>'
            f'<summary>Run {index + 1} {_pill(run.status)}<span class="meta">'
            f"{esc(_when(run.start))} \u00b7 {esc(fmt_seconds(_duration(run)))} \u00b7 "
            f'{len(run.flows)} flows</span></summary><div class="scroll">{body}</div></details>'
        )
    return (
        '<section class="panel" id="runs"><h2>Run timeline</h2>'
        '<p class="note">One row per pipeline update, latest first; below, each flow of a run '
        f"from its start to its end (the latest {MAX_GANTT_RUNS} runs, latest first).</p>"
        f'<div class="scroll">{table}</div>{"".join(gantts)}</section>'
    )


def _expectation_rows(data: ReportData, run_ids: Sequence[str], first_run: int) -> str:
    groups: dict[tuple[str, str], list[ExpectationResult]] = {}
    for result in data.expectations:
        groups.setdefault((result.dataset, result.name), []).append(result)
    order = {run_id: i for i, run_id in enumerate(run_ids)}
    rows: list[str] = []
    current = None
    for (dataset, name), results in sorted(groups.items()):
        if dataset != current:
            rows.append(f'<tr class="group"><td colspan="6">{esc(dataset)}</td></tr>')
            current = dataset
        results.sort(key=lambda r: order.get(r.update_id, -1))
        last = results[-1]
        total = last.passed_records + last.failed_records
        rate = f"{100 * last.failed_records / total:.2f}%" if total else "\u2014"
        all_failed = sum(r.failed_records for r in results)
        cls = "fail" if last.failed_records else "ok"
        rows.append(
            f"<tr><td><code>{esc(name)}</code></td>"
            f'<td class="num">{esc(fmt_int(last.passed_records))}</td>'
            f'<td class="num {cls}">{esc(fmt_int(last.failed_records))}</td>'
            f'<td class="num">{esc(rate)}</td><td class="num">{esc(fmt_int(all_failed))}</td>'
            f"<td>{expectation_bars(results, run_ids, first_run)}</td></tr>"
        )
    return "".join(rows)


def _expectations_section(data: ReportData) -> str:
    head = '<section class="panel" id="expectations"><h2>Data quality: expectations</h2>'
    if not data.expectations:
        return head + '<p class="empty">No expectation results in the event log.</p></section>'
    run_ids = [r.update_id for r in data.runs]
    for result in data.expectations:
        if result.update_id not in run_ids:
            run_ids.append(result.update_id)
    first_run = max(len(run_ids) - MAX_BAR_RUNS, 0) + 1
    run_ids = run_ids[-MAX_BAR_RUNS:]
    return (
        head + '<p class="note">Latest result per expectation, and failed records per run '
        f"(latest {MAX_BAR_RUNS} runs, oldest on the left; red bars are failures, "
        "green ticks clean runs).</p>"
        '<div class="scroll"><table><thead><tr><th>expectation</th><th class="num">passed</th>'
        '<th class="num">failed</th><th class="num">fail rate</th>'
        '<th class="num">failed, all runs</th><th>failed per run</th></tr></thead>'
        f"<tbody>{_expectation_rows(data, run_ids, first_run)}</tbody></table></div></section>"
    )


def _missing(what: str) -> str:
    return f'<p class="empty">The {esc(what)} mart is missing or empty: nothing to chart yet.</p>'


def _marts_section(data: ReportData) -> str:
    marts = data.marts
    parts = [
        '<section class="panel" id="marts"><h2>Marts</h2>',
        '<p class="note">Charts of the gold marts at the time of the report.</p>',
    ]
    parts.append("<h3>Daily listening</h3>")
    parts.append(
        daily_listening_chart(marts.daily_listening)
        if marts.daily_listening
        else _missing("daily listening")
    )
    parts.append(f"<h3>Plan mix over time ({esc(marts.plan_mix_measure)} per month)</h3>")
    parts.append(
        plan_mix_chart(marts.plan_mix, marts.plan_mix_measure)
        if marts.plan_mix
        else _missing("plan mix")
    )
    parts.append('<div class="grid2"><div><h3>Top tracks (plays)</h3>')
    parts.append(
        ranked_bar_chart(marts.top_tracks, "Top tracks")
        if marts.top_tracks
        else _missing("top tracks")
    )
    parts.append("</div><div><h3>Top artists (plays)</h3>")
    parts.append(
        ranked_bar_chart(marts.top_artists, "Top artists", "#6366f1")
        if marts.top_artists
        else _missing("top artists")
    )
    parts.append("</div></div></section>")
    return "".join(parts)


def render_report(data: ReportData) -> str:
    """Render the report as one self-contained HTML document.

    Args:
        data: Everything to show; see :class:`ReportData`.

    Returns:
        The HTML text (UTF-8 when written). Same input, same output.
    """
    subtitle = [f"pipeline <b>{esc(data.pipeline_name)}</b>" if data.pipeline_name else ""]
    if data.generated_at:
        subtitle.append(f"generated {esc(data.generated_at)}")
    expected_nodes = len(data.nodes)
    sub = " \u00b7 ".join(s for s in subtitle if s)
    lineage_link = '<a href="#lineage">Column lineage</a>' if data.lineage else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(data.title)}</title><style>{_asset('report.css')}</style>"
        f"<script>{_asset('report.js')}</script></head>"
        f'<body data-expect-nodes="{expected_nodes}" data-expect-charts="{count_charts(data)}">'
        f'<header class="top"><div class="wrap"><h1>{esc(data.title)}</h1>'
        f'<div class="sub">{sub}</div>'
        '<nav class="toc"><a href="#graph">Pipeline graph</a>'
        f"{lineage_link}"
        '<a href="#runs">Run timeline</a>'
        '<a href="#expectations">Expectations</a><a href="#marts">Marts</a></nav></div></header>'
        f'<main class="wrap">{_summary(data)}{_graph_section(data)}{_lineage_section(data)}{_runs_section(data)}'
        f"{_expectations_section(data)}{_marts_section(data)}</main>"
        "<footer>soundlake \u00b7 self-contained report, no external assets</footer>"
        "</body></html>\n"
    )
