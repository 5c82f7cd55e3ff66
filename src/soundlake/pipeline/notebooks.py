"""Databricks notebooks as pipeline sources: source-format ``.py`` / ``.sql`` and ``.ipynb``.

A **source-format notebook** is a ``.py`` or ``.sql`` file whose first line is
``# Databricks notebook source`` / ``-- Databricks notebook source``; cells are separated
by ``# COMMAND ----------`` / ``-- COMMAND ----------`` lines, and a cell in another
language than the notebook's has every line prefixed ``# MAGIC`` / ``-- MAGIC``, the first
being the magic command (``%md``, ``%sql``, ``%pip ...``). An **``.ipynb`` notebook** is
Jupyter JSON as a Databricks workspace exports it: the notebook's language in
``metadata["application/vnd.databricks.v1+notebook"]["language"]`` (else the kernel's),
``markdown`` and ``code`` cells, a code cell's first line optionally a magic command.

What a pipeline does with each cell, as on Databricks (docs/pipeline-definitions.md):

- ``%md`` / ``%md-sandbox`` cells and markdown cells are documentation: skipped;
- cells in the notebook's language (with or without the ``%sql`` / ``%python`` magic)
  are definitions; a SQL statement ends at the end of its cell even without ``;``;
- ``%pip`` cells are skipped: Databricks installs the packages before the definitions
  run, soundlake runs in the environment it is installed in;
- a cell in the other language (``%sql`` in a Python notebook, ``%python`` in a SQL
  notebook) and every other magic (``%run``, ``%sh``, ``%fs``, ``%scala``, ...) are errors
  naming the file and line: a pipeline notebook holds one language.

:func:`pipeline_source` turns a library file into the text its front end reads and a
map from that text's lines back to the user's file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation

Language = Literal["python", "sql"]

SOURCE_HEADER = {"python": "# Databricks notebook source", "sql": "-- Databricks notebook source"}
_SUFFIX_LANGUAGE: dict[str, Language] = {".py": "python", ".sql": "sql"}
_COMMENT = {"python": "#", "sql": "--"}
_MAGIC_LANGUAGE: dict[str, Language] = {"python": "python", "py": "python", "sql": "sql"}
DOCUMENTATION = frozenset({"md", "md-sandbox"})
"""Magic commands of documentation cells (skipped)."""
SKIPPED = frozenset({"pip"})
"""Magic commands Databricks runs before the definitions and soundlake skips (``%pip``)."""
_DATABRICKS_META = "application/vnd.databricks.v1+notebook"
_MAGIC = re.compile(r"^(\s*)%(\S+)")


@dataclass(frozen=True)
class Cell:
    """One notebook cell.

    Attributes:
        number: 1-based position among all cells of the notebook.
        kind: ``code``, ``markdown`` or ``raw`` (``.ipynb`` cell types).
        magic: The cell's magic command without ``%`` (``sql``, ``md``, ``pip``), or None.
        start: Where ``raw[0]`` is: the file's line (source format), or 1 (``.ipynb``).
        raw: The cell's lines as written.
        code: ``raw`` with ``MAGIC`` prefixes removed and the magic command blanked
            (same length and lines as ``raw``).
        prefixed: The cell's lines carry ``# MAGIC`` / ``-- MAGIC`` (source format).
        magic_index: Index in ``raw`` of the magic command's line (0 without a magic).
    """

    number: int
    kind: str
    magic: str | None
    start: int
    raw: tuple[str, ...]
    code: tuple[str, ...]
    prefixed: bool = False
    magic_index: int = 0


@dataclass(frozen=True)
class Notebook:
    """A parsed notebook: its language, format and cells (``lines``: a source file's lines)."""

    language: Language
    format: Literal["source", "ipynb"]
    cells: tuple[Cell, ...]
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineSource:
    """What a front end reads for one library file.

    Attributes:
        language: ``sql`` or ``python``.
        text: The definitions' text (a notebook's code cells), or None to read the file as
            it is (a plain file).
        cells: For ``.ipynb`` notebooks, ``(cell, line in cell)`` of each line of ``text``;
            None when the lines of ``text`` are the file's own lines.
    """

    language: Language
    text: str | None = None
    cells: tuple[tuple[int, int], ...] | None = None

    def relocate(self, location: SourceLocation, display: str) -> SourceLocation:
        """``location`` in ``text`` as a location in the user's file (``nb.ipynb:cell 3:2``)."""
        if self.cells is None or location.file != display:
            return location
        cell, line = self._place(location.line)
        return replace(location, file=f"{location.file}:cell {cell}", line=line)

    def message(self, text: str, display: str) -> str:
        """An error message with every ``display:N`` of ``text`` lines as ``display:cell C:L``."""
        if self.cells is None:
            return text

        def place(match: re.Match[str]) -> str:
            cell, line = self._place(int(match.group(1)))
            return f"{display}:cell {cell}:{line}"

        return re.sub(re.escape(display) + r":(\d+)\b", place, text)

    def _place(self, line: int) -> tuple[int, int]:
        if not self.cells:
            return (1, 1)
        return self.cells[min(max(line, 1), len(self.cells)) - 1]


def is_notebook(path: Path) -> bool:
    """True for ``.ipynb`` files and source-format notebooks."""
    if path.suffix == ".ipynb":
        return True
    language = _SUFFIX_LANGUAGE.get(path.suffix)
    return language is not None and _first_line(path) == SOURCE_HEADER[language]


def _first_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().rstrip()
    except (OSError, UnicodeDecodeError):
        return ""  # the front end reports an unreadable file


def pipeline_source(path: Path, display: str) -> PipelineSource:
    """The text the SQL or Python front end reads for one library file.

    A plain ``.sql`` / ``.py`` file is read as it is. A notebook becomes the text of its
    code cells: for a source-format notebook line for line with the file (other cells
    blank; a ``;`` on each ``COMMAND`` line ends a SQL cell's last statement), for an
    ``.ipynb`` the cells one after the other with :attr:`PipelineSource.cells` mapping
    lines back to cells.

    Raises:
        DefinitionError: naming the file (and line or cell) for unreadable notebooks,
            cells in another language, and unsupported magic commands.
    """
    if path.suffix not in (".ipynb", *_SUFFIX_LANGUAGE):
        raise DefinitionError(f"{display}: not a pipeline file (.sql, .py or .ipynb)")
    if path.suffix != ".ipynb" and _first_line(path) != SOURCE_HEADER[_SUFFIX_LANGUAGE[path.suffix]]:
        return PipelineSource(_SUFFIX_LANGUAGE[path.suffix])
    notebook = read_notebook(path, display)
    if notebook.format == "ipynb":
        return _ipynb_text(notebook, display)
    return _source_text(notebook, display)


def read_notebook(path: Path, display: str) -> Notebook:
    """Parse a notebook file (source format or ``.ipynb``) into cells.

    Raises:
        DefinitionError: the file cannot be read, is not notebook JSON, or is a notebook
            in a language pipelines do not support.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{display}: cannot read pipeline file: {exc}") from exc
    if path.suffix == ".ipynb":
        return parse_ipynb(text, display)
    return parse_source(text, _SUFFIX_LANGUAGE[path.suffix])


def parse_source(text: str, language: Language) -> Notebook:
    """Parse a source-format notebook (the header line first) into cells."""
    lines = tuple(_lines(text))
    comment = _COMMENT[language]
    separator = f"{comment} COMMAND ----------"
    cells: list[Cell] = []
    start = 2
    current: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() == separator:
            cells.append(_source_cell(len(cells) + 1, start, current, comment))
            start, current = number + 1, []
        else:
            current.append(line)
    cells.append(_source_cell(len(cells) + 1, start, current, comment))
    return Notebook(language, "source", tuple(cells), lines)


def _source_cell(number: int, start: int, raw: list[str], comment: str) -> Cell:
    prefix = f"{comment} MAGIC"
    first = next((line for line in raw if line.strip()), "")
    if not first.startswith(prefix):
        return Cell(number, "code", None, start, tuple(raw), tuple(raw))
    code = [line[len(prefix) + 1:] if line.startswith(prefix + " ") else ("" if line.rstrip() == prefix else line)
            for line in raw]
    magic, index, code = _magic(code)
    if magic is None:  # MAGIC lines without a command: comments of the notebook's language
        return Cell(number, "code", None, start, tuple(raw), tuple(raw))
    return Cell(number, "code", magic, start, tuple(raw), tuple(code), prefixed=True, magic_index=index)


def _magic(code: list[str]) -> tuple[str | None, int, list[str]]:
    """The magic command of a cell's first non-blank line, its index, and the lines with it blanked."""
    for index, line in enumerate(code):
        if not line.strip():
            continue
        match = _MAGIC.match(line)
        if match is None:
            return None, 0, code
        blanked = match.group(1) + " " * (len(match.group(2)) + 1) + line[match.end():]
        return match.group(2), index, [*code[:index], blanked.rstrip(), *code[index + 1:]]
    return None, 0, code


def parse_ipynb(text: str, display: str) -> Notebook:
    """Parse Jupyter notebook JSON (as Databricks exports it) into cells.

    Raises:
        DefinitionError: the text is not notebook JSON, or its language is not Python or SQL.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"{display}:{exc.lineno}: not a notebook: invalid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise DefinitionError(f"{display}: not a notebook: no 'cells' list")
    language = _ipynb_language(data, display)
    cells: list[Cell] = []
    for number, cell in enumerate(data["cells"], start=1):
        if not isinstance(cell, dict):
            raise DefinitionError(f"{display}:cell {number}: not a notebook cell")
        raw = _lines(_cell_text(cell.get("source", "")))
        kind = str(cell.get("cell_type", "code"))
        magic, index, code = _magic(raw) if kind == "code" else (None, 0, raw)
        cells.append(Cell(number, kind, magic, 1, tuple(raw), tuple(code), magic_index=index))
    return Notebook(language, "ipynb", tuple(cells))


def _ipynb_language(data: dict[str, Any], display: str) -> Language:
    metadata = data.get("metadata") or {}
    candidates = (
        (metadata.get(_DATABRICKS_META) or {}).get("language"),
        (metadata.get("kernelspec") or {}).get("language"),
        (metadata.get("language_info") or {}).get("name"),
    )
    found = next((str(c).lower() for c in candidates if c), None)
    if found is None:
        raise DefinitionError(
            f"{display}: the notebook's language is not recorded "
            f"(metadata.{_DATABRICKS_META}.language: python or sql)"
        )
    if found not in ("python", "sql"):
        raise DefinitionError(f"{display}: a {found} notebook; pipeline notebooks are Python or SQL")
    return "python" if found == "python" else "sql"


def _cell_text(source: Any) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def code_cells(notebook: Notebook, display: str) -> list[Cell]:
    """The cells holding definitions, checking every magic command.

    Raises:
        DefinitionError: naming the file and line (or cell and line) of a cell in the other
            language or an unsupported magic command.
    """
    cells = []
    for cell in notebook.cells:
        if cell.kind != "code" or cell.magic in DOCUMENTATION or cell.magic in SKIPPED:
            continue
        if cell.magic is not None and _MAGIC_LANGUAGE.get(cell.magic) != notebook.language:
            raise DefinitionError(_refusal(notebook, cell, display))
        cells.append(cell)
    return cells


def _refusal(notebook: Notebook, cell: Cell, display: str) -> str:
    index = cell.magic_index
    where = (
        f"{display}:{cell.start + index}" if notebook.format == "source" else f"{display}:cell {cell.number}:{index + 1}"
    )
    language = "Python" if notebook.language == "python" else "SQL"
    other = _MAGIC_LANGUAGE.get(cell.magic or "")
    if other is not None:
        fix = "move it to a .sql file or use spark.sql(...)" if other == "sql" else "move it to a .py file"
        return (
            f"{where}: %{cell.magic} cell in a {language} notebook: a pipeline notebook holds one language "
            f"(Databricks refuses other magic commands); {fix}"
        )
    return (
        f"{where}: magic command %{cell.magic} is not supported in a pipeline notebook "
        f"(only {language} cells, %md and %pip)"
    )


def _source_text(notebook: Notebook, display: str) -> PipelineSource:
    """A source-format notebook's code, line for line with the file."""
    out = [""] * len(notebook.lines)
    for cell in code_cells(notebook, display):
        for offset, line in enumerate(cell.code):
            out[cell.start - 1 + offset] = line
        if notebook.language == "sql":  # the cell boundary ends the cell's last statement
            end = cell.start - 1 + len(cell.code)  # the COMMAND line after the cell (0-based)
            if end < len(out):
                out[end] = ";"
            else:
                out.append(";")
    return PipelineSource(notebook.language, "\n".join(out) + "\n")


def _ipynb_text(notebook: Notebook, display: str) -> PipelineSource:
    """An ``.ipynb`` notebook's code cells one after the other, each line's cell recorded."""
    out: list[str] = []
    places: list[tuple[int, int]] = []
    for cell in code_cells(notebook, display):
        out.extend(cell.code)
        places.extend((cell.number, line) for line in range(1, len(cell.code) + 1))
        if notebook.language == "sql":
            out.append(";")
            places.append((cell.number, len(cell.code)))
    return PipelineSource(notebook.language, "\n".join(out) + "\n", tuple(places))
