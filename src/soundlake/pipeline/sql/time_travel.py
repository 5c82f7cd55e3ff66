"""Databricks' ``@`` time-travel syntax: ``t@v12`` and ``t@20260131120000000``.

Delta on Databricks accepts ``table@v<version>`` and ``table@<yyyyMMddHHmmssSSS>`` as
short forms of ``table VERSION AS OF <version>`` and ``table TIMESTAMP AS OF '<timestamp>'``.
sqlglot parses the long forms only, so the short ones are rewritten first (never inside a
string literal or a quoted name).
"""

from __future__ import annotations

import re

_AT = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`]|``)*`)|(?<=[\w`])@(?:v(\d+)|(\d{17}))\b""")


def expand_at_syntax(sql: str) -> str:
    """``sql`` with ``t@v12`` as ``t VERSION AS OF 12`` and ``t@yyyyMMddHHmmssSSS`` as a timestamp."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)  # a string literal or a quoted name: unchanged
        if match.group(2) is not None:
            return f" VERSION AS OF {match.group(2)}"
        t = match.group(3)
        return f" TIMESTAMP AS OF '{t[0:4]}-{t[4:6]}-{t[6:8]} {t[8:10]}:{t[10:12]}:{t[12:14]}.{t[14:17]}'"

    return _AT.sub(replace, sql)
