"""Every ``soundlake`` command in a bash block of README.md, CONTRIBUTING.md and docs/*.md runs.

The commands run in order, per file, against a freshly scaffolded reference project with
synthetic data (one ``job`` first, so tables exist). Two substitutions keep the test small
and offline: ``--scale 1`` becomes ``--scale 0.002`` and the tutorial's scripts are read
from the tutorial folder (commands that need them are skipped without it).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.cli import soundlake
from tests.conftest import REPO, TUTORIAL

DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.DOTALL)


def doc_commands(path: Path) -> list[list[str]]:
    """The ``soundlake`` commands of ``path``'s bash blocks, as argument lists."""
    commands: list[list[str]] = []
    for block in _BLOCK.findall(path.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words[:1] == ["soundlake"]:
                    commands.append(words[1:])
    return commands


def _adapt(args: list[str]) -> list[str] | None:
    out = ["0.002" if a == "1" and i and args[i - 1] == "--scale" else a for i, a in enumerate(args)]
    if any(a.startswith("tutorial/") for a in out):
        if not (TUTORIAL / "spotify_initial_load.sql").is_file():
            return None
        out = [str(TUTORIAL / a.split("/", 1)[1]) if a.startswith("tutorial/") else a for a in out]
    return out


def test_the_docs_name_commands() -> None:
    found = {path.name: len(doc_commands(path)) for path in DOCS}
    assert found["README.md"] >= 8, found


@pytest.mark.slow
@pytest.mark.parametrize("doc", [d for d in DOCS if doc_commands(d)], ids=lambda d: d.name)
def test_every_documented_command_runs(doc: Path, tmp_path: Path) -> None:
    root = tmp_path / "spotify"
    assert soundlake("init", str(root)).returncode == 0
    ready = soundlake("source", "generate", "--scale", "0.002", "--seed", "7", cwd=root)
    assert ready.returncode == 0, ready.stderr
    first = soundlake("job", cwd=root)
    assert first.returncode == 0, first.stdout + first.stderr
    for args in doc_commands(doc):
        adapted = _adapt(args)
        if adapted is None:
            continue
        out = soundlake(*adapted, cwd=root)
        assert out.returncode == 0, f"{doc.name}: soundlake {' '.join(args)}\n{out.stdout}\n{out.stderr}"
