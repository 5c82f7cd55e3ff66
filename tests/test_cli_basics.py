"""CLI: help on every command, init, and error mapping to exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli import soundlake


def _all_commands() -> list[list[str]]:
    from typer.main import get_command

    from soundlake.cli.commands import register_all
    from soundlake.cli.main import app

    register_all(app)
    root = get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _all_commands(), ids=lambda p: " ".join(p) or "<root>")
def test_every_command_has_help(path: list[str]) -> None:
    """``-h`` works as ``--help``, and option types read as words, not typer's ``<bool>``."""
    result = soundlake(*path, "-h", columns=None)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    assert re.search(r"<(bool|str|int|path|list\[)", result.stdout) is None, result.stdout


def test_long_help_still_works() -> None:
    result = soundlake("run", "--help", columns=None)
    assert result.returncode == 0 and "--full-refresh" in result.stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--project", "p"], ["--project", "p", "run"]),
        (["run", "-p", "p", "--engine", "spark"], ["-p", "p", "run", "--engine", "spark"]),
        (["status", "--target=prod"], ["--target=prod", "status"]),
        (["--project", "p", "run"], ["--project", "p", "run"]),
        (["-p", "run", "status", "-t", "x"], ["-p", "run", "-t", "x", "status"]),
        (["query", "--", "-p"], ["query", "--", "-p"]),
        (["pipeline", "run"], ["pipeline", "run"]),
    ],
)
def test_global_options_after_the_command_are_hoisted(argv: list[str], expected: list[str]) -> None:
    from soundlake.cli.main import hoist_global_options

    assert hoist_global_options(argv) == expected


def test_project_option_after_the_command(tmp_path: Path) -> None:
    assert soundlake("init", str(tmp_path / "proj"), columns=None).returncode == 0
    before = soundlake("--project", str(tmp_path / "proj"), "dry-run", columns=None)
    after = soundlake("dry-run", "--project", str(tmp_path / "proj"), columns=None)
    assert before.returncode == 0, before.stderr
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout


def test_init_then_config_loads(tmp_path: Path) -> None:
    result = soundlake("init", str(tmp_path / "proj"), columns=None)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "proj" / "soundlake.yml").is_file()
    again = soundlake("init", str(tmp_path / "proj"), columns=None)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr


def test_command_failure_exits_nonzero(tmp_path: Path) -> None:
    """A command that ends with typer.Exit(1) (a failed run) must exit 1, not 0."""
    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\nlibraries: ['p/*.sql']\n")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "t.sql").write_text(
        "CREATE OR REFRESH MATERIALIZED VIEW t AS SELECT 1 / 0 AS x FROM range(3) WHERE missing_col > 0;\n"
    )
    result = soundlake("run", project=tmp_path, columns=None)
    assert result.returncode != 0, result.stdout + result.stderr


def test_config_error_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\nbogus: 1\n")
    result = soundlake("status", project=tmp_path, columns=None)
    assert result.returncode == 2
    assert "unknown key 'bogus'" in result.stderr
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("args", [["no-such-command"], ["run", "--no-such-option"], ["ingest", "--workers", "many"]])
def test_usage_errors_are_one_message_not_a_traceback(args: list[str], tmp_path: Path) -> None:
    result = soundlake(*args, cwd=tmp_path, columns=None)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr


def test_init_and_an_empty_first_run_say_what_to_do_next(tmp_path: Path) -> None:
    init = soundlake("init", "proj", cwd=tmp_path, columns=None)
    assert init.returncode == 0, init.stderr
    assert "next steps:" in init.stdout and "cd proj" in init.stdout and "soundlake job" in init.stdout
    run = soundlake("run", cwd=tmp_path / "proj", columns=None)
    assert run.returncode == 0, run.stderr
    assert "bronze holds no data yet" in run.stdout and "soundlake ingest" in run.stdout
