"""The architecture, checked: the layer rule (import-linter), strict types (mypy) and ruff."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import REPO


def test_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([exe, str(REPO / ".importlinter")], cwd=REPO, check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_soundlake_loads_no_engine() -> None:
    code = (
        "import sys, soundlake, soundlake.project.context, soundlake.cli.main;"
        "bad = [m for m in ('duckdb', 'pyspark', 'delta') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_package_type_checks_strictly() -> None:
    """``mypy --strict`` over src/soundlake (settings in pyproject.toml)."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"], cwd=REPO, check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ruff_passes() -> None:
    """``ruff check`` over the package, the tests, the benchmarks and the scripts (pyproject.toml)."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "bench", "scripts"],
        cwd=REPO, check=False, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
