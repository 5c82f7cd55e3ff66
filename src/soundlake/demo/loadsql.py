"""Load SQL scripts in the tutorial's format into the source database.

The tutorial ships its data as scripts: ``DROP TABLE`` / ``CREATE TABLE`` DDL followed by
one ``INSERT INTO <Table> (<cols>) VALUES (...)`` per row. soundlake reads them with a small
tokenizer (string literals with ``''`` escapes, ``N'...'``, ``--`` and ``/* */`` comments,
``[bracketed]``, ``"quoted"`` and schema-qualified names, multi-row ``VALUES``, ``GO``
batch separators) and applies them as follows:

- ``DROP TABLE`` and ``CREATE TABLE`` are ignored in favour of soundlake's own schema
  (:mod:`soundlake.source.schema`): the tables are created when missing and existing rows
  are never dropped.
- Every ``INSERT`` is an upsert by primary key, in file order: a row whose key exists
  replaces it, so the later of two rows for a key wins (the incremental script re-inserts
  keys of the initial one; user 44 appears twice in it). An ``INSERT`` that names only some
  columns sets those and keeps the others of an existing row (NULL for a new row).
- Any other statement, an unknown table or column, or a value that does not fit its column
  raises :class:`SourceError` naming the file and line. All files are parsed before the
  first row is written, and all rows are written in one transaction: a bad file loads
  nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from soundlake.core.errors import SourceError
from soundlake.demo.throughput import Throughput
from soundlake.source.db import KEYS, TABLE_NAMES, connect, create_missing, upsert_rows
from soundlake.source.schema import metadata

BATCH_ROWS = 5_000

_TABLES_BY_LOWER = {name.lower(): name for name in TABLE_NAMES}
_IGNORED = ("drop", "create", "use", "set", "begin", "commit", "go", "print")

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>[Nn]?'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")*"|\[[^\]]*\]|`[^`]*`)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$#@]*)
  | (?P<punct>[(),;.*=])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class Token(NamedTuple):
    """One lexical token with the line it starts on."""

    kind: str
    text: str
    line: int


@dataclass(frozen=True)
class InsertBatch:
    """Consecutive rows of one ``INSERT`` statement for one table."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    path: Path
    line: int


@dataclass
class LoadResult(Throughput):
    """What :func:`load_sql_files` did."""

    files: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    statements: int = 0
    ignored_statements: int = 0
    created_tables: list[str] = field(default_factory=list)
    seconds: float = 0.0



def tokenize(text: str, path: Path) -> Iterator[Token]:
    """Yield the tokens of ``text`` (without whitespace and comments)."""
    line = 1
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        value = match.group()
        if kind == "other":
            hint = " (unterminated string?)" if value in "'\"[`" else ""
            raise SourceError(f"{path}:{line}: unexpected character {value!r}{hint}")
        if kind not in ("ws", "comment"):
            yield Token(kind, value, line)
        line += value.count("\n")


def split_statements(tokens: Iterator[Token]) -> Iterator[list[Token]]:
    """Group tokens into statements separated by ``;`` (or a ``GO`` line)."""
    current: list[Token] = []
    for tok in tokens:
        if tok.text == ";" or (tok.kind == "word" and tok.text.upper() == "GO" and not current):
            if current:
                yield current
            current = []
            continue
        current.append(tok)
    if current:
        yield current


def parse_file(path: Path) -> tuple[list[InsertBatch], int]:
    """Parse one script into insert batches; returns them and the count of ignored statements.

    Raises:
        SourceError: a statement is not understood; the message names file and line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SourceError(f"cannot read SQL file {path}: {exc.strerror or exc}") from exc
    batches: list[InsertBatch] = []
    ignored = 0
    for stmt in split_statements(tokenize(text, path)):
        head = stmt[0].text.lower()
        if head == "insert":
            batches.append(_parse_insert(stmt, path))
        elif head in _IGNORED:
            ignored += 1
        else:
            raise SourceError(
                f"{path}:{stmt[0].line}: unsupported statement {stmt[0].text.upper()!r} "
                "(expected INSERT, CREATE TABLE or DROP TABLE)"
            )
    return batches, ignored


class _Cursor:
    def __init__(self, tokens: list[Token], path: Path) -> None:
        self.tokens = tokens
        self.pos = 0
        self.path = path

    def error(self, message: str) -> SourceError:
        tok = self.tokens[min(self.pos, len(self.tokens) - 1)]
        return SourceError(f"{self.path}:{tok.line}: {message}")

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, what: str) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.error(f"statement ends early, expected {what}")
        self.pos += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.next(repr(text))
        if tok.text.upper() != text.upper():
            raise SourceError(f"{self.path}:{tok.line}: expected {text!r}, found {tok.text!r}")


def _ident(tok: Token, path: Path) -> str:
    if tok.kind == "qident":
        return tok.text[1:-1].replace('""', '"')
    if tok.kind != "word":
        raise SourceError(f"{path}:{tok.line}: expected a name, found {tok.text!r}")
    return tok.text


def _parse_insert(stmt: list[Token], path: Path) -> InsertBatch:
    cur = _Cursor(stmt, path)
    cur.expect("INSERT")
    if (tok := cur.peek()) is not None and tok.text.upper() == "INTO":
        cur.pos += 1
    name = _ident(cur.next("a table name"), path)
    while (tok := cur.peek()) is not None and tok.text == ".":
        cur.pos += 1
        name = _ident(cur.next("a table name"), path)
    table = _TABLES_BY_LOWER.get(name.lower())
    if table is None:
        raise cur.error(f"unknown table {name!r} (known: {', '.join(TABLE_NAMES)})")
    columns = _parse_columns(cur, table)
    cur.expect("VALUES")
    rows: list[tuple[Any, ...]] = []
    while True:
        rows.append(_parse_tuple(cur, table, columns))
        tok = cur.peek()
        if tok is None:
            break
        if tok.text != ",":
            raise cur.error(f"unexpected {tok.text!r} after a VALUES row")
        cur.pos += 1
    return InsertBatch(table, columns, rows, path, stmt[0].line)


def _parse_columns(cur: _Cursor, table: str) -> tuple[str, ...]:
    known = {c.name.lower(): c.name for c in metadata.tables[table].columns}
    tok = cur.peek()
    if tok is None or tok.text != "(":
        return tuple(c.name for c in metadata.tables[table].columns)
    cur.pos += 1
    columns: list[str] = []
    while True:
        raw = _ident(cur.next("a column name"), cur.path)
        col = known.get(raw.lower())
        if col is None:
            raise cur.error(f"unknown column {raw!r} of {table}")
        columns.append(col)
        sep = cur.next("',' or ')'")
        if sep.text == ")":
            break
        if sep.text != ",":
            raise cur.error(f"expected ',' or ')' in the column list, found {sep.text!r}")
    if KEYS[table] not in columns:
        raise cur.error(f"INSERT into {table} lacks the key column {KEYS[table]}")
    if len(set(columns)) != len(columns):
        raise cur.error(f"INSERT into {table} names a column twice")
    return tuple(columns)


def _parse_tuple(cur: _Cursor, table: str, columns: Sequence[str]) -> tuple[Any, ...]:
    cur.expect("(")
    values: list[Any] = []
    tbl = metadata.tables[table]
    while True:
        tok = cur.next("a value")
        if len(values) >= len(columns):
            raise cur.error(f"more values than columns ({len(columns)}) for {table}")
        values.append(_convert(tok, tbl.c[columns[len(values)]], cur.path))
        sep = cur.next("',' or ')'")
        if sep.text == ")":
            break
        if sep.text != ",":
            raise SourceError(f"{cur.path}:{sep.line}: expected ',' or ')', found {sep.text!r}")
    if len(values) != len(columns):
        raise cur.error(f"{len(values)} values for {len(columns)} columns of {table}")
    key = values[list(columns).index(KEYS[table])]
    if key is None:
        raise cur.error(f"NULL primary key {KEYS[table]} for {table}")
    return tuple(values)


def _convert(tok: Token, column: sa.Column[Any], path: Path) -> Any:
    where = f"{path}:{tok.line}: {column.table.name}.{column.name}"
    if tok.kind == "word" and tok.text.upper() == "NULL":
        return None
    if tok.kind == "string":
        text = tok.text[2:-1] if tok.text[0] in "Nn" else tok.text[1:-1]
        text = text.replace("''", "'")
    elif tok.kind == "number":
        text = tok.text
    else:
        raise SourceError(f"{where}: expected a literal, found {tok.text!r}")
    kind = column.type
    try:
        if isinstance(kind, sa.Integer):
            number = float(text)
            if not number.is_integer():
                raise ValueError(f"{text} is not an integer")
            return int(number)
        if isinstance(kind, sa.DateTime):
            return datetime.fromisoformat(text.strip()).replace(microsecond=0, tzinfo=None)
        if isinstance(kind, sa.Date):
            return date.fromisoformat(text.strip()[:10])
    except ValueError as exc:
        raise SourceError(f"{where}: bad value {text!r}: {exc}") from exc
    length = getattr(kind, "length", None)
    if length is not None and len(text) > length:
        raise SourceError(f"{where}: value longer than {length} characters")
    return text


def _group(batches: list[InsertBatch]) -> Iterator[InsertBatch]:
    """Merge consecutive batches with the same table and columns, up to BATCH_ROWS rows."""
    pending: InsertBatch | None = None
    for batch in batches:
        if (
            pending is not None
            and pending.table == batch.table
            and pending.columns == batch.columns
            and len(pending.rows) < BATCH_ROWS
        ):
            pending.rows.extend(batch.rows)
            continue
        if pending is not None:
            yield pending
        pending = InsertBatch(batch.table, batch.columns, list(batch.rows), batch.path, batch.line)
    if pending is not None:
        yield pending


def load_sql_files(url: str, paths: Sequence[str | Path]) -> LoadResult:
    """Load tutorial-format SQL scripts into the source at ``url`` with upsert semantics.

    Args:
        url: SQLAlchemy URL of the source database.
        paths: Scripts to apply, in order.

    Returns:
        Rows applied per table, statements read and ignored, time taken.

    Raises:
        SourceError: a file is unreadable or holds a bad statement (file and line named),
            or the database rejected the rows (nothing is written then).
    """
    started = time.perf_counter()
    files = [Path(p) for p in paths]
    result = LoadResult(files=[str(p) for p in files], rows={n: 0 for n in TABLE_NAMES})
    all_batches: list[InsertBatch] = []
    for path in files:
        batches, ignored = parse_file(path)
        all_batches.extend(batches)
        result.statements += len(batches) + ignored
        result.ignored_statements += ignored
    with connect(url) as engine:
        result.created_tables = create_missing(engine)
        with engine.begin() as conn:
            for batch in _group(all_batches):
                try:
                    upsert_rows(conn, batch.table, batch.columns, batch.rows)
                except sa.exc.SQLAlchemyError as exc:
                    raise SourceError(
                        f"{batch.path}:{batch.line}: {batch.table} rows rejected by the database: "
                        f"{str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}"
                    ) from exc
                result.rows[batch.table] += len(batch.rows)
    result.seconds = time.perf_counter() - started
    return result
