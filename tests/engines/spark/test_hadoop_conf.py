"""storage_options (deltalake names) -> Hadoop ABFS / S3A settings for the Spark engine."""

from __future__ import annotations

from soundlake.engines.spark.hadoop import hadoop_settings

ABFSS = "abfss://lake@acct.dfs.core.windows.net/soundlake"
HOST = "acct.dfs.core.windows.net"


def test_azure_account_key_sas_and_service_principal() -> None:
    assert hadoop_settings(ABFSS, {"azure_storage_account_key": "k=="}) == {f"fs.azure.account.key.{HOST}": "k=="}
    sas = hadoop_settings(ABFSS, {"sas_token": "?sv=1&sig=x"})
    assert sas[f"fs.azure.account.auth.type.{HOST}"] == "SAS"
    assert sas[f"fs.azure.sas.fixed.token.{HOST}"] == "sv=1&sig=x"
    sp = hadoop_settings(ABFSS, {"azure_client_id": "id", "azure_client_secret": "s", "azure_tenant_id": "t"})
    assert sp[f"fs.azure.account.auth.type.{HOST}"] == "OAuth"
    assert sp[f"fs.azure.account.oauth2.client.endpoint.{HOST}"] == "https://login.microsoftonline.com/t/oauth2/token"
    assert hadoop_settings(ABFSS, {}) == {}


def test_s3_keys_session_token_endpoint_and_local_paths() -> None:
    out = hadoop_settings(
        "s3://bucket/lake",
        {"AWS_ACCESS_KEY_ID": "a", "aws_secret_access_key": "b", "aws_region": "eu-west-1",
         "aws_endpoint_url": "http://127.0.0.1:9000", "aws_allow_http": "true"},
    )
    assert out["fs.s3a.access.key"] == "a" and out["fs.s3a.secret.key"] == "b"
    assert out["fs.s3.impl"].endswith("S3AFileSystem") and out["fs.s3a.endpoint.region"] == "eu-west-1"
    assert out["fs.s3a.path.style.access"] == "true" and out["fs.s3a.connection.ssl.enabled"] == "false"
    temp = hadoop_settings("s3a://b/x", {"aws_access_key_id": "a", "aws_secret_access_key": "b", "aws_session_token": "t"})
    assert temp["fs.s3a.aws.credentials.provider"].endswith("TemporaryAWSCredentialsProvider")
    assert hadoop_settings("/tmp/lake", {"account_key": "k"}) == {}


def test_engine_passes_settings_to_its_session_conf() -> None:
    from soundlake.engines.spark.engine import SparkEngine

    engine = SparkEngine(storage=ABFSS, storage_options={"account_key": "k"})
    assert engine.hadoop == {f"fs.azure.account.key.{HOST}": "k"}
    assert engine._conf[f"spark.hadoop.fs.azure.account.key.{HOST}"] == "k"
