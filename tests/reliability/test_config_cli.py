"""Issue #12 (trust), clear errors: soundlake.yml mistakes and CLI misuse end in one line on
stderr naming what is wrong and the fix, with a non-zero exit, never a traceback.

Every case runs the real CLI in a subprocess on a small hand-made project.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli import PYTHON_WITH_SIGINT, soundlake

GOOD = "name: p\nstorage: lake\n"


def cli(root: Path | None, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``soundlake [--project root] args`` with wide columns."""
    return soundlake(*args, project=root, cwd=cwd, columns=200, timeout=180)


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str, code: int | None = None) -> str:
    """Assert a non-zero exit with exactly one ``error:`` line on stderr holding ``needles``."""
    assert result.returncode != 0, result.stdout
    if code is not None:
        assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


_DRIVER = """
import contextlib, io, json, sys, traceback
from soundlake.cli.main import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            code, _ = -1, err.write(traceback.format_exc())
    results.append({"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


def cli_many(invocations: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run many CLI invocations through ``main()`` in one interpreter (fast), each isolated."""
    env = dict(os.environ, COLUMNS="200")
    done = subprocess.run(  # noqa: PLW1510
        [sys.executable, "-c", _DRIVER, json.dumps(invocations)],
        capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return [
        subprocess.CompletedProcess(r["argv"], r["code"], r["stdout"], r["stderr"]) for r in json.loads(done.stdout)
    ]


def write_config(root: Path, data: str | bytes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "soundlake.yml"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return root


# -- soundlake.yml ------------------------------------------------------------------------


def test_duplicate_key_top_level_is_an_error_naming_key_and_lines(tmp_path: Path) -> None:
    """Clear errors: a key written twice (two ``name:``) is refused, naming the key and lines."""
    root = write_config(tmp_path, "name: first\nstorage: lake\nname: second\n")
    one_line_error(cli(root, "status"), "key 'name' is written twice (lines 1 and 3)", code=2)


def test_duplicate_key_nested_is_an_error(tmp_path: Path) -> None:
    """Clear errors: duplicate keys are found at every mapping level (here inside a target)."""
    root = write_config(
        tmp_path, GOOD + "targets:\n  prod:\n    catalog: a\n    engine: duckdb\n    catalog: b\n"
    )
    one_line_error(cli(root, "status"), "key 'catalog' is written twice (lines 5 and 7)", code=2)


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    """Clear errors: ``<<: *anchor`` overrides are legal YAML, not duplicate keys."""
    root = write_config(
        tmp_path,
        GOOD + "targets:\n  dev: &base\n    catalog: a\n  prod:\n    <<: *base\n    catalog: b\n",
    )
    result = cli(root, "--target", "prod", "status")
    assert result.returncode == 0, result.stderr


def test_non_utf8_config_names_line_and_fix(tmp_path: Path) -> None:
    """Clear errors: a non-UTF-8 soundlake.yml names the line and says to save it as UTF-8."""
    root = write_config(tmp_path, b"name: p\nstorage: lake\ncatalog: caf\xe9\n")
    one_line_error(cli(root, "status"), "line 3", "not UTF-8", "save the file as UTF-8", code=2)


def test_non_utf8_env_file_is_a_config_error(tmp_path: Path) -> None:
    """Clear errors: a non-UTF-8 .env beside soundlake.yml is a config error, not a traceback."""
    root = write_config(tmp_path, GOOD)
    (root / ".env").write_bytes(b"PW=caf\xe9\n")
    one_line_error(cli(root, "status"), ".env", "not UTF-8", code=2)


def test_bad_memory_limit_is_a_config_error(tmp_path: Path) -> None:
    """Clear errors: a bad ``duckdb.memory_limit`` fails at load, naming the key and an example."""
    root = write_config(tmp_path, GOOD + "duckdb:\n  memory_limit: lots\n")
    one_line_error(cli(root, "status"), "duckdb.memory_limit", "768MB", code=2)
    root = write_config(tmp_path / "b", GOOD + "duckdb:\n  memory_limit: 1e9\n")
    one_line_error(cli(root, "run"), "duckdb.memory_limit", code=2)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "missing required key 'name'"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("name: [1]\nstorage: lake\n", "key 'name'"),
        ("name: p\nstorage: lake\nduckdb: 5\n", "key 'duckdb'"),
        ("name: p\nstorage: lake\ntargets: [a]\n", "'targets' must be a mapping"),
        ("name: p\nstorage: lake\nengine: oracle\n", "key 'engine'"),
        ("name: p\nstorage: ''\n", "key 'storage'"),
        ("name: p\nstorage: lake\n  bad indent: [\n", "invalid YAML"),
        ("name: p\nstorage: lake\nsource: {url: 'sqlite:///x.db', url: 'sqlite:///y.db'}\n", "written twice"),
        ("name: p\nstorage: 'foo://bucket/x'\n", "unknown scheme 'foo'"),
        ("name: p\nstorage: lake\nlibraries: ['/etc/*']\n", "relative to the project folder"),
        ("name: p\nstorage: lake\ningest: {alert_url: 'file:///etc/passwd'}\n", "http:// or https://"),
    ],
    ids=["empty", "list", "name-type", "section-type", "targets-type", "engine", "storage-empty", "yaml",
         "flow-mapping-duplicate", "storage-scheme", "libraries-absolute", "alert-url-scheme"],
)
def test_malformed_config_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    """Clear errors: empty file, wrong types, bad YAML: one line naming the key, exit 2."""
    root = write_config(tmp_path, text)
    one_line_error(cli(root, "status"), needle, code=2)


def test_config_file_that_is_a_folder_and_project_that_is_a_file(tmp_path: Path) -> None:
    """Clear errors: a directory where soundlake.yml should be; --project pointing at a file."""
    (tmp_path / "a" / "soundlake.yml").mkdir(parents=True)
    one_line_error(cli(tmp_path / "a", "status"), "is a folder, not a file", code=2)
    other = tmp_path / "notes.txt"
    other.write_text("x")
    one_line_error(cli(other, "status"), "is a file, not a folder", code=2)
    root = write_config(tmp_path / "b", GOOD)
    ok = cli(root / "soundlake.yml", "status")  # the file itself is accepted
    assert ok.returncode == 0, ok.stderr


def test_unknown_target_lists_the_known_ones(tmp_path: Path) -> None:
    """Clear errors: ``--target nope`` names the targets that exist."""
    root = write_config(tmp_path, GOOD + "targets:\n  dev: {}\n  prod: {}\n")
    one_line_error(cli(root, "--target", "nope", "status"), "unknown target 'nope'", "dev, prod", code=2)


def test_read_only_lake_is_one_line_naming_the_path(tmp_path: Path) -> None:
    """Clear errors: a lake that cannot be written (here under /sys) names the path and the fix."""
    if sys.platform != "linux" or os.access("/sys", os.W_OK) and not Path("/sys/fs").exists():
        pytest.skip("needs Linux /sys as an unwritable location")
    probe = Path("/sys/soundlake-probe")
    try:
        probe.mkdir()
    except OSError:
        pass
    else:  # pragma: no cover - a writable /sys
        probe.rmdir()
        pytest.skip("/sys is writable here")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "t.sql").write_text("CREATE MATERIALIZED VIEW t AS SELECT 1 AS id;\n")
    root = write_config(tmp_path, "name: p\nstorage: /sys/soundlake-lake\nlibraries: ['defs/*']\n")
    one_line_error(cli(root, "run"), "/sys/soundlake-lake", "writable", code=1)


# -- CLI misuse ---------------------------------------------------------------------------


MISUSE = [
        (["source", "generate", "--scale", "1e9"], "--scale"),
        (["source", "generate", "--scale", "0"], "--scale"),
        (["source", "generate", "--scale", "nan"], "--scale"),
        (["source", "generate", "--seed", "-5"], "--seed"),
        (["source", "simulate", "--rate", "1e9"], "--rate"),
        (["source", "simulate", "--rate", "-1"], "--rate"),
        (["demo", "--scale", "1e9"], "--scale"),
        (["demo", "--seed", "-1"], "--seed"),
        (["query", "SELECT 1", "--limit", "-1"], "--limit"),
        (["query", "SELECT 1", "--format", "xml"], "unknown format 'xml'"),
        (["events", "--format", "yaml"], "unknown format 'yaml'"),
        (["events", "--last", "-1"], "--last"),
        (["history", "t", "--limit", "-3"], "--limit"),
        (["bundle", "out", "--compute", "gpu"], "--compute"),
        (["run", "--full-refresh", "a", "--full-refresh-all"], "not both"),
        (["no-such-command"], "No such command"),
        (["run", "--bogus"], "No such option"),
        (["query"], "Missing argument"),
        (["run", "--engine", "oracle"], "unknown engine 'oracle'"),
        (["query", "SELECT 1", "--limit", "99999999999999999999"], "--limit"),
        (["history", "t", "--limit", "99999999999999999999"], "--limit"),
        (["events", "--last", "99999999999999999999"], "--last"),
        (["job", "--engine", "oracle"], "unknown engine 'oracle'"),
]


def test_cli_misuse_is_one_line_usage_error(tmp_path: Path) -> None:
    """Clear errors: bad option values are refused before anything runs, one line, exit 2."""
    root = write_config(tmp_path, GOOD)
    results = cli_many([["--project", str(root), *args] for args, _needle in MISUSE])
    for (_args, needle), result in zip(MISUSE, results, strict=True):
        one_line_error(result, needle, code=2)
    assert not (tmp_path / "source.db").exists() and not (tmp_path / "lake").exists()
    # the same through the installed entry point, in a process of its own
    one_line_error(cli(root, "source", "generate", "--scale", "1e9"), "--scale", code=2)


BAD_INVOCATIONS = [
    ["status"], ["run"], ["dry-run"], ["events"], ["history", "x"], ["query", "SELECT 1"],
    ["ingest"], ["job"], ["bundle", "out"], ["report"], ["source", "create"], ["source", "simulate"],
    ["run", "--engine", "oracle"], ["--target", "x", "status"],
]
BAD_CONFIGS = {
    "missing": None,
    "duplicate": "name: a\nname: b\nstorage: lake\n",
    "not-utf8": b"name: \xff\nstorage: lake\n",
    "types": "name: p\nstorage: lake\ningest: [1, 2]\nlibraries: 7\n",
    "traversal": "name: ../../x\nstorage: lake\n",
}


@pytest.mark.parametrize("config", list(BAD_CONFIGS), ids=list(BAD_CONFIGS))
def test_no_traceback_for_any_command_on_a_broken_project(tmp_path: Path, config: str) -> None:
    """Clear errors (the class): every command on a broken project exits non-zero with one line."""
    data = BAD_CONFIGS[config]
    if data is not None:
        write_config(tmp_path, data)
    for result in cli_many([["--project", str(tmp_path), *args] for args in BAD_INVOCATIONS]):
        one_line_error(result)


def test_deeply_nested_query_is_one_line(tmp_path: Path) -> None:
    """Clear errors: a query nested too deeply for the parser is one line, not a RecursionError."""
    root = write_config(tmp_path, GOOD)
    sql = "SELECT " + "(" * 5000 + "1" + ")" * 5000
    one_line_error(cli(root, "query", sql), "nested too deeply", code=1)


def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """Clear errors: Ctrl-C during a long command prints 'interrupted', exit 130, no traceback."""
    root = write_config(tmp_path, GOOD)
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.Popen(
        [*PYTHON_WITH_SIGINT, "-m", "soundlake.cli.main", "--project", str(root), "source", "generate", "--scale", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL,
    )
    # wait until the generator is writing (the database exists), then interrupt
    for _ in range(600):
        if (tmp_path / "source.db").exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err == "error: interrupted\n", err
