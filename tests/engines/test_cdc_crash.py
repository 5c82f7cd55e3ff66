"""Exactly-once: a process killed mid-batch, then a re-run, gives the clean result."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.engines.cdc_helpers import (
    EXAMPLE,
    EXAMPLE_SCD2,
    EXAMPLE_SCHEMA,
    Flow,
    example_spec,
    sorted_rows,
    table,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from tests.engines.cdc_helpers import EXAMPLE, EXAMPLE_SCHEMA, Flow, example_spec, table
    flow = Flow(Path({root!r}), example_spec(2))
    flow.apply(table(EXAMPLE[{a}:{b}], EXAMPLE_SCHEMA), version={v})
    """
)


def _run_batch(root: Path, a: int, b: int, v: int, fault: str | None) -> int:
    env = dict(os.environ)
    env.pop("SOUNDLAKE_CDC_FAULT", None)
    if fault:
        env["SOUNDLAKE_CDC_FAULT"] = fault
    code = SCRIPT.format(repo=str(REPO), root=str(root), a=a, b=b, v=v)
    return subprocess.run([sys.executable, "-c", code], env=env, timeout=120, check=False).returncode


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["before_state", "after_state", "after_target"])
def test_crash_then_rerun_gives_the_clean_result(tmp_path: Path, fault: str) -> None:
    assert _run_batch(tmp_path, 0, 4, 0, None) == 0
    assert _run_batch(tmp_path, 4, 8, 1, fault) == 77
    state_versions = DeltaTable(str(tmp_path / "state")).version()
    assert _run_batch(tmp_path, 4, 8, 1, None) == 0  # the re-run
    assert _run_batch(tmp_path, 4, 8, 1, None) == 0  # and a duplicate delivery
    flow = Flow(tmp_path, example_spec(2))
    assert flow.rows() == sorted_rows(EXAMPLE_SCD2)
    state = DeltaTable(str(tmp_path / "state"))
    assert state.version() == (state_versions if fault != "before_state" else state_versions + 1)
    assert state.to_pyarrow_table().num_rows == len(EXAMPLE)


def test_crash_in_process_after_state_is_repaired(tmp_path: Path) -> None:
    """Same as above without a subprocess: the state holds the batch, the target not."""
    flow = Flow(tmp_path, example_spec(2))
    flow.apply(table(EXAMPLE[:4], EXAMPLE_SCHEMA), version=0)
    clean = Flow(tmp_path / "clean", example_spec(2))
    clean.apply(table(EXAMPLE, EXAMPLE_SCHEMA), version=0)
    assert _run_batch(tmp_path, 4, 8, 1, "after_state") == 77
    flow.apply(table(EXAMPLE[4:], EXAMPLE_SCHEMA), version=1)
    assert flow.rows() == clean.rows()


def test_state_without_commit_tag_is_continued(tmp_path: Path) -> None:
    """A state table written by another engine (no ``__commit`` column) is continued."""
    import pyarrow as pa
    from deltalake import write_deltalake

    flow = Flow(tmp_path, example_spec(2))
    flow.apply(table(EXAMPLE[:4], EXAMPLE_SCHEMA), version=0)
    state = DeltaTable(flow.state).to_pyarrow_table().drop_columns(["__commit"])
    target = DeltaTable(flow.target).to_pyarrow_table()
    write_deltalake(str(tmp_path / "state2"), state)
    write_deltalake(str(tmp_path / "target2"), target)
    other = Flow(tmp_path, example_spec(2))
    other.state, other.target = str(tmp_path / "state2"), str(tmp_path / "target2")
    other.apply(table(EXAMPLE[4:], EXAMPLE_SCHEMA), version=1)
    assert other.rows() == sorted_rows(EXAMPLE_SCD2)
    assert "__commit" in pa.schema(DeltaTable(other.state).schema().to_arrow()).names
