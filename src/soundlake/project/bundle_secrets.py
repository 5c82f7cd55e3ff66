"""Keeping literal secrets out of a Databricks Asset Bundle.

``soundlake bundle`` copies ``soundlake.yml`` into the bundle. A password written
literally in it (a URL's ``user:PASSWORD@``, a ``password=``/``pwd=``/``token=``/``sig=``
query or connection-string parameter, or a secret-named option such as
``storage_options.account_key``) is replaced by a Databricks secret reference
``{{secrets/<scope>/<key>}}`` and reported; it is never written. References
(``${env:NAME}``, ``{{secrets/...}}``) are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from soundlake.core.errors import ConfigError
from soundlake.core.secrets import is_reference, is_secret_name, secret_params, url_password


@dataclass(frozen=True)
class LiteralSecret:
    """One secret written literally in the configuration.

    Attributes:
        path: Where it is (``source.url``, ``targets.prod.storage_options.account_key``).
        value: The secret text itself.
        kind: ``url-password``, ``param`` (with :attr:`param`) or ``option``.
        param: The parameter name of a ``param`` secret.
    """

    path: str
    value: str
    kind: str
    param: str = ""


def find_literal_secrets(value: Any, path: str = "") -> Iterator[LiteralSecret]:
    """Every literal secret in a parsed YAML document."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(item, str) and is_secret_name(str(key)) and item and not is_reference(item):
                yield LiteralSecret(where, item, "option")
            else:
                yield from find_literal_secrets(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from find_literal_secrets(item, f"{path}[{i}]")
    elif isinstance(value, str):
        span = url_password(value)
        if span is not None and "://" in value:
            password = value[span[0] : span[1]]
            if password and not is_reference(password):
                yield LiteralSecret(path, password, "url-password")
        for name, start, end in secret_params(value):
            if not is_reference(value[start:end]):
                yield LiteralSecret(path, value[start:end], "param", name)


def secret_key(secret: LiteralSecret) -> str:
    """The key of the secret in its scope, derived from where it was written."""
    tail = "password" if secret.kind == "url-password" else secret.param.lower() if secret.kind == "param" else ""
    text = f"{secret.path}_{tail}" if tail else secret.path
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower()


def replace_literal_secrets(text: str, document: Any, *, scope: str) -> tuple[str, list[str]]:
    """``text`` (the YAML source of ``document``) with every literal secret replaced.

    Returns the new text and one note per replacement. The replacement is textual (comments
    and layout are kept) and anchored on the secret's context (``:PASSWORD@``,
    ``name=VALUE``, ``key: VALUE``), never a bare search for the value.

    Raises:
        ConfigError: when a secret cannot be replaced safely (it is then not written).
    """
    notes: list[str] = []
    for secret in find_literal_secrets(document):
        reference = "{{secrets/" + scope + "/" + secret_key(secret) + "}}"
        if secret.kind == "url-password":
            pattern = re.compile(r"(?<=:)" + re.escape(secret.value) + r"(?=@)")
        elif secret.kind == "param":
            pattern = re.compile(r"(?<=\b" + re.escape(secret.param) + r"=)" + re.escape(secret.value) + r"(?=[&;\s'\"]|$)",
                                 re.MULTILINE)
        else:
            key = re.escape(secret.path.rsplit(".", 1)[-1])
            pattern = re.compile(r"(?<=\b" + key + r":)(\s*)(['\"]?)" + re.escape(secret.value) + r"\2", re.MULTILINE)
            text, count = pattern.subn(_quoted(reference), text)
            _check(count, secret)
            notes.append(_note(secret, reference, scope))
            continue
        text, count = pattern.subn(reference, text)
        _check(count, secret)
        notes.append(_note(secret, reference, scope))
    return text, notes


def _quoted(reference: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return f"{match.group(1)}'{reference}'"

    return replace


def _check(count: int, secret: LiteralSecret) -> None:
    if count == 0:
        raise ConfigError(
            f"soundlake.yml: key '{secret.path}' holds a literal secret that soundlake bundle cannot "
            "replace; the bundle was not written",
            hint="write it as ${env:NAME} (and a .env file) instead",
        )


def _note(secret: LiteralSecret, reference: str, scope: str) -> str:
    what = {"url-password": "password in the URL", "param": f"'{secret.param}' parameter"}.get(secret.kind, "value")
    key = reference[len("{{secrets/" + scope + "/") : -2]
    return (
        f"soundlake.yml {secret.path}: literal {what} replaced by {reference} "
        f"(create it: databricks secrets put-secret {scope} {key})"
    )
