"""The project's ``storage_options`` as Spark (Hadoop) settings for abfss:// and s3://.

The lake's ``storage_options`` use deltalake's (object_store's) names; Spark reads object
stores through Hadoop's ABFS and S3A connectors, configured by ``fs.azure.*`` /
``fs.s3a.*`` settings. :func:`hadoop_settings` maps one to the other; the engine sets
them on its session (``spark.hadoop.*`` when it starts one, runtime settings otherwise).
The mapping is documented in docs/databricks.md. Connector jars are not part of pyspark:
add ``org.apache.hadoop:hadoop-azure`` or ``hadoop-aws`` (the Hadoop version of the
installed pyspark) to ``spark.jars.packages`` in the project's ``spark.conf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

_AZURE = {
    "account_name": ("azure_storage_account_name", "account_name"),
    "account_key": ("azure_storage_account_key", "azure_storage_access_key", "account_key", "access_key"),
    "sas_token": ("azure_storage_sas_token", "azure_storage_sas_key", "sas_token", "sas_key"),
    "client_id": ("azure_client_id", "azure_storage_client_id", "client_id"),
    "client_secret": ("azure_client_secret", "azure_storage_client_secret", "client_secret"),
    "tenant_id": ("azure_tenant_id", "azure_storage_tenant_id", "tenant_id"),
}
_AWS = {
    "access_key_id": ("aws_access_key_id", "access_key_id"),
    "secret_access_key": ("aws_secret_access_key", "secret_access_key"),
    "session_token": ("aws_session_token", "session_token", "aws_token"),
    "region": ("aws_region", "region", "aws_default_region"),
    "endpoint": ("aws_endpoint_url", "aws_endpoint", "endpoint_url", "endpoint"),
    "allow_http": ("aws_allow_http", "allow_http"),
}


def _get(options: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {str(k).lower(): v for k, v in options.items()}
    for name in names:
        if lowered.get(name) not in (None, ""):
            return str(lowered[name])
    return None


def hadoop_settings(storage: str, options: Mapping[str, str]) -> dict[str, str]:
    """Hadoop settings (without the ``spark.hadoop.`` prefix) for the lake's store.

    Args:
        storage: The lake root (``abfss://container@account.dfs.core.windows.net/...``,
            ``s3://bucket/...``, ``s3a://...``; anything else maps to nothing).
        options: The project's ``storage_options`` (deltalake names).
    """
    scheme = urlsplit(storage).scheme.lower()
    if scheme in ("abfss", "abfs", "az"):
        return _azure(storage, options)
    if scheme in ("s3", "s3a"):
        return _s3(options)
    return {}


def _azure(storage: str, options: Mapping[str, str]) -> dict[str, str]:
    host = urlsplit(storage).netloc.rpartition("@")[2]
    account = _get(options, _AZURE["account_name"]) or host.split(".")[0]
    if not account:
        return {}
    host = host if "." in host else f"{account}.dfs.core.windows.net"
    out: dict[str, str] = {}
    key = _get(options, _AZURE["account_key"])
    sas = _get(options, _AZURE["sas_token"])
    client = _get(options, _AZURE["client_id"])
    if key:
        out[f"fs.azure.account.key.{host}"] = key
    elif sas:
        out[f"fs.azure.account.auth.type.{host}"] = "SAS"
        out[f"fs.azure.sas.token.provider.type.{host}"] = (
            "org.apache.hadoop.fs.azurebfs.sas.FixedSASTokenProvider"
        )
        out[f"fs.azure.sas.fixed.token.{host}"] = sas.lstrip("?")
    elif client:
        tenant = _get(options, _AZURE["tenant_id"]) or ""
        out[f"fs.azure.account.auth.type.{host}"] = "OAuth"
        out[f"fs.azure.account.oauth.provider.type.{host}"] = (
            "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider"
        )
        out[f"fs.azure.account.oauth2.client.id.{host}"] = client
        out[f"fs.azure.account.oauth2.client.secret.{host}"] = _get(options, _AZURE["client_secret"]) or ""
        out[f"fs.azure.account.oauth2.client.endpoint.{host}"] = (
            f"https://login.microsoftonline.com/{tenant}/oauth2/token"
        )
    return out


def _s3(options: Mapping[str, str]) -> dict[str, str]:
    out = {"fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem"}  # s3:// URLs through S3A
    key = _get(options, _AWS["access_key_id"])
    secret = _get(options, _AWS["secret_access_key"])
    token = _get(options, _AWS["session_token"])
    if key and secret:
        out["fs.s3a.access.key"] = key
        out["fs.s3a.secret.key"] = secret
        if token:
            out["fs.s3a.session.token"] = token
            out["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        else:
            out["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    region = _get(options, _AWS["region"])
    if region:
        out["fs.s3a.endpoint.region"] = region
    endpoint = _get(options, _AWS["endpoint"])
    if endpoint:  # MinIO, LocalStack, ...: path-style addressing
        out["fs.s3a.endpoint"] = endpoint
        out["fs.s3a.path.style.access"] = "true"
    if (_get(options, _AWS["allow_http"]) or "").lower() in ("1", "true", "yes"):
        out["fs.s3a.connection.ssl.enabled"] = "false"
    return out
