"""A token cursor with the small combinators the statement parser needs."""

from __future__ import annotations

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.lexer import Statement, Token


class Cursor:
    """Reads ``tokens[lo:hi]`` of one statement; errors name file, line and statement."""

    def __init__(
        self, statement: Statement, tokens: list[Token], *, file: str, lo: int = 0, hi: int | None = None
    ) -> None:
        self.statement = statement
        self.tokens = tokens
        self.file = file
        self.pos = lo
        self.end = len(tokens) if hi is None else hi

    # -- locations and errors -------------------------------------------------------------

    def location(self, token: Token | None = None) -> SourceLocation:
        """The location of ``token`` (default: the next token, else the statement start)."""
        token = token or self.peek()
        line = self.statement.line
        if token is not None:
            line += self.statement.text.count("\n", 0, token.start)
        return SourceLocation(self.file, line, self.statement.number)

    def error(self, message: str, token: Token | None = None) -> DefinitionError:
        """A DefinitionError located at ``token`` (default: the next token)."""
        return DefinitionError(f"{self.location(token)}: {message}")

    # -- primitives -----------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token | None:
        index = self.pos + ahead
        return self.tokens[index] if index < self.end else None

    def at_end(self) -> bool:
        return self.pos >= self.end

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of statement", self._last())
        self.pos += 1
        return token

    def _last(self) -> Token | None:
        return self.tokens[self.end - 1] if self.end > 0 and self.tokens else None

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.is_word(*words)

    def at_op(self, op: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.value == op

    def accept(self, *phrase: str) -> bool:
        """Consume the words of ``phrase`` when they all come next; else consume nothing."""
        for k, word in enumerate(phrase):
            token = self.peek(k)
            if token is None or not token.is_word(word):
                return False
        self.pos += len(phrase)
        return True

    def expect(self, *phrase: str) -> None:
        if not self.accept(*phrase):
            found = self.peek()
            what = f"'{found.value}'" if found else "end of statement"
            raise self.error(f"expected {' '.join(phrase)}, found {what}", found or self._last())

    def accept_op(self, op: str) -> bool:
        if self.at_op(op):
            self.pos += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            found = self.peek()
            what = f"'{found.value}'" if found else "end of statement"
            raise self.error(f"expected '{op}', found {what}", found or self._last())

    def expect_end(self) -> None:
        token = self.peek()
        if token is not None:
            raise self.error(f"unexpected '{token.value}'", token)

    # -- composite ------------------------------------------------------------------------

    def identifier(self) -> str:
        token = self.take()
        if token.kind not in ("word", "qident"):
            raise self.error(f"expected a name, found '{token.value}'", token)
        return token.value

    def dotted_name(self) -> str:
        parts = [self.identifier()]
        while self.accept_op("."):
            parts.append(self.identifier())
        return ".".join(parts)

    def table_name_with(self, catalog: str, schema: str) -> TableName:
        token = self.peek()
        written = self.dotted_name()
        try:
            return TableName.parse(written, catalog=catalog, schema=schema)
        except DefinitionError as exc:
            raise self.error(exc.message, token) from exc

    def string(self) -> str:
        token = self.take()
        if token.kind != "string":
            raise self.error(f"expected a quoted string, found '{token.value}'", token)
        return token.value

    def paren_span(self) -> tuple[int, int]:
        """Consume ``( ... )``; return the index range of the tokens inside."""
        self.expect_op("(")
        lo = self.pos
        depth = 1
        while depth:
            token = self.take()
            if token.kind == "op" and token.value in "([{":
                depth += 1
            elif token.kind == "op" and token.value in ")]}":
                depth -= 1
        return lo, self.pos - 1

    def paren_items(self) -> list[tuple[int, int]]:
        """Consume ``( a, b, ... )``; return the token range of each top-level item."""
        open_token = self.peek()
        lo, hi = self.paren_span()
        items: list[tuple[int, int]] = []
        depth = 0
        start = lo
        for index in range(lo, hi):
            token = self.tokens[index]
            if token.kind == "op" and token.value in "([{":
                depth += 1
            elif token.kind == "op" and token.value in ")]}":
                depth -= 1
            elif depth == 0 and token.kind == "op" and token.value == ",":
                items.append((start, index))
                start = index + 1
        items.append((start, hi))
        if any(a >= b for a, b in items):
            raise self.error("empty item in parenthesised list", open_token)
        return items

    def span_text(self, lo: int, hi: int) -> str:
        """The original text of tokens ``[lo, hi)`` (empty when the range is empty)."""
        if lo >= hi:
            return ""
        return self.statement.text[self.tokens[lo].start : self.tokens[hi - 1].end]

    def sub_cursor(self, lo: int, hi: int) -> Cursor:
        return Cursor(self.statement, self.tokens, file=self.file, lo=lo, hi=hi)
