"""soundlake's own wheel in a Databricks Asset Bundle: the job's ingestion task installs it.

``soundlake==<version>`` is served by no package index, so the bundle carries soundlake's
source (``vendor/soundlake/``: the installed package's files and a ``pyproject.toml`` with
its version and dependencies) and declares it as a bundle artifact of type ``whl``:
``databricks bundle deploy`` runs the artifact's ``build`` command in that folder, uploads
``vendor/soundlake/dist/*.whl`` and rewrites the job's references to the uploaded file
(``libraries: - whl: ...`` on a job cluster, ``dependencies`` of a serverless environment).
A fresh clone of the bundle therefore deploys without soundlake being published anywhere.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path
from typing import Any

import soundlake
from soundlake import __version__

VENDOR = "vendor/soundlake"
ARTIFACT = "soundlake_wheel"
BUILD = "python -m pip wheel --no-deps --wheel-dir dist ."
"""The artifact's build command, run by the Databricks CLI in ``vendor/soundlake``."""
WHEEL_GLOB = f"{VENDOR}/dist/*.whl"
"""The built wheel, relative to the bundle root."""

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


def artifacts() -> dict[str, Any]:
    """The ``artifacts`` mapping of ``databricks.yml``."""
    return {ARTIFACT: {"type": "whl", "path": f"./{VENDOR}", "build": BUILD}}


def vendor_source(bundle_root: Path) -> list[Path]:
    """Copy soundlake's package and a ``pyproject.toml`` under ``vendor/soundlake``; return the files written."""
    root = bundle_root / VENDOR
    if root.exists():
        shutil.rmtree(root)
    package = Path(soundlake.__file__).resolve().parent
    shutil.copytree(package, root / "src" / "soundlake", ignore=_IGNORED)
    (root / "pyproject.toml").write_text(_pyproject(), encoding="utf-8")
    (root / "README.md").write_text(
        "soundlake's source, copied by `soundlake bundle`: `databricks bundle deploy` builds it into a wheel "
        f"(`{BUILD}`) that the job installs.\n",
        encoding="utf-8",
    )
    return sorted(p for p in root.rglob("*") if p.is_file())


def _pyproject() -> str:
    lines = [
        "[build-system]",
        'requires = ["setuptools>=68", "wheel"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        'name = "soundlake"',
        f'version = "{__version__}"',
        'requires-python = ">=3.10"',
        "dependencies = [",
        *(f"  {_quoted(r)}," for r in _dependencies()),
        "]",
        "",
        "[project.scripts]",
        'soundlake = "soundlake.cli.main:main"',
        "",
        "[tool.setuptools.packages.find]",
        'where = ["src"]',
        "",
        "[tool.setuptools.package-data]",
        'soundlake = ["py.typed", "**/*.json", "**/*.sql", "**/*.yml", "**/*.html", "**/*.js", "**/*.css"]',
        "",
    ]
    return "\n".join(lines)


def _dependencies() -> list[str]:
    """The installed soundlake's requirements without extras (the test, spark, bench tools)."""
    try:
        requires = importlib.metadata.requires("soundlake") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return [r for r in requires if "extra ==" not in r]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
