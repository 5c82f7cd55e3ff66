"""The reference project end to end through the CLI on the tutorial's own data.

initial script -> job -> incremental script -> job: gold ``dim_user`` holds two versions
for each user the incremental script changed, with the right ``__START_AT``/``__END_AT``;
``fact_stream`` equals the source (nothing lost at the watermark boundary); a third job
with no change is a no-op.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from soundlake.lake import delta
from soundlake.source.db import read_rows
from tests.cli import soundlake

pytestmark = pytest.mark.slow


def cli(root: Path, *args: str) -> str:
    result = soundlake(*args, project=root, columns=200)
    assert result.returncode == 0, f"soundlake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def gold(root: Path, table: str) -> list[dict[str, Any]]:
    uri = str(root / "lake" / "spotify_catalog" / "gold" / table)
    return delta.snapshot_dataset(uri).to_table().to_pylist()


def ts(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@pytest.fixture(scope="module")
def project(tutorial_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("tutorial") / "spotify"
    initial = tutorial_dir / "spotify_initial_load.sql"
    incremental = tutorial_dir / "spotify_incremental_load.sql"
    cli(root.parent, "init", str(root))
    cli(root, "source", "create")
    cli(root, "source", "load-sql", str(initial))
    before = read_rows(f"sqlite:///{root / 'source.db'}", "DimUser")
    streams_before = read_rows(f"sqlite:///{root / 'source.db'}", "FactStream")
    cli(root, "job")
    first_versions = {t: delta.table_version(str(root / "lake/spotify_catalog/gold" / t))
                      for t in ("dim_user", "fact_stream")}
    cli(root, "source", "load-sql", str(incremental))
    after = read_rows(f"sqlite:///{root / 'source.db'}", "DimUser")
    streams_after = read_rows(f"sqlite:///{root / 'source.db'}", "FactStream")
    cli(root, "job")
    return {"root": root, "before": before, "after": after, "first_versions": first_versions,
            "streams_before": streams_before, "streams_after": streams_after}


def test_first_job_loads_every_user_once(project: dict[str, Any]) -> None:
    versions = {tuple(project["first_versions"].values())}
    assert all(v is not None for v in next(iter(versions)))
    users = gold(project["root"], "dim_user")
    assert {r["user_id"] for r in users} == set(project["before"])


def test_changed_users_have_two_versions_with_the_right_intervals(project: dict[str, Any]) -> None:
    before, after = project["before"], project["after"]
    changed = {k for k in after if after[k] != before.get(k)}
    assert len(changed) == 69  # 70 upserts, user 44 twice
    history: dict[int, list[dict[str, Any]]] = {}
    for row in gold(project["root"], "dim_user"):
        history.setdefault(row["user_id"], []).append(row)
    for user in sorted(changed):
        old, new = before[user], after[user]
        versions = sorted(history[user], key=lambda r: r["__START_AT"])
        assert len(versions) == 2, (user, versions)
        # SCD2 orders versions by the sequence (updated_at), whatever the arrival order.
        first, second = sorted([old, new], key=lambda r: ts(r["updated_at"]))
        assert ts(versions[0]["__START_AT"]) == ts(first["updated_at"])
        assert ts(versions[0]["__END_AT"]) == ts(second["updated_at"])
        assert ts(versions[1]["__START_AT"]) == ts(second["updated_at"])
        assert versions[1]["__END_AT"] is None
        assert versions[0]["subscription_type"] == first["subscription_type"]
        assert versions[1]["subscription_type"] == second["subscription_type"]
        assert versions[1]["user_name"] == second["user_name"].upper()
    unchanged = set(after) - changed
    assert all(len(history[u]) == 1 and history[u][0]["__END_AT"] is None for u in unchanged)


def test_user_379_is_premium_in_gold(project: dict[str, Any]) -> None:
    current = [r for r in gold(project["root"], "dim_user") if r["user_id"] == 379 and r["__END_AT"] is None]
    assert len(current) == 1
    assert current[0]["subscription_type"] == "Premium"
    assert ts(current[0]["updated_at"]) == datetime(2025, 10, 7, 19, 49, 56)


def test_fact_stream_holds_the_latest_event_of_every_stream(project: dict[str, Any]) -> None:
    """SCD1 keeps, per stream, the version with the highest stream_timestamp: an incremental
    row older than the row already applied is a late event and is discarded (SEMANTICS.md)."""
    before, after = project["streams_before"], project["streams_after"]
    facts = {r["stream_id"]: r for r in gold(project["root"], "fact_stream")}
    assert set(facts) == set(after)
    changed = [k for k in after if after[k] != before[k]]
    assert len(changed) == 300
    for key in after:
        want = max((before[key], after[key]), key=lambda r: ts(r["stream_timestamp"]))
        got = facts[key]
        assert ts(got["stream_timestamp"]) == ts(want["stream_timestamp"]), key
        assert (got["listen_duration"], got["device_type"]) == (want["listen_duration"], want["device_type"]), key


def test_a_job_with_no_change_is_a_no_op(project: dict[str, Any]) -> None:
    root = project["root"]
    tables = ("dim_user", "dim_track", "dim_artist", "dim_date", "fact_stream")
    before = {t: delta.table_version(str(root / "lake/spotify_catalog/gold" / t)) for t in tables}
    cli(root, "job")
    after = {t: delta.table_version(str(root / "lake/spotify_catalog/gold" / t)) for t in tables}
    assert after == before
