"""Inline SVG charts of the report: mart charts, run Gantt charts, expectation bars."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from soundlake.observe.report_model import (
    DailyListening,
    ExpectationResult,
    PlanMixPoint,
    RankedItem,
    RunSummary,
)
from soundlake.observe.report_svg import (
    PALETTE,
    _xy,
    esc,
    fmt_int,
    fmt_num,
    fmt_seconds,
    nice_ticks,
    status_color,
    svg_open,
    truncate,
)

PLAN_COLORS = {"Free": "#94a3b8", "Premium": "#1db954", "Family": "#6366f1", "Unknown": "#e2e8f0"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day_label(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day:02d}"


def _month_label(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.year}"


def _y_axis(
    ticks: list[float], x0: float, x1: float, y_of: Callable[[float], float], unit: str = ""
) -> str:
    parts = []
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{_xy(x0)}" x2="{_xy(x1)}" y1="{_xy(y)}" y2="{_xy(y)}"/>'
            f'<text class="tick" x="{_xy(x0 - 8)}" y="{_xy(y + 4)}" text-anchor="end">'
            f"{esc(fmt_num(tick) + unit)}</text>"
        )
    return "".join(parts)


def _x_day_ticks(days: Sequence[date], x_of: Callable[[date], float], y: float) -> str:
    if not days:
        return ""
    span = (days[-1] - days[0]).days
    if span > 120:
        picks = [d for d in days if d.day == 1] or list(days[:: max(len(days) // 6, 1)])
        picks = picks[:: max(len(picks) // 12 + (1 if len(picks) > 12 else 0), 1)]
        label = _month_label
    else:
        picks = list(days[:: max(len(days) // 7, 1)])
        label = _day_label
    return "".join(
        f'<text class="tick" x="{_xy(x_of(d))}" y="{_xy(y)}" text-anchor="middle">'
        f"{esc(label(d))}</text>"
        for d in picks
    )


def _line_panel(
    points: Sequence[tuple[date, float]],
    *,
    top: float,
    height: float,
    width: float,
    name: str,
    color: str,
    unit: str,
) -> str:
    left, right = 64.0, 16.0
    days = [p[0] for p in points]
    first, last = days[0], days[-1]
    span = max((last - first).days, 1)
    ticks = nice_ticks(max(v for _, v in points))

    def x_of(d: date) -> float:
        return left + (width - left - right) * ((d - first).days / span if last != first else 0.5)

    def y_of(v: float) -> float:
        return top + height - height * v / ticks[-1]

    coords = [(x_of(d), y_of(v)) for d, v in points]
    line = " ".join(f"{_xy(x)},{_xy(y)}" for x, y in coords)
    area = (
        f"{_xy(coords[0][0])},{_xy(top + height)} {line} {_xy(coords[-1][0])},{_xy(top + height)}"
    )
    dots = "".join(
        f'<circle class="dot" cx="{_xy(x)}" cy="{_xy(y)}" r="{3 if len(points) <= 62 else 1.6}" '
        f'fill="{color}"><title>{esc(d.isoformat())}: {esc(fmt_exact(v))} {esc(name)}</title></circle>'
        for (x, y), (d, v) in zip(coords, points)
    )
    return (
        f'<text class="panel-title" x="{_xy(left)}" y="{_xy(top - 10)}">{esc(name)}</text>'
        + _y_axis(ticks, left, width - right, y_of, unit)
        + f'<polygon class="area" points="{area}" fill="{color}" fill-opacity="0.12"/>'
        + f'<polyline class="series" points="{line}" fill="none" stroke="{color}" '
        f'stroke-width="2" stroke-linejoin="round"/>'
        + dots
        + _x_day_ticks(days, x_of, top + height + 18)
    )


def fmt_exact(value: float) -> str:
    """A tooltip value: a whole number with separators, else two decimals (never 1.2k)."""
    return fmt_int(value) if value == int(value) else f"{value:,.2f}"


def daily_listening_chart(rows: Sequence[DailyListening]) -> str:
    """Two stacked line panels: plays per day and minutes listened per day."""
    rows = sorted(rows, key=lambda r: r.day)
    width, panel = 960.0, 150.0
    body = _line_panel(
        [(r.day, float(r.plays)) for r in rows],
        top=28,
        height=panel,
        width=width,
        name="plays",
        color="#1db954",
        unit="",
    ) + _line_panel(
        [(r.day, float(r.minutes)) for r in rows],
        top=28 + panel + 70,
        height=panel,
        width=width,
        name="minutes listened",
        color="#6366f1",
        unit="",
    )
    height = 28 + panel * 2 + 70 + 30
    return svg_open(width, height, "chart chart-daily", "Daily listening") + body + "</svg>"


def _legend_svg(names: Sequence[str], colors: dict[str, str], x: float, y: float) -> str:
    parts = []
    for name in names:
        parts.append(
            f'<rect x="{_xy(x)}" y="{_xy(y - 10)}" width="12" height="12" rx="3" '
            f'fill="{colors[name]}"/><text class="legend-text" x="{_xy(x + 18)}" y="{_xy(y)}">'
            f"{esc(name)}</text>"
        )
        x += 30 + 7.5 * len(name)
    return "".join(parts)


def plan_colors(plans: Sequence[str]) -> dict[str, str]:
    """Stable colors per plan: the known plans fixed, others from the palette."""
    colors: dict[str, str] = {}
    extra = iter(PALETTE[2:] * 4)
    for plan in plans:
        colors[plan] = PLAN_COLORS.get(plan) or next(extra)
    return colors


def plan_mix_chart(points: Sequence[PlanMixPoint], measure: str) -> str:
    """Stacked bars per month, one segment per subscription plan."""
    months = sorted({p.month for p in points})
    order = {"Free": 0, "Premium": 1, "Family": 2}
    plans = sorted({p.plan for p in points}, key=lambda p: (order.get(p, 9), p))
    values = {(p.month, p.plan): p.value for p in points}
    colors = plan_colors(plans)
    width, height, left, right, top, bottom = 960.0, 300.0, 64.0, 16.0, 40.0, 36.0
    totals = [sum(values.get((m, p), 0.0) for p in plans) for m in months]
    ticks = nice_ticks(max(totals, default=0.0))
    inner_h = height - top - bottom
    slot = (width - left - right) / max(len(months), 1)
    bar = min(slot * 0.7, 56)

    def y_of(v: float) -> float:
        return top + inner_h - inner_h * v / ticks[-1]

    parts = [svg_open(width, height, "chart chart-plan-mix", f"Plan mix ({measure}) per month")]
    parts.append(_legend_svg(plans, colors, left, 18))
    parts.append(_y_axis(ticks, left, width - right, y_of))
    every = max(len(months) // 14 + (1 if len(months) > 14 else 0), 1)
    for index, month in enumerate(months):
        x = left + slot * index + (slot - bar) / 2
        base = 0.0
        for plan in plans:
            value = values.get((month, plan), 0.0)
            if value <= 0:
                continue
            y0, y1 = y_of(base), y_of(base + value)
            parts.append(
                f'<rect class="bar" x="{_xy(x)}" y="{_xy(y1)}" width="{_xy(bar)}" '
                f'height="{_xy(max(y0 - y1, 0.5))}" fill="{colors[plan]}"><title>{esc(month)} '
                f"\u00b7 {esc(plan)}: {esc(fmt_int(value))} {esc(measure)}</title></rect>"
            )
            base += value
        if index % every == 0:
            parts.append(
                f'<text class="tick" x="{_xy(x + bar / 2)}" y="{_xy(height - bottom + 18)}" '
                f'text-anchor="middle">{esc(month)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def ranked_bar_chart(items: Sequence[RankedItem], label: str, color: str = "#1db954") -> str:
    """Horizontal bars, largest first, with the value at the end of each bar."""
    items = list(items)
    width, row, left, right, top = 560.0, 32.0, 200.0, 56.0, 8.0
    height = top * 2 + row * len(items)
    ticks = nice_ticks(max((i.plays for i in items), default=0))
    scale = (width - left - right) / ticks[-1]
    parts = [svg_open(width, height, "chart chart-ranked", label)]
    for index, item in enumerate(items):
        y = top + index * row
        length = max(item.plays * scale, 1.0)
        text = truncate(item.label, 24)
        detail = f" \u2014 {item.detail}" if item.detail else ""
        parts.append(
            f'<g class="rank-row"><title>{esc(item.label)}{esc(detail)}: {esc(fmt_int(item.plays))} '
            f'plays</title><text class="rank-label" x="{_xy(left - 10)}" y="{_xy(y + 14)}" '
            f'text-anchor="end">{esc(f"{index + 1}. {text}")}</text>'
        )
        if item.detail:
            parts.append(
                f'<text class="rank-detail" x="{_xy(left - 10)}" y="{_xy(y + 26)}" '
                f'text-anchor="end">{esc(truncate(item.detail, 30))}</text>'
            )
        parts.append(
            f'<rect class="bar" x="{_xy(left)}" y="{_xy(y + 6)}" width="{_xy(length)}" '
            f'height="{_xy(row - 12)}" rx="4" fill="{color}"/>'
            f'<text class="bar-value" x="{_xy(left + length + 8)}" y="{_xy(y + 20)}">'
            f"{esc(fmt_int(item.plays))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return max((end - start).total_seconds(), 0.0)


def run_gantt(run: RunSummary) -> str:
    """Gantt chart of one run: one row per flow, bar from its start to its end."""
    flows = list(run.flows)
    starts = [f.start for f in flows if f.start] + ([run.start] if run.start else [])
    ends = [f.end for f in flows if f.end] + ([run.end] if run.end else [])
    origin = min(starts) if starts else None
    total = max(_seconds(origin, max(ends)) if ends else 0.0, 0.001)
    width, row, left, right, top = 960.0, 22.0, 250.0, 80.0, 26.0
    height = top + row * len(flows) + 10
    scale = (width - left - right) / total
    parts = [svg_open(width, height, "chart chart-gantt", f"Timeline of run {run.update_id}")]
    for tick in nice_ticks(total, 5):
        if tick > total * 1.001:
            break
        x = left + tick * scale
        parts.append(
            f'<line class="grid" x1="{_xy(x)}" x2="{_xy(x)}" y1="{_xy(top - 6)}" '
            f'y2="{_xy(height - 6)}"/><text class="tick" x="{_xy(x)}" y="{_xy(top - 10)}" '
            f'text-anchor="middle">{esc(fmt_seconds(tick) if tick else "0")}</text>'
        )
    for index, flow in enumerate(flows):
        y = top + index * row
        begin = _seconds(origin, flow.start) if flow.start else 0.0
        length = _seconds(flow.start, flow.end)
        x = left + begin * scale
        color = status_color(flow.status)
        tip = (
            f"{flow.flow} \u2192 {flow.dataset}\n{flow.status} in {fmt_seconds(length)}"
            + (f"\nrows in: {fmt_int(flow.input_rows)}" if flow.input_rows is not None else "")
            + f"\nwritten: {fmt_int(flow.output_rows)}"
            + "".join(
                f"\n{label}: {fmt_int(value)}"
                for label, value in (("upserted", flow.upserted_rows), ("deleted", flow.deleted_rows),
                                     ("dropped", flow.dropped_records),
                                     ("quarantined", flow.quarantined_records))
                if value
            )
            + (f"\nerror: {flow.error}" if flow.error else "")
        )
        parts.append(
            f'<g class="gantt-row" data-status="{esc(flow.status)}"><title>{esc(tip)}</title>'
            f'<text class="rank-label" x="{_xy(left - 10)}" y="{_xy(y + 15)}" text-anchor="end">'
            f"{esc(truncate(flow.flow, 34))}</text>"
            f'<rect class="bar" x="{_xy(x)}" y="{_xy(y + 4)}" width="{_xy(max(length * scale, 3))}" '
            f'height="{_xy(row - 8)}" rx="3" fill="{color}"/>'
            f'<text class="bar-value" x="{_xy(x + max(length * scale, 3) + 6)}" y="{_xy(y + 15)}">'
            f"{esc(fmt_seconds(length) if flow.status not in ('SKIPPED', 'EXCLUDED') else flow.status.lower())}"
            "</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def expectation_bars(
    results: Sequence[ExpectationResult], run_ids: Sequence[str], first_run: int = 1
) -> str:
    """Small bar chart of failed records per run (zero runs drawn as a green tick).

    ``first_run`` is the number shown for the first of ``run_ids`` in tooltips.
    """
    by_run = {r.update_id: r for r in results}
    width, height, gap = max(16.0 * len(run_ids), 48.0), 30.0, 4.0
    slot = width / max(len(run_ids), 1)
    peak = max((r.failed_records for r in results if r.update_id in run_ids), default=0)
    parts = [svg_open(width, height, "spark", "Failed records per run", fixed=True)]
    for index, run_id in enumerate(run_ids):
        x = index * slot + gap / 2
        result = by_run.get(run_id)
        if result is None:
            parts.append(
                f'<rect x="{_xy(x)}" y="{_xy(height - 2)}" width="{_xy(slot - gap)}" height="2" '
                f'fill="#e2e8f0"><title>run {index + first_run}: not evaluated</title></rect>'
            )
            continue
        total = result.passed_records + result.failed_records
        tip = (
            f"run {index + first_run}: {fmt_int(result.passed_records)} passed, "
            f"{fmt_int(result.failed_records)} failed of {fmt_int(total)}"
        )
        if result.failed_records == 0:
            bar_h, color = 3.0, "#16a34a"
        else:
            bar_h, color = max((height - 2) * result.failed_records / peak, 4.0), "#dc2626"
        parts.append(
            f'<rect x="{_xy(x)}" y="{_xy(height - bar_h)}" width="{_xy(slot - gap)}" '
            f'height="{_xy(bar_h)}" rx="1.5" fill="{color}"><title>{esc(tip)}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)
