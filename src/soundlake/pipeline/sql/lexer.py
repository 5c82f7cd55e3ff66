"""Splitting SQL files into statements, ``${key}`` substitution, and a small tokenizer.

The pipeline DDL wrappers (``CREATE OR REFRESH STREAMING TABLE ...``) are not Spark SQL
that sqlglot understands, so files are split here (respecting quotes and comments), the
header of each statement is tokenized here, and only the ``AS`` query and expressions are
handed to sqlglot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from soundlake.core.errors import DefinitionError

_SUBST = re.compile(r"\$\{([^}]*)\}")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Statement:
    """One statement of a file, with comments blanked out (newlines kept).

    Attributes:
        text: The statement text without the terminating ``;``.
        line: 1-based line of the statement's first character in the file.
        number: 1-based statement number within the file.
    """

    text: str
    line: int
    number: int


@dataclass(frozen=True)
class Token:
    """A header token. ``kind`` is ``word``, ``qident``, ``string``, ``number`` or ``op``."""

    kind: str
    value: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        """True for an unquoted word equal (case-insensitively) to one of ``words``."""
        return self.kind == "word" and self.value.upper() in words


def split_statements(text: str, *, file: str) -> list[Statement]:
    """Split a SQL file on top-level ``;``, blanking comments; empty statements are dropped.

    Raises:
        DefinitionError: on an unterminated string, quoted identifier or block comment.
    """
    blanked = _blank_comments(text, file=file)
    statements: list[Statement] = []
    start = 0
    i = 0
    n = len(blanked)
    while i <= n:
        if i == n or blanked[i] == ";":
            chunk = blanked[start:i]
            if chunk.strip():
                offset = start + (len(chunk) - len(chunk.lstrip()))
                line = blanked.count("\n", 0, offset) + 1
                statements.append(Statement(chunk.strip(), line, len(statements) + 1))
            start = i + 1
            i += 1
            continue
        ch = blanked[i]
        if ch in "'\"`":
            i = _skip_quoted(blanked, i)
            i = n if i < 0 else i
            continue
        i += 1
    return statements


def _skip_quoted(text: str, i: int) -> int:
    """Return the index after the quoted token starting at ``i`` (already validated)."""
    quote = text[i]
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and quote != "`":
            j += 2
            continue
        if c == quote:
            if j + 1 < len(text) and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return -1


def _blank_comments(text: str, *, file: str) -> str:
    out = list(text)
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            end = _skip_quoted(text, i)
            if end < 0:
                line = text.count("\n", 0, i) + 1
                what = "quoted identifier" if c == "`" else "string"
                raise DefinitionError(f"{file}:{line}: unterminated {what}")
            i = end
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                line = text.count("\n", 0, i) + 1
                raise DefinitionError(f"{file}:{line}: unterminated /* comment")
            for k in range(i, j + 2):
                if out[k] != "\n":
                    out[k] = " "
            i = j + 2
        else:
            i += 1
    return "".join(out)


def substitute(
    statement: Statement, configuration: Mapping[str, str], *, file: str
) -> Statement:
    """Replace every ``${key}`` (also inside strings) by its configuration value.

    Raises:
        DefinitionError: naming file and line for an unknown or malformed key.
    """

    def replace(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if key in configuration:
            return str(configuration[key])
        line = statement.line + statement.text.count("\n", 0, match.start())
        where = f"{file}:{line} (statement {statement.number})"
        if not _KEY.match(key):
            raise DefinitionError(f"{where}: malformed substitution '${{{key}}}'")
        known = ", ".join(sorted(configuration)) or "none"
        raise DefinitionError(
            f"{where}: unknown configuration key '${{{key}}}' (configuration keys: {known})",
            hint="add it under 'configuration:' in soundlake.yml",
        )

    text = _SUBST.sub(replace, statement.text)
    return Statement(text, statement.line, statement.number)


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<qident>`(?:[^`]|``)*`)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<op>=>|<=>|<=|>=|<>|!=|==|\|\||::|[(),.=*;<>+\-/%!&|^~:\[\]{}?])
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Token]:
    """Tokenize SQL text (comments already blanked).

    Raises:
        DefinitionError: for a character no token starts with (message without location;
            the caller adds it).
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise DefinitionError(f"unexpected character {text[pos]!r}")
        kind = match.lastgroup or "op"
        value = match.group()
        if kind != "ws":
            if kind == "string":
                value = _unquote_string(value)
            elif kind == "qident":
                value = value[1:-1].replace("``", "`")
            tokens.append(Token(kind, value, match.start(), match.end()))
        pos = match.end()
    return tokens


def _unquote_string(raw: str) -> str:
    quote = raw[0]
    body = raw[1:-1].replace(quote * 2, quote)
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
