"""Inline SVG for the report: shared helpers and the layered pipeline graph (DAG).

Everything here is pure: values in, escaped SVG text out, same output for the same input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from soundlake.observe.report_model import LAYERS, GraphEdge, GraphNode

STATUS_COLORS: dict[str, str] = {
    "COMPLETED": "#16a34a",
    "FAILED": "#dc2626",
    "SKIPPED": "#f59e0b",
    "IDLE": "#64748b",
    "EXCLUDED": "#cbd5e1",
    "STOPPED": "#7c3aed",
    "RUNNING": "#2563eb",
    "STARTING": "#2563eb",
    "PLANNING": "#2563eb",
    "QUEUED": "#93c5fd",
}
NO_STATUS_COLOR = "#94a3b8"
LAYER_TINTS: dict[str, str] = {
    "bronze": "#fbf3ea",
    "silver": "#f1f5f9",
    "gold": "#fdf8e4",
    "mart": "#eef6f0",
}
LAYER_INKS: dict[str, str] = {
    "bronze": "#9a5b1e",
    "silver": "#475569",
    "gold": "#a16207",
    "mart": "#15803d",
}
PALETTE = ("#1db954", "#6366f1", "#f59e0b", "#0ea5e9", "#ec4899", "#14b8a6", "#a855f7", "#64748b")

NODE_W = 222
NODE_H = 52
COL_GAP = 64
ROW_GAP = 16
PAD = 16
HEADER = 34


def esc(text: object) -> str:
    """Escape any value for HTML/SVG text and attributes."""
    return escape(str(text), quote=True)


def fmt_int(value: float | None) -> str:
    """Format a count with thousands separators, or an em dash when unknown."""
    if value is None:
        return "\u2014"
    return f"{round(value):,}"


def fmt_num(value: float) -> str:
    """Format a measure compactly (1.2k, 3.4M) for axis labels."""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if magnitude >= 10_000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}"


def fmt_seconds(seconds: float | None) -> str:
    """Format a duration: ``850 ms``, ``4.2 s``, ``3 min 05 s``."""
    if seconds is None:
        return "\u2014"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def status_color(status: str | None) -> str:
    """Color of a flow status (gray when unknown)."""
    return STATUS_COLORS.get(status or "", NO_STATUS_COLOR)


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round axis ticks from 0 to at least ``maximum``."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    top = math.ceil(maximum / step - 1e-9) * step
    return [round(i * step, 10) for i in range(round(top / step) + 1)]


def truncate(text: str, limit: int) -> str:
    """Shorten text to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "\u2026"


def short_name(name: str) -> str:
    """Last part of a dotted or slashed dataset name."""
    path = name.removeprefix("files:")
    path = path.replace("\\", "/").rstrip("/")
    tail = path.split("/")[-1] if "/" in path else path.split(".")[-1]
    return tail or name


def _xy(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def svg_open(
    width: float, height: float, css_class: str, label: str, *, fixed: bool = False
) -> str:
    """Opening ``<svg>`` tag with a viewBox; ``fixed`` keeps the natural pixel size."""
    size = f' width="{_xy(width)}" height="{_xy(height)}"' if fixed else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{esc(css_class)}" role="img" '
        f'aria-label="{esc(label)}" viewBox="0 0 {_xy(width)} {_xy(height)}"{size}>'
    )


@dataclass(frozen=True)
class GraphLayout:
    """Positions of graph nodes (top-left corners) and the canvas size."""

    positions: dict[str, tuple[float, float]]
    columns: tuple[tuple[str, tuple[str, ...]], ...]
    width: float
    height: float


def _depth_in_layer(nodes: dict[str, GraphNode], preds: dict[str, list[str]]) -> dict[str, int]:
    """Longest chain of same-layer predecessors per node (cycles are cut)."""
    depth: dict[str, int] = {}
    visiting: set[str] = set()

    def visit(name: str) -> int:
        if name in depth:
            return depth[name]
        if name in visiting:
            return 0
        visiting.add(name)
        layer = nodes[name].layer
        same = [p for p in preds.get(name, []) if nodes[p].layer == layer]
        value = max((visit(p) + 1 for p in same), default=0)
        visiting.discard(name)
        depth[name] = value
        return value

    for name in sorted(nodes):
        visit(name)
    return depth


def layout_graph(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> GraphLayout:
    """Layered layout: columns grouped by layer, depth within a layer, barycentric order."""
    by_name = {n.name: n for n in nodes}
    preds: dict[str, list[str]] = {}
    for edge in edges:
        if edge.source in by_name and edge.target in by_name and edge.source != edge.target:
            preds.setdefault(edge.target, []).append(edge.source)
    depth = _depth_in_layer(by_name, preds)
    grouped: dict[tuple[int, int], list[str]] = {}
    for name, node in by_name.items():
        grouped.setdefault((LAYERS.index(node.layer), depth[name]), []).append(name)
    keys = sorted(grouped)
    tallest = max((len(v) for v in grouped.values()), default=0)
    height = HEADER + PAD * 2 + tallest * NODE_H + max(tallest - 1, 0) * ROW_GAP
    positions: dict[str, tuple[float, float]] = {}
    columns: list[tuple[str, tuple[str, ...]]] = []
    for index, key in enumerate(keys):
        members = sorted(grouped[key])

        # list.sort empties the list while it sorts, so look positions up in a copy.
        order = {name: i for i, name in enumerate(members)}

        def barycenter(name: str, current: dict[str, int] = order) -> tuple[float, str]:
            ys = [positions[p][1] for p in preds.get(name, []) if p in positions]
            return (sum(ys) / len(ys) if ys else float(current[name]) * 1e-6 - 1e6, name)

        if index > 0:
            members.sort(key=barycenter)
        span = len(members) * NODE_H + (len(members) - 1) * ROW_GAP
        top = HEADER + PAD + (height - HEADER - PAD * 2 - span) / 2
        x = PAD + index * (NODE_W + COL_GAP)
        for row, name in enumerate(members):
            positions[name] = (x, top + row * (NODE_H + ROW_GAP))
        columns.append((LAYERS[key[0]], tuple(members)))
    width = PAD * 2 + len(keys) * NODE_W + max(len(keys) - 1, 0) * COL_GAP
    return GraphLayout(positions, tuple(columns), float(max(width, 200)), float(max(height, 120)))


def _layer_bands(layout: GraphLayout) -> Iterable[str]:
    start = 0
    while start < len(layout.columns):
        layer = layout.columns[start][0]
        end = start
        while end + 1 < len(layout.columns) and layout.columns[end + 1][0] == layer:
            end += 1
        x0 = PAD + start * (NODE_W + COL_GAP) - COL_GAP / 4
        x1 = PAD + end * (NODE_W + COL_GAP) + NODE_W + COL_GAP / 4
        yield (
            f'<rect class="band" x="{_xy(x0)}" y="4" width="{_xy(x1 - x0)}" '
            f'height="{_xy(layout.height - 8)}" rx="10" fill="{LAYER_TINTS[layer]}"/>'
            f'<text class="band-label" x="{_xy((x0 + x1) / 2)}" y="24" text-anchor="middle" '
            f'fill="{LAYER_INKS[layer]}">{esc(layer.upper())}</text>'
        )
        start = end + 1


def _edge_path(src: tuple[float, float], dst: tuple[float, float]) -> str:
    x1, y1 = src[0] + NODE_W, src[1] + NODE_H / 2
    x2, y2 = dst[0] - 6, dst[1] + NODE_H / 2
    dx = max(abs(x2 - x1) / 2, 24)
    return (
        f"M{_xy(x1)},{_xy(y1)} C{_xy(x1 + dx)},{_xy(y1)} {_xy(x2 - dx)},{_xy(y2)} "
        f"{_xy(x2)},{_xy(y2)}"
    )


def _node_svg(node: GraphNode, x: float, y: float) -> str:
    color = status_color(node.status)
    status = node.status or ("source" if node.kind == "files" else "not run")
    rows = f"{fmt_int(node.rows)} rows" if node.rows is not None else "rows \u2014"
    tip = [node.name, f"layer: {node.layer}", f"kind: {node.kind}", f"status: {status}"]
    if node.rows is not None:
        tip.append(f"rows in the table now: {fmt_int(node.rows)}")
    if node.last_output_rows is not None:
        tip.append(f"written in latest run: {fmt_int(node.last_output_rows)}")
    if node.data_run is not None and node.data_output_rows is not None:
        tip.append(f"written in run {node.data_run}, its last with data: {fmt_int(node.data_output_rows)}")
    return (
        f'<g class="node" data-name="{esc(node.name)}" data-status="{esc(status)}" '
        f'transform="translate({_xy(x)},{_xy(y)})"><title>{esc(chr(10).join(tip))}</title>'
        f'<rect class="node-box" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
        f'<rect width="6" height="{NODE_H}" rx="3" fill="{color}"/>'
        f'<text class="node-name" x="16" y="21">{esc(truncate(short_name(node.name), 26))}</text>'
        f'<text class="node-rows" x="16" y="40">{esc(rows)}</text>'
        f'<circle cx="{NODE_W - 82}" cy="36" r="4" fill="{color}"/>'
        f'<text class="node-status" x="{NODE_W - 74}" y="40" fill="{color}">'
        f"{esc(truncate(status, 10))}</text></g>"
    )


def render_graph(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> str:
    """The pipeline DAG as inline SVG: layer bands, edges with arrows, status-colored nodes."""
    if not nodes:
        return '<p class="empty">No datasets in the event log yet.</p>'
    layout = layout_graph(nodes, edges)
    parts = [svg_open(layout.width, layout.height, "graph", "Pipeline graph", fixed=True)]
    parts.append(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#94a3b8"/></marker></defs>'
    )
    parts.extend(_layer_bands(layout))
    by_name = {n.name: n for n in nodes}
    for edge in sorted(set(edges), key=lambda e: (e.source, e.target)):
        if edge.source not in layout.positions or edge.target not in layout.positions:
            continue
        dashed = by_name[edge.target].status in ("SKIPPED", "FAILED")
        parts.append(
            f'<path class="edge{" edge-broken" if dashed else ""}" data-source="{esc(edge.source)}" '
            f'data-target="{esc(edge.target)}" '
            f'd="{_edge_path(layout.positions[edge.source], layout.positions[edge.target])}" '
            f'marker-end="url(#arrow)"><title>{esc(edge.source)} \u2192 {esc(edge.target)}'
            "</title></path>"
        )
    for node in sorted(nodes, key=lambda n: n.name):
        x, y = layout.positions[node.name]
        parts.append(_node_svg(node, x, y))
    parts.append("</svg>")
    return "".join(parts)


def status_legend(statuses: Iterable[str | None]) -> str:
    """A legend of the flow statuses present, as HTML."""
    seen = sorted({s or "not run" for s in statuses})
    items = "".join(
        f'<span class="legend-item"><i style="background:{status_color(None if s == "not run" else s)}">'
        f"</i>{esc(s)}</span>"
        for s in seen
    )
    return f'<div class="legend">{items}</div>'
