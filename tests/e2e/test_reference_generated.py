"""The Spotify reference project end to end on generated data plus a simulated batch.

Every change the simulator reports is found in gold (or in quarantine for bad rows), and
row counts reconcile from source to gold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest

from soundlake.catalog.names import TableName
from soundlake.demo.simulate import SimulationSummary
from soundlake.lake import delta
from soundlake.project.context import Project
from soundlake.project.demo import expectation_counts
from soundlake.project.job import JobResult, run_job
from soundlake.project.scaffold import init_project
from soundlake.project.source_ops import create_source, generate, simulate, source_counts

pytestmark = pytest.mark.slow

GOLD = {"DimUser": "dim_user", "DimArtist": "dim_artist", "DimTrack": "dim_track",
        "DimDate": "dim_date", "FactStream": "fact_stream"}
KEYS = {"DimUser": "user_id", "DimArtist": "artist_id", "DimTrack": "track_id",
        "DimDate": "date_key", "FactStream": "stream_id"}
WARN_ONLY = {"duplicate_key_in_batch", "date_key_mismatch"}


@dataclass
class Scenario:
    project: Project
    first: JobResult
    second: JobResult
    summary: SimulationSummary


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("spotify")
    init_project(root)
    project = Project.open(root)
    create_source(project)
    generate(project, scale=0.003, seed=11)
    first = run_job(project)
    summary = simulate(project, seed=12, rate=0.05, bad_rows=True)
    second = run_job(project)
    yield Scenario(project, first, second, summary)


def rows(project: Project, schema: str, table: str) -> list[dict[str, Any]]:
    name = TableName("spotify_catalog", schema, table)
    uri = project.lake.uri(*name.parts)
    if not delta.is_delta_table(uri):
        return []
    return delta.snapshot_dataset(uri).to_table().to_pylist()


def norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")[:19]
    if isinstance(value, date):
        return value.isoformat()
    return value


def expected_gold_row(table: str, new: dict[str, Any]) -> dict[str, Any]:
    row = {k: norm(v) for k, v in new.items()}
    if table == "DimUser" and row.get("user_name") is not None:
        row["user_name"] = row["user_name"].upper()
    if table == "DimTrack" and row.get("track_name") is not None:
        row["track_name"] = row["track_name"].replace("-", " ")
    return row


def test_both_jobs_succeed(scenario: Scenario) -> None:
    assert scenario.first.ok, scenario.first
    assert scenario.second.ok, scenario.second
    assert scenario.second.ingest.rows > 0


def test_every_simulated_change_reaches_gold_or_quarantine(scenario: Scenario) -> None:
    project, summary = scenario.project, scenario.summary
    # Rows whose only faults are warn-level (the pipeline keeps them, counting the
    # violation) belong in gold; the others must be held in quarantine.
    bad = {(b.table, b.key) for b in summary.bad if not set(b.reasons) <= WARN_ONLY}
    final: dict[tuple[str, int], dict[str, Any]] = {}
    for change in summary.changes:  # the last write of a key is what the source holds
        final[(change.table, change.key)] = change.new
    quarantined = {
        ("FactStream", r["stream_id"]) for r in rows(project, "silver", "factstream_quarantine")
    } | {("DimTrack", r["track_id"]) for r in rows(project, "silver", "dimtrack_quarantine")}
    current: dict[str, dict[int, dict[str, Any]]] = {}
    for table, gold in GOLD.items():
        key = KEYS[table]
        current[table] = {r[key]: r for r in rows(project, "gold", gold) if r.get("__END_AT") is None}
    missing = []
    for (table, key), new in sorted(final.items()):
        if (table, key) in bad:
            if (table, key) not in quarantined:
                missing.append(f"{table} {key}: bad row not in quarantine")
            continue
        got = current[table].get(key)
        if got is None:
            missing.append(f"{table} {key}: not in gold")
            continue
        want = expected_gold_row(table, new)
        diff = {c: (norm(got.get(c)), v) for c, v in want.items() if norm(got.get(c)) != v}
        if diff:
            missing.append(f"{table} {key}: {diff}")
    assert not missing, "\n".join(missing[:20])


def test_changed_plans_open_a_new_scd2_version(scenario: Scenario) -> None:
    history = rows(scenario.project, "gold", "dim_user")
    for change in scenario.summary.changes:
        if change.table != "DimUser" or change.kind not in ("upgrade", "downgrade", "cancel"):
            continue
        versions = sorted((r for r in history if r["user_id"] == change.key), key=lambda r: r["__START_AT"])
        assert len(versions) >= 2, change
        closed, open_ = versions[-2], versions[-1]
        assert open_["__END_AT"] is None
        assert closed["__END_AT"] == open_["__START_AT"]
        assert norm(open_["__START_AT"]) == norm(change.new["updated_at"])
        assert closed["subscription_type"] == change.old["subscription_type"]


def test_row_counts_reconcile_from_source_to_gold(scenario: Scenario) -> None:
    project = scenario.project
    source = source_counts(project)
    quarantine = {
        "FactStream": len(rows(project, "silver", "factstream_quarantine")),
        "DimTrack": len(rows(project, "silver", "dimtrack_quarantine")),
    }
    dropped = sum(
        e.failed for run in (scenario.first, scenario.second) if run.update
        for e in expectation_counts(project, run.update.run_id)
        if e.expectation in ("stream_id_not_null", "stream_timestamp_not_null")
    )
    for table, gold in GOLD.items():
        live_keys = {r[KEYS[table]] for r in rows(project, "gold", gold) if r.get("__END_AT") is None}
        q = quarantine.get(table, 0)
        extra = dropped if table == "FactStream" else 0
        assert source[table] == len(live_keys) + q + extra, (table, source[table], len(live_keys), q)


def test_a_third_job_without_source_changes_is_a_no_op(scenario: Scenario) -> None:
    project = scenario.project
    before = {t: delta.table_version(project.lake.uri("spotify_catalog", "gold", g)) for t, g in GOLD.items()}
    third = run_job(project)
    assert third.ok and third.ingest.rows == 0
    after = {t: delta.table_version(project.lake.uri("spotify_catalog", "gold", g)) for t, g in GOLD.items()}
    assert after == before


def test_warn_expectations_count_the_bad_rows_they_keep(scenario: Scenario) -> None:
    project, summary = scenario.project, scenario.summary
    assert scenario.second.update is not None
    counts = {(e.dataset, e.expectation): e for e in expectation_counts(project, scenario.second.update.run_id)}
    mismatched = sum(1 for b in summary.bad if "date_key_mismatch" in b.reasons)
    warn = counts[("spotify_catalog.silver.factstream", "date_key_matches_timestamp")]
    assert warn.failed >= mismatched > 0
    fact = {r["stream_id"] for r in rows(project, "gold", "fact_stream")}
    assert all(b.key in fact for b in summary.bad if b.reasons == ["date_key_mismatch"])


MARTS = ("mart_daily_listening", "mart_listening_by_plan", "mart_top_tracks_weekly", "mart_top_artists_weekly")


def test_windowed_marts_equal_a_full_recompute(scenario: Scenario) -> None:
    """The simulator's late streams (up to 30 days) fall inside the marts' 35-day window."""
    import json

    from soundlake.project.pipeline_ops import events, run

    project = scenario.project
    assert scenario.second.update is not None
    modes = {}
    for event in events(project, run_id=scenario.second.update.run_id).to_pylist():
        if event["event_type"] == "flow_progress":
            details = json.loads(event["details"])["flow_progress"]
            if details["status"] == "COMPLETED":
                modes[event["origin"]["flow_name"].rsplit(".", 1)[-1]] = details.get("refresh")
    assert {m: modes[m] for m in MARTS} == dict.fromkeys(MARTS, "window")

    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        return {m: sorted((tuple(map(norm, r.values())) for r in rows(project, "gold", m)), key=repr) for m in MARTS}

    windowed = snapshot()
    full = run(project, full_refresh=[f"spotify_catalog.gold.{m}" for m in MARTS])
    assert full.ok, full.errors
    assert snapshot() == windowed
