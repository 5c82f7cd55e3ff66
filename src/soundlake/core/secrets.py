"""Masking secrets in text: URL passwords, secret query parameters, credential pairs.

One function, :func:`mask_secrets`, is applied wherever soundlake prints or records text
that may hold a URL or a connection string (CLI errors, the event log, ingest summaries
and alerts). It masks:

- the password of a URL's userinfo (``scheme://user:PASSWORD@host``),
- secret parameters of a query string or connection string (``?password=``, ``;pwd=``,
  ``passwd``, ``secret``, ``token``, ``access_key``, ``sig``, ``AccountKey``,
  ``SharedAccessSignature``, ``sas_token``, ``client_secret``, ... case-insensitive).

References are kept: ``${env:NAME}`` and Databricks ``{{secrets/scope/key}}`` are not
secrets and stay readable.
"""

from __future__ import annotations

import re

MASK = "***"
SECRET_PARAMS = ("password", "pwd", "passwd", "secret", "token", "access_key", "sig")
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "accountkey", "account_key", "access_key",
                    "sharedaccesssignature", "sas_key")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
# overlapping matches (a lookahead): ``url=scheme://h/db?password=x`` holds two pairs
_PAIR = re.compile(r"(?<![A-Za-z0-9_\-])(?=(?P<key>[A-Za-z_][A-Za-z0-9_\-]*)=(?P<value>[^&;\s'\"<>]*))")
_REFERENCE = re.compile(r"^(\$\{env:[A-Za-z_][A-Za-z0-9_]*\}|\{\{secrets/[^}]+\}\})$")


def is_secret_name(name: str) -> bool:
    """True for a parameter or option name that holds a secret (case-insensitive)."""
    key = name.lower().replace("-", "_")
    return key in SECRET_PARAMS or key.endswith(_SECRET_SUFFIXES)


def is_reference(value: str) -> bool:
    """True when ``value`` is a reference (``${env:NAME}``, ``{{secrets/s/k}}``), not a secret."""
    return bool(_REFERENCE.match(value))


def url_password(url: str) -> tuple[int, int] | None:
    """The span of the password in a URL's userinfo (``user:PASSWORD@``), or None."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None
    start = scheme_end + 3
    query = url.find("?", start)
    at = url.rfind("@", start, query if query >= 0 else len(url))
    if at < 0:
        return None
    colon = url.find(":", start, at)
    if colon < 0:
        return None
    return colon + 1, at


def secret_params(text: str) -> list[tuple[str, int, int]]:
    """``(name, start, end)`` of each secret ``name=value`` pair's value in ``text``."""
    found = []
    for match in _PAIR.finditer(text):
        if is_secret_name(match.group("key")) and match.group("value"):
            found.append((match.group("key"), match.start("value"), match.end("value")))
    return found


def mask_secrets(text: str) -> str:
    """``text`` with every URL password and secret ``key=value`` value replaced by ``***``."""
    if not text:
        return text
    spans: list[tuple[int, int]] = []
    for match in _URL.finditer(text):
        span = url_password(match.group(0))
        if span is not None:
            spans.append((match.start() + span[0], match.start() + span[1]))
    spans.extend((start, end) for _name, start, end in secret_params(text))
    out = []
    last = 0
    for start, end in sorted(spans):
        if start < last:
            continue
        value = text[start:end]
        if not value or value == MASK or is_reference(value):
            continue
        out.append(text[last:start])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)
