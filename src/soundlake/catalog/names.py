"""Three-level table names (``catalog.schema.table``) and their resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass

from soundlake.core.errors import DefinitionError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FLOW_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


@dataclass(frozen=True, order=True)
class TableName:
    """A fully qualified, case-normalised (lower-case) table name."""

    catalog: str
    schema: str
    name: str

    def __post_init__(self) -> None:
        # Each part becomes a folder of the lake: never a separator, '..' or an absolute path.
        for part in (self.catalog, self.schema, self.name):
            if not _IDENT.match(part):
                raise DefinitionError(
                    f"'{part}' in table name '{self.catalog}.{self.schema}.{self.name}' is not a valid "
                    "identifier (letters, digits and _)"
                )

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.name}"

    @property
    def parts(self) -> tuple[str, str, str]:
        """The three parts, for building storage paths."""
        return (self.catalog, self.schema, self.name)

    @classmethod
    def parse(cls, text: str, *, catalog: str, schema: str) -> TableName:
        """Resolve a 1-, 2- or 3-part name (optionally backquoted; ``LIVE.`` dropped).

        Raises:
            DefinitionError: when the text is not a valid table name.
        """
        raw = [p.strip().strip("`").strip('"') for p in text.strip().split(".")]
        if raw and raw[0].lower() == "live" and len(raw) > 1:
            raw = raw[1:]
        if not 1 <= len(raw) <= 3 or not all(_IDENT.match(p) for p in raw):
            raise DefinitionError(f"'{text}' is not a valid table name (catalog.schema.table)")
        parts = [p.lower() for p in raw]
        if len(parts) == 1:
            return cls(catalog.lower(), schema.lower(), parts[0])
        if len(parts) == 2:
            return cls(catalog.lower(), parts[0], parts[1])
        return cls(parts[0], parts[1], parts[2])


def validate_flow_name(text: str, *, where: str) -> str:
    """Return ``text`` when it is safe as a flow name (it names state files), else raise.

    A flow name is one or more ``.``-separated parts of letters, digits, ``_`` and ``-``
    (a table name such as ``main.silver.users`` is one): never a path separator, an empty
    part, ``.`` or ``..``.
    """
    parts = text.split(".")
    if not text or len(text) > 255 or not all(_FLOW_PART.match(p) for p in parts):
        raise DefinitionError(
            f"{where}: flow name '{text}' is not allowed (letters, digits, _ and -, parts separated by .)"
        )
    return text
