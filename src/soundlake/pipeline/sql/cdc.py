"""The clauses of ``AUTO CDC INTO`` / ``APPLY CHANGES INTO`` after ``FROM source``."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.cursor import Cursor
from soundlake.pipeline.sql.query import READ_DIALECT, validate_expression

_CLAUSE_STARTS = ("KEYS", "IGNORE", "APPLY", "SEQUENCE", "COLUMNS", "STORED", "TRACK")


def parse_cdc_clauses(cursor: Cursor, *, location: SourceLocation) -> dict[str, Any]:
    """Parse ``KEYS ... SEQUENCE BY ... [STORED AS SCD TYPE n] ...`` into AutoCdcFlow fields.

    Raises:
        DefinitionError: for a missing KEYS / SEQUENCE BY, an unknown clause, or clauses
            that do not fit the SCD type (``APPLY AS TRUNCATE`` with SCD2, ``TRACK
            HISTORY`` with SCD1).
    """
    fields: dict[str, Any] = {}
    while not cursor.at_end():
        token = cursor.peek()
        if cursor.accept("KEYS"):
            fields["keys"] = _column_list(cursor)
        elif cursor.accept("IGNORE", "NULL", "UPDATES"):
            fields["ignore_null_updates"] = True
        elif cursor.accept("APPLY", "AS", "DELETE", "WHEN"):
            fields["apply_as_deletes"] = _expression(cursor, "APPLY AS DELETE WHEN")
        elif cursor.accept("APPLY", "AS", "TRUNCATE", "WHEN"):
            fields["apply_as_truncates"] = _expression(cursor, "APPLY AS TRUNCATE WHEN")
        elif cursor.accept("SEQUENCE", "BY"):
            fields["sequence_by"] = split_sequence_by(
                _expression(cursor, "SEQUENCE BY"), location=cursor.location(token)
            )
        elif cursor.accept("COLUMNS"):
            included, excluded = _columns_or_except(cursor)
            fields["column_list" if included is not None else "except_column_list"] = (
                included if included is not None else excluded
            )
        elif cursor.accept("STORED", "AS", "SCD", "TYPE"):
            fields["stored_as_scd_type"] = _scd_type(cursor)
        elif cursor.accept("TRACK", "HISTORY", "ON"):
            included, excluded = _columns_or_except(cursor)
            if included is not None:
                fields["track_history_column_list"] = included
            else:
                fields["track_history_except_column_list"] = excluded
        else:
            assert token is not None
            raise cursor.error(f"unexpected '{token.value}' in AUTO CDC clauses", token)
    for required, text in (("keys", "KEYS (...)"), ("sequence_by", "SEQUENCE BY")):
        if required not in fields:
            raise DefinitionError(f"{location}: AUTO CDC needs {text}")
    scd = fields.get("stored_as_scd_type", 1)
    if scd == 2 and "apply_as_truncates" in fields:
        raise DefinitionError(f"{location}: APPLY AS TRUNCATE WHEN is only allowed with SCD TYPE 1")
    track = ("track_history_column_list", "track_history_except_column_list")
    if scd == 1 and any(k in fields for k in track):
        raise DefinitionError(f"{location}: TRACK HISTORY ON needs STORED AS SCD TYPE 2")
    return fields


def split_sequence_by(text: str, *, location: SourceLocation) -> tuple[str, ...]:
    """``struct(a, b)`` gives ``("a", "b")``; any other expression gives ``(text,)``.

    Raises:
        DefinitionError: when the expression does not parse.
    """
    tree = validate_expression(text, location=location, what="SEQUENCE BY expression")
    if isinstance(tree, exp.Struct) or (
        isinstance(tree, exp.Anonymous) and str(tree.this).lower() == "struct"
    ):
        parts: list[str] = []
        for field in tree.expressions:
            value = field.expression if isinstance(field, (exp.PropertyEQ, exp.Alias)) else field
            if isinstance(field, exp.Alias):
                value = field.this
            parts.append(value.sql(READ_DIALECT))
        if not parts:
            raise DefinitionError(f"{location}: SEQUENCE BY struct() needs at least one field")
        return tuple(parts)
    return (text.strip(),)


def _expression(cursor: Cursor, clause: str) -> str:
    start = cursor.pos
    depth = 0
    while not cursor.at_end():
        token = cursor.peek()
        assert token is not None
        if token.kind == "op" and token.value in "([{":
            depth += 1
        elif token.kind == "op" and token.value in ")]}":
            depth -= 1
        elif depth == 0 and token.is_word(*_CLAUSE_STARTS):
            break
        cursor.pos += 1
    text = cursor.span_text(start, cursor.pos).strip()
    if not text:
        raise cursor.error(f"{clause} needs an expression")
    location = cursor.location(cursor.tokens[start])
    validate_expression(text, location=location, what=f"{clause} expression")
    return text


def _column_list(cursor: Cursor) -> tuple[str, ...]:
    """``(a, b)`` or ``a, b`` (up to the next clause)."""
    names: list[str] = []
    if cursor.at_op("("):
        for lo, hi in cursor.paren_items():
            sub = cursor.sub_cursor(lo, hi)
            names.append(sub.identifier())
            sub.expect_end()
        return tuple(names)
    names.append(cursor.identifier())
    while cursor.accept_op(","):
        names.append(cursor.identifier())
    return tuple(names)


def _columns_or_except(cursor: Cursor) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """``* EXCEPT (a, b)`` gives ``(None, (a, b))``; a column list gives ``(cols, ())``."""
    if cursor.accept_op("*"):
        cursor.expect("EXCEPT")
        return None, _column_list(cursor)
    return _column_list(cursor), ()


def _scd_type(cursor: Cursor) -> int:
    token = cursor.take()
    if token.kind != "number" or token.value not in ("1", "2"):
        raise cursor.error(f"SCD TYPE must be 1 or 2, found '{token.value}'", token)
    return int(token.value)
