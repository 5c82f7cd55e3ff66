"""Names that become paths: the rules that keep every one of them inside the lake.

A pipeline name, a target name, a catalog or schema name and a flow name each end up as a
folder or file name under the lake (``<storage>/<catalog>/<schema>/<table>``,
``<storage>/_soundlake/pipelines/<pipeline>/checkpoints/<flow>.json``). They are checked
where they enter (``soundlake.yml``, definitions), so ``../../x`` or ``/abs/path`` is a
configuration error naming the value, never a write outside the lake.

The functions raise :class:`ValueError` (pydantic turns it into a config error naming
the key); callers outside pydantic wrap it in their own error type.
"""

from __future__ import annotations

import re

SQL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
MAX_NAME = 128


def check_sql_identifier(value: str, *, what: str) -> str:
    """``value`` when it is a plain SQL identifier (letters, digits, ``_``), else ValueError."""
    if not SQL_IDENTIFIER.match(value) or len(value) > MAX_NAME:
        raise ValueError(
            f"{what} '{value}' is not a plain identifier (letters, digits and _, not starting with a digit)"
        )
    return value


def check_path_name(value: str, *, what: str) -> str:
    """``value`` when it is safe as one folder name, else ValueError.

    Allowed: letters, digits, ``_``, ``-`` and ``.``, not starting with ``.`` or ``-``
    (so never ``.``, ``..``, a hidden name, a path separator or an absolute path).
    """
    if not _PATH_NAME.match(value) or len(value) > MAX_NAME:
        raise ValueError(
            f"{what} '{value}' is not allowed: use letters, digits, _, - and . "
            "(no path separators, not starting with . or -)"
        )
    return value
