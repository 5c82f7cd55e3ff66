"""Hadoop glob patterns in file paths, as Spark's ``read_files`` and ``load()`` expand them.

``*`` matches any characters but ``/``; ``?`` one character but ``/``; ``[abc]``,
``[a-z]``, ``[^a]`` / ``[!a]`` one character of (not of) a set; ``{ab,c{de,fh}}`` one of
the alternatives (nested); ``\\`` escapes the next character. A pattern is matched
component by component against the path below its literal prefix; a matched directory
contributes every file under it, as a directory given without a glob does.
"""

from __future__ import annotations

import re

_GLOB_CHARS = frozenset("*?[{")


def has_glob(path: str) -> bool:
    """True when ``path`` contains an unescaped glob character."""
    escaped = False
    for ch in path:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in _GLOB_CHARS:
            return True
    return False


def split_glob(path: str) -> tuple[str, str]:
    """``(literal base folder, pattern below it)``; ``/rides/2024-*/*.csv`` -> ``/rides``, ``2024-*/*.csv``."""
    scheme = ""
    rest = path
    if "://" in path:
        scheme, rest = path.split("://", 1)
        scheme += "://"
    parts = rest.rstrip("/").split("/")
    for i, part in enumerate(parts):
        if has_glob(part):
            base = "/".join(parts[:i]) or ("/" if rest.startswith("/") else "")
            return scheme + base, "/".join(parts[i:])
    return path, ""


def glob_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of a Hadoop glob ``pattern`` (matched with ``fullmatch``).

    Raises:
        ValueError: for an unclosed ``[`` or ``{``.
    """
    out: list[str] = []
    braces = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("^", "!") else i + 1)
            if end < 0:
                raise ValueError(f"unclosed '[' in glob {pattern!r}")
            body = pattern[i + 1:end]
            negate = body[:1] in ("^", "!")
            body = body[1:] if negate else body
            chars = "".join("\\" + c if c in "\\]^[" else c for c in body)
            out.append(f"(?!/)[^{chars}]" if negate else f"[{chars}]")
            i = end + 1
            continue
        elif ch == "{":
            braces += 1
            out.append("(?:")
        elif ch == "}" and braces:
            braces -= 1
            out.append(")")
        elif ch == "," and braces:
            out.append("|")
        else:
            out.append(re.escape(ch))
        i += 1
    if braces:
        raise ValueError(f"unclosed '{{' in glob {pattern!r}")
    return re.compile("".join(out))
