"""The lake root: a local folder or an ``abfss://`` URL, addressed by relative parts."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from soundlake.core.errors import StorageError


@dataclass(frozen=True)
class Lake:
    """Where every layer lives.

    Attributes:
        root: Absolute local folder or ``abfss://container@account.dfs.core.windows.net/path``.
        storage_options: Options passed to deltalake / the object store (credentials).
    """

    root: str
    storage_options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def at(cls, storage: str, *, base: Path, storage_options: dict[str, str] | None = None) -> Lake:
        """Build a lake from a config value, resolving relative folders against ``base``."""
        if "://" in storage:
            return cls(storage.rstrip("/"), dict(storage_options or {}))
        path = Path(storage)
        if not path.is_absolute():
            path = base / path
        return cls(str(path.resolve()), dict(storage_options or {}))

    @property
    def is_local(self) -> bool:
        """True when the lake is a local folder."""
        return "://" not in self.root

    def uri(self, *parts: str) -> str:
        """The URI (or local path) of ``parts`` under the root."""
        return posixpath.join(self.root, *parts) if parts else self.root

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the root path inside it."""
        if self.is_local:
            Path(self.root).mkdir(parents=True, exist_ok=True)
            return pafs.LocalFileSystem(), self.root
        if self.root.split("://", 1)[0].lower() in AZURE_SCHEMES:
            return azure_filesystem(self.root, self.storage_options)
        try:
            fs, path = pafs.FileSystem.from_uri(self.root)
        except Exception as exc:  # pyarrow raises several types here
            raise StorageError(f"cannot open storage '{self.root}': {exc}") from exc
        return fs, path


AZURE_SCHEMES = ("abfs", "abfss", "az", "azure")
_OPTION_NAMES = {
    "account_name": ("azure_storage_account_name", "account_name"),
    "account_key": (
        "azure_storage_account_key",
        "azure_storage_access_key",
        "account_key",
        "access_key",
    ),
    "sas_token": ("azure_storage_sas_token", "azure_storage_sas_key", "sas_token", "sas_key"),
    "client_id": ("azure_client_id", "azure_storage_client_id", "client_id"),
    "client_secret": ("azure_client_secret", "azure_storage_client_secret", "client_secret"),
    "tenant_id": ("azure_tenant_id", "azure_storage_tenant_id", "tenant_id"),
    "endpoint": ("azure_storage_endpoint", "azure_endpoint", "endpoint"),
    "connection_string": ("azure_storage_connection_string", "connection_string"),
    "use_emulator": ("azure_storage_use_emulator", "use_emulator"),
}
EMULATOR_ACCOUNT = "devstoreaccount1"
EMULATOR_KEY = (  # Azurite's public, documented development key
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _option(options: Mapping[str, str], name: str) -> str | None:
    lowered = {k.lower(): v for k, v in options.items()}
    for key in _OPTION_NAMES[name]:
        if lowered.get(key) not in (None, ""):
            return str(lowered[key])
    return None


def azure_filesystem(root: str, options: Mapping[str, str]) -> tuple[pafs.FileSystem, str]:
    """pyarrow's Azure filesystem for ``abfss://container@account.dfs.core.windows.net/path``.

    Credentials come from ``storage_options`` under the names deltalake (object_store)
    uses, with or without the ``azure_storage_`` prefix: ``account_name``,
    ``account_key`` (or ``access_key``), ``sas_token``, ``client_id`` / ``client_secret``
    / ``tenant_id``, ``connection_string`` (its ``AccountName``, ``AccountKey``,
    ``SharedAccessSignature`` and ``BlobEndpoint``), ``endpoint`` (e.g. Azurite's
    ``http://127.0.0.1:10000/devstoreaccount1``) and ``use_emulator``. Without any of
    them pyarrow uses the default Azure credential chain.

    Raises:
        StorageError: when the URL names no container or account.
    """
    parts = urlsplit(root)
    container, _, host = parts.netloc.rpartition("@")
    if not container:  # az://container/path
        container, host = parts.netloc, ""
    settings = _connection_string(_option(options, "connection_string") or "")
    account = _option(options, "account_name") or settings.get("accountname") or host.split(".")[0]
    kwargs: dict[str, str] = {}
    key = _option(options, "account_key") or settings.get("accountkey")
    sas = _option(options, "sas_token") or settings.get("sharedaccesssignature")
    endpoint = _option(options, "endpoint") or settings.get("blobendpoint")
    if (_option(options, "use_emulator") or "").lower() in ("1", "true", "yes"):
        endpoint = endpoint or "http://127.0.0.1:10000"
        account = _option(options, "account_name") or EMULATOR_ACCOUNT
        key = key or (None if sas else EMULATOR_KEY)
    if not container or not account:
        raise StorageError(f"storage '{root}' must name a container and an account")
    if key:
        kwargs["account_key"] = key
    elif sas:
        kwargs["sas_token"] = sas.lstrip("?")
    for name in ("client_id", "client_secret", "tenant_id"):
        value = _option(options, name)
        if value:
            kwargs[name] = value
    if endpoint:
        url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        kwargs.update(
            blob_storage_authority=url.netloc,
            dfs_storage_authority=url.netloc,
            blob_storage_scheme=url.scheme,
            dfs_storage_scheme=url.scheme,
        )
    try:
        fs = pafs.AzureFileSystem(account_name=account, **kwargs)
    except Exception as exc:  # pyarrow raises several types here
        raise StorageError(f"cannot open storage '{root}': {exc}") from exc
    return fs, posixpath.join(container, parts.path.strip("/")).rstrip("/")


def _connection_string(text: str) -> dict[str, str]:
    settings = {}
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        if sep:
            settings[name.strip().lower()] = value.strip()
    return settings
