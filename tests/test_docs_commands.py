"""Every ``soundlake`` command in README.md, CONTRIBUTING.md and docs/*.md runs.

A command is one in a bash block, or an inline ``soundlake ...`` code span with at least
one option and no placeholder (``DIR``, ``[--limit N]``, ``<view>``): the spans that only
name a command (``soundlake status``) or show its syntax are references, not examples.
The commands run in document order, per file, against a freshly scaffolded reference
project with synthetic data (one ``job`` first, so tables exist). Three substitutions keep
the test small and offline: ``--scale 1`` becomes ``--scale 0.002``, ``soundlake demo``
gets ``--scale 0.002``, and the tutorial's scripts are read from the tutorial folder
(commands that need them are skipped without it). ``--engine spark`` examples are
listed but not run here (the Spark suite under tests/engines/spark runs that engine).
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
_FENCE = re.compile(r"```.*?```", re.DOTALL)
_SPAN = re.compile(r"`(soundlake\s[^`]+)`")
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$|[\[\]<>|\u2026]|\.\.\.")


def _block_commands(block: str) -> list[list[str]]:
    """The commands of a bash block: one per line or ``&&`` part; a quoted string may span lines."""
    commands: list[list[str]] = []
    pending = ""
    for line in block.replace("\\\n", " ").splitlines():
        pending += line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the string goes on on the next line
            pending += "\n"
            continue
        for part in _split_and(pending):
            words = shlex.split(part, comments=True)
            if words[:1] == ["soundlake"]:
                commands.append(words[1:])
        pending = ""
    return commands


def _split_and(line: str) -> list[str]:
    """``line`` split at ``&&`` outside quotes."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="&")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    parts: list[list[str]] = [[]]
    for token in lexer:
        if token == "&&":
            parts.append([])
        else:
            parts[-1].append(shlex.quote(token))
    return [" ".join(part) for part in parts if part]


def _span_command(span: str) -> list[str] | None:
    """An inline span's arguments when it is a runnable example, else None."""
    words = shlex.split(" ".join(span.replace("\\|", "|").split()))
    if any(_PLACEHOLDER.search(w) for w in words) or not any(w.startswith("-") for w in words):
        return None
    return words[1:]


def doc_commands(path: Path) -> list[list[str]]:
    """The ``soundlake`` commands of ``path`` (bash blocks and example spans), in document order."""
    text = path.read_text()
    found: list[tuple[int, list[str]]] = []
    for block in _BLOCK.finditer(text):
        found += [(block.start(), c) for c in _block_commands(block.group(1))]
    prose = _FENCE.sub(lambda m: " " * len(m.group(0)), text)  # spans outside any fenced block
    for span in _SPAN.finditer(prose):
        command = _span_command(span.group(1))
        if command is not None:
            found.append((span.start(), command))
    return [command for _, command in sorted(found, key=lambda f: f[0])]


def _adapt(args: list[str]) -> list[str] | None:
    if "--engine" in args and args[args.index("--engine") + 1 :][:1] == ["spark"]:
        return None  # the Spark suite runs that engine
    out = ["0.002" if a == "1" and i and args[i - 1] == "--scale" else a for i, a in enumerate(args)]
    if out[:1] == ["demo"] and "--scale" not in out:
        out += ["--scale", "0.002"]
    if any(a.startswith("tutorial/") for a in out):
        if not (TUTORIAL / "spotify_initial_load.sql").is_file():
            return None
        out = [str(TUTORIAL / a.split("/", 1)[1]) if a.startswith("tutorial/") else a for a in out]
    return out


def test_the_docs_name_commands() -> None:
    found = {path.name: len(doc_commands(path)) for path in DOCS}
    assert found["README.md"] >= 8, found


def test_example_spans_are_commands_and_syntax_is_not(tmp_path: Path) -> None:
    """Inline examples with options run; a command's name or its syntax with placeholders does not."""
    doc = tmp_path / "d.md"
    doc.write_text(
        "Run `soundlake run --full-refresh-all`, see `soundlake status`, `soundlake init DIR`,\n"
        "`soundlake events [--run ID]`, `soundlake run --full-refresh <view>`, `soundlake query \"SQL\"`,\n"
        "`soundlake format table\\|json` and `soundlake run --project\nsoundlake-demo`.\n"
        "```bash\nsoundlake status --format json  # it's JSON\n"
        "soundlake query \"SELECT 'a && b',\n  2\" && soundlake events\n```\n"
        "```text\nsoundlake run --not-a-command\n```\n"
    )
    assert doc_commands(doc) == [
        ["run", "--full-refresh-all"], ["run", "--project", "soundlake-demo"], ["status", "--format", "json"],
        ["query", "SELECT 'a && b',\n  2"], ["events"],
    ]


_SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("doc", [d for d in DOCS if _SQL_BLOCK.search(d.read_text())], ids=lambda d: d.name)
def test_the_docs_sql_definitions_parse(doc: Path) -> None:
    """Every sql block of the docs is pipeline SQL that soundlake parses (with a placeholder configuration)."""
    from soundlake.pipeline.sql.parser import parse_sql_text

    configuration = {"bronze_path": "lake/bronze", "data": "data", "refresh_lookback": "35 days"}
    for number, block in enumerate(_SQL_BLOCK.findall(doc.read_text()), start=1):
        definitions = parse_sql_text(block, file=f"{doc.name} sql block {number}", catalog="main", schema="silver",
                                     configuration=configuration)
        assert definitions, f"{doc.name}: sql block {number} defines nothing"


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
