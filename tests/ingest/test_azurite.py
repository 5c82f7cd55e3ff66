"""The same ingestion code path on Azure Blob storage, against Azurite (the storage emulator).

Azurite comes from npm (``npm install azurite``). The test starts ``azurite-blob`` when
it is on PATH or named by ``SOUNDLAKE_AZURITE`` (path of the ``azurite-blob`` script),
and skips otherwise. Azurite emulates flat blob storage, where pyarrow cannot rename;
:func:`soundlake.lake.bronze.rename` falls back to a server-side copy there (ADLS Gen2,
the ``abfss://`` production case, renames).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from soundlake.ingest.runner import run_tables
from soundlake.lake.bronze import committed_batch_files
from soundlake.lake.storage import Lake
from tests.ingest.helpers import TABLES, as_multiset, config, source_rows

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # public emulator key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a private Azurite blob service."""
    exe = os.environ.get("SOUNDLAKE_AZURITE") or shutil.which("azurite-blob")
    if not exe or not Path(exe).exists():
        pytest.skip("azurite-blob not found (npm install azurite; set SOUNDLAKE_AZURITE)")
    port = _free_port()
    data = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [
            exe,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(data),
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.skip("azurite did not start")
        azure_fs(f"127.0.0.1:{port}").create_dir("lake")  # the container
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def azure_fs(authority: str) -> pafs.AzureFileSystem:
    """pyarrow's Azure filesystem on the emulator's blob endpoint."""
    return pafs.AzureFileSystem(
        account_name=ACCOUNT,
        account_key=KEY,
        blob_storage_authority=authority,
        dfs_storage_authority=authority,
        blob_storage_scheme="http",
        dfs_storage_scheme="http",
    )


def options(style: str, authority: str) -> dict[str, str]:
    """Credentials for the emulator, spelled as a user would put them in ``storage_options``."""
    if style == "key":
        return {
            "azure_storage_account_name": ACCOUNT,
            "azure_storage_account_key": KEY,
            "azure_storage_endpoint": f"http://{authority}/{ACCOUNT}",
        }
    return {
        "connection_string": (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint=http://{authority}/{ACCOUNT};"
        )
    }


@pytest.mark.slow
@pytest.mark.parametrize("style", ["key", "connection_string"])
def test_lake_passes_storage_options_to_pyarrow(azurite: str, style: str) -> None:
    lake = Lake(
        f"abfss://lake@{ACCOUNT}.dfs.core.windows.net/opts_{style}", options(style, azurite)
    )
    fs, root = lake.filesystem()
    assert isinstance(fs, pafs.AzureFileSystem) and root == f"lake/opts_{style}"
    with fs.open_output_stream(f"{root}/probe.txt") as handle:
        handle.write(b"ok")
    with azure_fs(azurite).open_input_stream(f"lake/opts_{style}/probe.txt") as handle:
        assert handle.read() == b"ok"
    wrong = Lake(lake.root, {**options("key", azurite), "azure_storage_account_key": "AAAA"})
    with pytest.raises(OSError):
        wrong.filesystem()[0].get_file_info(f"{root}/probe.txt")


@pytest.mark.slow
def test_ingest_to_azure_blob_storage(azurite: str, sqlite_url: str, load) -> None:
    lake = Lake(
        "abfs://lake@devstoreaccount1.dfs.core.windows.net/spotify", options("key", azurite)
    )
    load(sqlite_url, "initial")
    first = run_tables(lake, sqlite_url, config(), pipeline="spotify")
    assert first.ok, first.failed
    fs, _ = lake.filesystem()
    for table, _cdc in TABLES:
        files = committed_batch_files(lake, table)
        assert len(files) == 1 and files[0].startswith(f"bronze/{table}/{table}_")
        with fs.open_input_file(f"lake/spotify/{files[0]}") as handle:
            rows = pq.read_table(handle).to_pylist()
        assert as_multiset(rows) == as_multiset(source_rows(sqlite_url, table))
        with fs.open_input_stream(f"lake/spotify/bronze/{table}_cdc/cdc.json") as handle:
            assert b'"cdc"' in handle.read()
    assert run_tables(lake, sqlite_url, config(), pipeline="spotify").rows == 0
    load(sqlite_url, "incremental")
    third = run_tables(lake, sqlite_url, config(), pipeline="spotify")
    assert third.ok and third.rows > 0
    windowed = config(lookback="40d")
    assert run_tables(lake, sqlite_url, windowed, pipeline="spotify").ok
    load(sqlite_url, "incremental")  # the same upserts again: nothing new in the window
    assert run_tables(lake, sqlite_url, windowed, pipeline="spotify").rows == 0
    leftovers = [
        i.path
        for i in fs.get_file_info(pafs.FileSelector("lake/spotify", recursive=True))
        if i.path.endswith(".tmp")
    ]
    assert leftovers == []
