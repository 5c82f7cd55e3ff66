"""The report in a real headless Chromium (``$CHROMIUM``, else ``chromium`` or ``chromium-browser``
or ``google-chrome`` on ``PATH``; scripts/install-chromium.sh installs Debian's).

Loads the written file, lets the report's own script check that the graph and every chart
rendered with a size (``<body data-render-ok>``), asserts Chromium logged no console
message for the page, and keeps a screenshot under ``test-artifacts/``. Skips when Chromium
is absent, except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from soundlake.demo.report_sample import sample_report_data
from soundlake.observe.report import ReportData, count_charts, render_report
from tests.conftest import REPO

CHROMIUM_ENV = "CHROMIUM"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> Path | None:
    """``$CHROMIUM`` when set, else the first Chromium-family browser on ``PATH``."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return Path(configured)
    found = next((hit for name in BROWSERS if (hit := shutil.which(name))), None)
    return Path(found) if found else None


ARTIFACTS = REPO / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Path of Chromium; skip without it (fail under CI)."""
    exe = find_chromium()
    if exe is None or not (exe.is_file() and os.access(exe, os.X_OK)):
        where = f"{CHROMIUM_ENV}={exe}" if exe else f"none of {', '.join(BROWSERS)} on PATH"
        message = f"no Chromium ({where}): run 'bash scripts/install-chromium.sh' or set {CHROMIUM_ENV}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must run the browser test)")
        pytest.skip(message)
    return exe


def run_chromium(
    exe: Path, page: Path, profile: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [str(exe), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def console_lines(stderr: str, page: Path) -> list[str]:
    """Console messages Chromium logged for ``page`` (every level logs as INFO:CONSOLE)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line and page.name in line]


def body_attribute(dom: str, name: str) -> str | None:
    match = re.search(r"<body\b[^>]*\b" + re.escape(name) + r'="([^"]*)"', dom)
    return match.group(1) if match else None


def load(exe: Path, tmp_path: Path, html: str, name: str) -> tuple[str, list[str]]:
    page = tmp_path / name
    page.write_text(html, encoding="utf-8")
    result = run_chromium(
        exe, page, tmp_path / f"profile-{name}", "--dump-dom", "--virtual-time-budget=3000"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, console_lines(result.stderr, page)


def test_report_renders_in_chromium(chromium: Path, tmp_path: Path) -> None:
    data = sample_report_data()
    dom, console = load(chromium, tmp_path, render_report(data), "report.html")
    assert console == []
    info_text = body_attribute(dom, "data-render-info")
    assert info_text is not None, "the report's script did not run"
    info = json.loads(info_text.replace("&quot;", '"'))
    assert info == {
        "nodes": len(data.nodes),
        "edges": len(data.edges),
        "charts": count_charts(data),
        "sized": info["svgs"],
        "svgs": info["svgs"],
        "errors": 0,
    }
    assert info["svgs"] == 1 + count_charts(data)  # graph + charts, all with a size
    assert body_attribute(dom, "data-render-ok") == "true"

    ARTIFACTS.mkdir(exist_ok=True)
    html_copy = ARTIFACTS / "report.html"
    html_copy.write_text(render_report(data), encoding="utf-8")
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    result = run_chromium(
        chromium,
        html_copy,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_empty_report_renders_in_chromium(chromium: Path, tmp_path: Path) -> None:
    dom, console = load(chromium, tmp_path, render_report(ReportData()), "empty.html")
    assert console == []
    assert body_attribute(dom, "data-render-ok") == "true"
    assert "mart is missing or empty" in dom


def test_console_errors_are_detected(chromium: Path, tmp_path: Path) -> None:
    """Control: a page whose script throws is seen as failing, so a pass above means something."""
    html = render_report(ReportData()).replace(
        "</body>", "<script>undefinedFunction();</script></body>"
    )
    dom, console = load(chromium, tmp_path, html, "broken.html")
    assert any("Uncaught ReferenceError" in line for line in console)
    assert body_attribute(dom, "data-render-ok") == "false"


def test_chart_totals_in_chromium_equal_sql_over_the_marts(chromium: Path, tmp_path: Path) -> None:
    """Each chart, as Chromium renders it, shows the totals a SQL query gives over its mart."""
    import html as html_lib
    from datetime import date, timedelta

    import pyarrow as pa

    from soundlake.catalog.names import TableName
    from soundlake.demo.report_marts import mart_charts
    from soundlake.lake import delta
    from soundlake.project.context import Project
    from soundlake.project.pipeline_ops import query
    from soundlake.project.report_ops import mart_rows

    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\ncatalog: c\nschema: gold\n")
    project = Project.open(tmp_path)
    day0 = date(2025, 3, 1)
    marts = {
        "mart_daily_listening": [
            {"listen_date": day0 + timedelta(days=d), "country": f"C{i % 5}", "plays": 1 + (d + i) % 9,
             "minutes": ((d * i) % 13) / 4} for d in range(50) for i in range(200)
        ],
        "mart_plan_mix_monthly": [
            {"month_end": date(2025, m, 28), "subscription_type": plan, "users": 100 * m + len(plan)}
            for m in range(1, 13) for plan in ("Free", "Premium", "Family")
        ],
        "mart_top_tracks_weekly": [
            {"week_start": day0 + timedelta(weeks=w), "rank": r, "track_id": (w + r * 3) % 25,
             "track_name": f"Track {(w + r * 3) % 25}", "artist_name": "A", "plays": 500 - r * 7 + w}
            for w in range(200) for r in range(1, 21)
        ],
    }
    names = []
    for mart, rows in marts.items():
        name = TableName("c", "gold", mart)
        delta.write_table(project.lake.uri(*name.parts), pa.Table.from_pylist(rows), mode="append")
        names.append(name)
    data = ReportData(marts=mart_charts(mart_rows(project, names)))
    dom, console = load(chromium, tmp_path, render_report(data), "marts.html")
    assert console == [] and body_attribute(dom, "data-render-ok") == "true"
    titles = [html_lib.unescape(t) for t in re.findall(r"<title>([^<]*)</title>", dom)]

    def number(text: str) -> float:
        return float(text.replace(",", ""))

    shown_plays = {t.split(":")[0]: number(t.split(": ")[1].split()[0]) for t in titles if t.endswith(" plays")
                   and re.match(r"\d{4}-\d\d-\d\d:", t)}
    daily = query(project, "SELECT listen_date, sum(plays) AS plays FROM c.gold.mart_daily_listening "
                           "GROUP BY listen_date").to_pylist()
    assert shown_plays == {r["listen_date"].isoformat(): r["plays"] for r in daily}
    assert sum(shown_plays.values()) == query(
        project, "SELECT sum(plays) AS n FROM c.gold.mart_daily_listening").column("n")[0].as_py()

    shown_mix = {t.split(": ")[0]: number(t.split(": ")[1].split()[0]) for t in titles if t.endswith(" users")}
    mix = query(project, "SELECT date_format(month_end, 'yyyy-MM') AS m, subscription_type AS p, sum(users) AS u "
                         "FROM c.gold.mart_plan_mix_monthly GROUP BY 1, 2").to_pylist()
    assert shown_mix == {f"{r['m']} \u00b7 {r['p']}": r["u"] for r in mix}

    shown_top = [(t.split(" \u2014 ")[0], number(t.rsplit(": ", 1)[1].split()[0])) for t in titles
                 if t.startswith("Track ")]
    top = query(project, "SELECT track_name, sum(plays) AS plays FROM c.gold.mart_top_tracks_weekly "
                         "GROUP BY track_name ORDER BY plays DESC, track_name LIMIT 10").to_pylist()
    assert shown_top == [(r["track_name"], r["plays"]) for r in top]


def test_clicking_a_column_highlights_its_lineage_in_chromium(chromium: Path, tmp_path: Path) -> None:
    """Issue #17: the report's column lineage, clicked in a real browser, lights up the path."""
    import html as html_lib

    from soundlake.project.report_ops import write_report
    from tests.pipeline.conftest import Lakehouse

    lake = Lakehouse(tmp_path / "proj")
    lake.sql("""
        CREATE OR REFRESH STREAMING TABLE plays AS
          SELECT id, upper(name) AS name, n FROM STREAM read_files('${data}/in', format => 'parquet');
        CREATE OR REFRESH MATERIALIZED VIEW gold_names AS SELECT name, sum(n) AS total FROM plays GROUP BY name;
        CREATE OR REFRESH MATERIALIZED VIEW ids AS SELECT id FROM plays;
    """)
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "x", "n": 2}])
    assert lake.run().ok
    page = write_report(lake.project, tmp_path / "report.html")
    text = page.read_text(encoding="utf-8")
    assert 'data-rel="main.silver.gold_names" data-col="total"' in text
    click = ("<script>document.querySelector('button[data-rel=\"main.silver.gold_names\"][data-col=\"total\"]')"
             ".click();</script></body>")
    dom, console = load(chromium, tmp_path, text.replace("</body>", click), "lineage.html")
    assert console == [] and body_attribute(dom, "data-render-ok") == "true"
    lit = set(re.findall(r'<g class="node lit" data-name="([^"]*)"', dom))
    assert lit == {"main.silver.gold_names", "main.silver.plays", "files:data/in"}, lit
    assert "main.silver.ids" not in lit  # reads plays, but total does not come from it
    lit_edges = set(re.findall(r'<path class="edge lit" data-source="([^"]*)" data-target="([^"]*)"', dom))
    assert lit_edges == {("main.silver.plays", "main.silver.gold_names"), ("files:data/in", "main.silver.plays")}
    path = [html_lib.unescape(li) for li in re.findall(r"<li>([^<]*)</li>", dom.split('id="lineage-path"')[1])]
    assert "main.silver.gold_names.total  \u2190  main.silver.plays.n" in path
    assert "main.silver.plays.n  \u2190  files:data/in.n" in path
