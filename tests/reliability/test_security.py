"""Issue #12 (trust), security items: path traversal (12), the query sandbox (13), output
injection (14) and secrets in bundles and messages (15).

Every case runs the real CLI in a subprocess (``python -m soundlake.cli.main``) on a small
hand-made project: DuckDB, Delta tables and SQLite, nothing mocked.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from soundlake.catalog.names import TableName
from soundlake.catalog.state import StateStore, safe_name
from soundlake.core.errors import DefinitionError, EngineError
from soundlake.engines.duckdb.engine import DuckDBEngine
from soundlake.lake.storage import Lake
from tests.cli import soundlake

MARKUP = ["[bold]x[/bold]", "[/]", ":x:", "[link=http://evil.example]y[/link]", "[red"]


def cli(root: Path | None, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``soundlake [--project root] args`` (wide columns, no colour)."""
    return soundlake(*args, project=root, cwd=cwd, columns=200, env={"NO_COLOR": "1"}, timeout=180)


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Assert a non-zero exit with exactly one ``error:`` line on stderr holding ``needles``."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


def project(root: Path, yml: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "soundlake.yml").write_text(yml, encoding="utf-8")
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


BASE = "name: p\nstorage: lake\nlibraries: ['defs/*']\n"
ROWS_SQL = (
    "CREATE OR REFRESH MATERIALIZED VIEW t AS SELECT * FROM (VALUES "
    + ", ".join(f"({i}, '{text}')" for i, text in enumerate(MARKUP))
    + ") AS v(id, s);\n"
)


@pytest.fixture(scope="module")
def lake_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose one table holds rich markup and emoji codes as data (run once)."""
    root = project(tmp_path_factory.mktemp("sec") / "p", BASE, {"defs/t.sql": ROWS_SQL})
    result = cli(root, "run")
    assert result.returncode == 0, result.stderr
    return root


def outside_files(base: Path) -> set[Path]:
    return {p for p in base.rglob("*")}


# -- 12. path traversal: every name that becomes a path ----------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [("name", "../../evil"), ("name", "/tmp/evil"), ("name", ".."), ("catalog", "../x"), ("catalog", "/abs"),
     ("schema", "../../x"), ("schema", "a/b")],
)
def test_traversal_config_names_are_refused(tmp_path: Path, key: str, value: str) -> None:
    """Item 12: pipeline name, catalog and schema in soundlake.yml cannot leave the lake."""
    yml = {"name": "p", "storage": "lake", "libraries": ["defs/*"], key: value}
    root = project(tmp_path / "p", yaml.safe_dump(yml), {"defs/t.sql": "CREATE MATERIALIZED VIEW t AS SELECT 1 AS id;\n"})
    before = outside_files(tmp_path)
    one_line_error(cli(root, "run"), f"'{key}'", value)
    assert outside_files(tmp_path) == before  # nothing written anywhere


def test_traversal_target_name_and_target_override_are_refused(tmp_path: Path) -> None:
    """Item 12: a target named '../x', and a target whose catalog is '../x', are config errors."""
    root = project(tmp_path / "a", BASE + "targets:\n  ../x: {}\n")
    one_line_error(cli(root, "status"), "target name '../x'")
    root = project(tmp_path / "b", BASE + "targets:\n  prod:\n    catalog: ../../x\n")
    one_line_error(cli(root, "--target", "prod", "status"), "catalog '../../x'")
    one_line_error(cli(root, "--target", "../prod", "status"), "unknown target '../prod'")


def test_traversal_storage_relative_path_escaping_the_project_is_refused(tmp_path: Path) -> None:
    """Item 12: a relative ``storage`` that climbs out of the project folder is refused."""
    root = project(tmp_path / "p", "name: p\nstorage: ../../lake\n")
    one_line_error(cli(root, "status"), "'storage'", "leaves the project folder")
    assert not (tmp_path.parent / "lake").exists()


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE MATERIALIZED VIEW `..`.`..`.x AS SELECT 1 AS id;\n",
        "CREATE MATERIALIZED VIEW `/etc/x` AS SELECT 1 AS id;\n",
        "CREATE MATERIALIZED VIEW `../../x` AS SELECT 1 AS id;\n",
        "CREATE STREAMING TABLE t;\nCREATE FLOW `../../evil` ONCE AS INSERT INTO t BY NAME SELECT 1 AS id;\n",
        "CREATE STREAMING TABLE t;\nCREATE FLOW `..` ONCE AS INSERT INTO t BY NAME SELECT 1 AS id;\n",
        "CREATE MATERIALIZED VIEW t AS SELECT * FROM `..`.`..`.`etc`;\n",
    ],
    ids=["dataset-dots", "dataset-abs", "dataset-slash", "flow", "flow-dotdot", "read"],
)
def test_traversal_sql_definition_names_are_refused(tmp_path: Path, sql: str) -> None:
    """Item 12: dataset, flow and read names in SQL definitions are validated at load."""
    root = project(tmp_path / "p", BASE, {"defs/a.sql": sql})
    one_line_error(cli(root, "dry-run"), "defs/a.sql:")
    one_line_error(cli(root, "run"), "defs/a.sql:")
    assert not (root / "lake").exists() or not any((root / "lake").glob("*/*/*/_delta_log"))


@pytest.mark.parametrize(
    "decorator",
    ['@dp.table(name="`../../x`")', '@dp.table(name="main./etc.x")',
     '@dp.append_flow(target="t", name="../../../evil", once=True)',
     '@dp.append_flow(target="t", name="..", once=True)'],
    ids=["dataset", "dataset-abs", "flow", "flow-dotdot"],
)
def test_traversal_python_definition_names_are_refused(tmp_path: Path, decorator: str) -> None:
    """Item 12: dataset and flow names in Python definitions are validated at load."""
    body = (
        "from soundlake import pipelines as dp\n\n"
        "dp.create_streaming_table('t')\n\n"
        f"{decorator}\ndef evil():\n    return spark.sql('SELECT 2 AS id')\n"
    )
    root = project(tmp_path / "p", BASE, {"defs/a.py": body})
    one_line_error(cli(root, "dry-run"), "defs/a.py:")


def test_traversal_history_argument_is_refused(lake_project: Path) -> None:
    """Item 12: ``soundlake history ../../x`` names an invalid table, reads nothing."""
    one_line_error(cli(lake_project, "history", "../../etc"), "not a valid table name")


def test_traversal_internal_names_cannot_build_paths(tmp_path: Path) -> None:
    """Item 12: TableName parts (also quarantine names) and state file names never leave the lake."""
    for parts in (("..", "x", "y"), ("main", "/abs", "t"), ("main", "s", "../t_quarantine")):
        with pytest.raises(DefinitionError):
            TableName(*parts)
    for text in ("..", ".", "../../x", "/etc/passwd", "a/../../b", "...."):
        name = safe_name(text)
        assert "/" not in name and not name.startswith(".") and name
    store = StateStore(Lake(str(tmp_path / "lake")), "..")
    assert Path(store.root).resolve().is_relative_to((tmp_path / "lake").resolve())
    assert Path(store.uri("streams", safe_name(".."), safe_name(".."))).resolve().is_relative_to(Path(store.root))


def test_traversal_init_never_overwrites_or_writes_through_a_file(tmp_path: Path) -> None:
    """Item 12: ``soundlake init DIR`` refuses a file as DIR and never overwrites other files."""
    target = tmp_path / "file.txt"
    target.write_text("keep")
    one_line_error(cli(None, "init", str(target)), "is a file")
    assert target.read_text() == "keep"
    folder = tmp_path / "proj"
    (folder / "pipelines" / "silver").mkdir(parents=True)
    mine = folder / "pipelines" / "silver" / "dimensions.sql"
    mine.write_text("-- my own work\n")
    one_line_error(cli(None, "init", str(folder)), "would overwrite", "--force")
    assert mine.read_text() == "-- my own work\n"
    assert not (folder / "soundlake.yml").exists()


# -- 13. soundlake query sees the lake's tables only --------------------------------------


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv is not allowed"),
        ("SELECT * FROM read_text('/etc/passwd')", "read_text is not allowed"),
        ("SELECT * FROM read_parquet('/etc/passwd')", "read_parquet is not allowed"),
        ("SELECT * FROM read_csv('https://example.com/x.csv')", "read_csv is not allowed"),
        ("SELECT * FROM t, read_csv_auto('/etc/hostname')", "read_csv_auto is not allowed"),
        ("SELECT * FROM glob('/etc/*')", "syntax error"),
        ("SELECT * FROM read_files('/etc/passwd', format => 'csv')", "read_files is not allowed"),
        ("INSTALL httpfs", "expected a query"),
        ("LOAD httpfs", "expected a query"),
        ("SET enable_external_access = true", "expected a query"),
        ("ATTACH '/tmp/sl-attack.db' AS x", "query"),
        ("COPY (SELECT 1) TO '{out}'", "expected a query"),
        ("SELECT * FROM '/etc/passwd'", "read_files is not allowed"),
    ],
)
def test_query_sandbox_refuses_files_urls_and_settings(lake_project: Path, tmp_path: Path, sql: str, needle: str) -> None:
    """Item 13: every way out of the lake is refused on one line; nothing is read or written."""
    out = tmp_path / "out.csv"
    result = cli(lake_project, "query", sql.format(out=out), "--format", "csv")
    one_line_error(result, needle)
    assert "root:" not in result.stdout + result.stderr  # /etc/passwd content never shown
    assert result.stdout == ""
    assert not out.exists() and not Path("/tmp/sl-attack.db").exists()


def test_query_sandbox_message_names_the_rule(lake_project: Path) -> None:
    """Item 13: the refusal says what queries may read."""
    one_line_error(
        cli(lake_project, "query", "SELECT * FROM read_csv('/etc/passwd')"),
        "soundlake query reads the lake's tables only: read_csv is not allowed",
    )


def test_query_sandbox_still_reads_lake_tables(lake_project: Path) -> None:
    """Item 13: the sandbox does not get in the way of a query over the lake's tables."""
    result = cli(lake_project, "query", "SELECT count(*) AS n FROM t a JOIN t b USING (id), range(2)", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"n": 2 * len(MARKUP)}


def test_query_sandbox_duckdb_wall_holds_without_the_parser_check(tmp_path: Path) -> None:
    """Item 13: the locked DuckDB connection itself refuses files, URLs, COPY, INSTALL and settings."""
    from soundlake.core.errors import AccessError

    engine = DuckDBEngine(parallel_flows=1, sandbox=True)
    out = tmp_path / "x.csv"
    try:
        for sql in (f"COPY (SELECT 42) TO '{out}'", f"ATTACH '{tmp_path / 'a.db'}' AS a", "INSTALL httpfs",
                    "LOAD httpfs"):
            with pytest.raises(AccessError, match="reads the lake's tables only"):
                engine.execute(sql, {}).read_all()
        with pytest.raises(EngineError, match="locked"):
            engine.execute("SET enable_external_access = true", {}).read_all()
        assert engine.execute("SELECT 41 + 1 AS x", {}).read_all().to_pylist() == [{"x": 42}]
    finally:
        engine.close()
    assert not out.exists() and not (tmp_path / "a.db").exists()


def test_pipeline_queries_are_confined_to_the_lake(tmp_path: Path) -> None:
    """Item 13: pipeline SQL on the DuckDB engine cannot read files outside the lake either."""
    sql = ("CREATE MATERIALIZED VIEW ok AS SELECT 1 AS id;\n"
           "CREATE MATERIALIZED VIEW leak AS SELECT * FROM read_csv('/etc/passwd');\n")
    root = project(tmp_path / "p", BASE, {"defs/a.sql": sql})
    run = cli(root, "run")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "pipeline queries read and write files under the lake only" in run.stdout
    assert "root:" not in run.stdout
    status = cli(root, "status")
    assert "main.default.ok" in status.stdout and "COMPLETED" in status.stdout


def test_query_sandbox_still_spills_to_disk(tmp_path: Path) -> None:
    """Item 13: with external access off, a sort larger than the memory limit spills and completes."""
    engine = DuckDBEngine(parallel_flows=1, sandbox=True, memory_limit="40MB", threads=1,
                          temp_directory=str(tmp_path / "spill"))
    try:
        sql = ("SELECT count(*) AS n, sum(x) AS s FROM "
               "(SELECT range AS x, md5(range::VARCHAR) AS h FROM range(3000000) ORDER BY h) AS t")
        assert engine.execute(sql, {}).read_all().to_pylist() == [{"n": 3_000_000, "s": 4_499_998_500_000}]
    finally:
        engine.close()


# -- 14. output injection: data is printed, never interpreted -----------------------------


def test_output_query_table_prints_markup_verbatim(lake_project: Path) -> None:
    """Item 14: ``[bold]``, ``[/]``, ``:x:``, ``[link=...]`` in data print as written, exit 0."""
    result = cli(lake_project, "query", "SELECT * FROM t ORDER BY id")
    assert result.returncode == 0, result.stderr
    for text in MARKUP:
        assert text in result.stdout
    assert "❌" not in result.stdout


def test_output_markup_column_names_print_verbatim(lake_project: Path) -> None:
    """Item 14: column names from the query are data too."""
    result = cli(lake_project, "query", "SELECT s AS `[/]`, id AS `:x:` FROM t WHERE id = 0")
    assert result.returncode == 0, result.stderr
    assert "[/]" in result.stdout and ":x:" in result.stdout and "[bold]x[/bold]" in result.stdout


def test_output_terminal_escape_sequences_in_data_are_shown_not_sent(lake_project: Path) -> None:
    """Item 14: an ESC in data (a terminal escape sequence) is printed as \\x1b, never sent raw."""
    sql = "SELECT 'a' || chr(27) || '[2J' || chr(27) || ']0;pwned' || chr(7) || 'b' AS s FROM t WHERE id = 0"
    result = cli(lake_project, "query", sql)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "a\\x1b[2J\\x1b]0;pwned\\x07b" in result.stdout


def test_output_failed_flow_message_events_status_verbatim(tmp_path: Path) -> None:
    """Item 14: a failure message with markup prints verbatim in run, events and status."""
    sql = "CREATE MATERIALIZED VIEW bad AS SELECT error('boom [/] [bold]x[/bold] :x:') AS x;\n"
    root = project(tmp_path / "p", BASE, {"defs/a.sql": sql})
    run = cli(root, "run")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "boom [/] [bold]x[/bold] :x:" in run.stdout
    events = cli(root, "events", "--format", "table")
    assert events.returncode == 0, events.stderr
    assert "[/]" in events.stdout
    status = cli(root, "status")
    assert status.returncode == 0 and "FAILED" in status.stdout, status.stderr


def test_output_error_messages_with_markup_are_one_line(lake_project: Path) -> None:
    """Item 14: an error whose text holds markup (a user-typed name) is printed verbatim."""
    one_line_error(cli(lake_project, "history", "[/]"), "'[/]'")
    one_line_error(cli(lake_project, "query", "SELECT * FROM `[bold]`"), "[bold]")


def test_output_dry_run_prints_definitions_verbatim(tmp_path: Path) -> None:
    """Item 14: dry-run output (graph, comments) is not interpreted."""
    sql = "CREATE MATERIALIZED VIEW v COMMENT '[/] :x:' AS SELECT '[/]' AS s;\n"
    root = project(tmp_path / "p", BASE, {"defs/a.sql": sql})
    result = cli(root, "dry-run")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


# -- 15. secrets: never copied into a bundle, never printed --------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "postgresql+psycopg://app:hunter2@db:5432/x",
        "postgresql://app@db/x?password=hunter2&sslmode=require",
        "mssql+pyodbc://db/x?PWD=hunter2;driver=ODBC",
        "postgresql://db/x?Passwd=hunter2",
        "https://hook.example/x?secret=hunter2",
        "https://hook.example/x?token=hunter2",
        "https://acct.blob.core.windows.net/c?sv=1&sig=hunter2&se=2",
        "abfss://c@a.dfs.core.windows.net/?access_key=hunter2",
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=hunter2;",
        "failed: http://user:hunter2@h/x and postgresql://u:hunter2@db/y?password=hunter2",
        "unknown database type in source.url=postgresql+x://u:***@h/x?password=hunter2",
        "DefaultEndpointsProtocol=https;AccountKey=hunter2+/ab==;EndpointSuffix=x",
    ],
)
def test_secret_masking_covers_every_form(text: str) -> None:
    """Item 15: one function masks userinfo passwords and secret query/connection parameters."""
    from soundlake.core.secrets import mask_secrets

    masked = mask_secrets(text)
    assert "hunter2" not in masked and "***" in masked
    assert mask_secrets("postgresql://u:${env:PW}@db/x") == "postgresql://u:${env:PW}@db/x"


def test_secret_in_source_url_is_masked_in_cli_errors(tmp_path: Path) -> None:
    """Item 15: a password in the URL (userinfo and ?password=) never reaches the terminal."""
    url = "postgresql+nosuchdriver://app:hunter2@127.0.0.1:9/db?password=hunter3&connect_timeout=1"
    tables = "ingest:\n  tables:\n    - {schema: dbo, table: DimUser, cdc_col: updated_at}\n"
    root = project(tmp_path / "p", f"name: p\nstorage: lake\nsource:\n  url: '{url}'\n{tables}")
    for command in (("source", "create"), ("ingest",)):
        result = cli(root, *command)
        one_line_error(result, "app:***@127.0.0.1:9/db")
        assert "hunter2" not in result.stderr + result.stdout and "hunter3" not in result.stderr + result.stdout


def test_secret_in_ingest_summary_and_event_log_is_masked(tmp_path: Path) -> None:
    """Item 15: ingest failures (summary, alert text) and event-log messages mask URLs."""
    url = "postgresql+psycopg://app:hunter2@127.0.0.1:9/db?password=hunter3&connect_timeout=1"
    yml = (f"name: p\nstorage: lake\nlibraries: ['defs/*']\nsource:\n  url: '{url}'\n"
           "ingest:\n  retries: 1\n  backoff_seconds: 0\n  tables:\n    - {schema: dbo, table: DimUser, cdc_col: updated_at}\n")
    sql = ("CREATE MATERIALIZED VIEW bad AS SELECT "
           "error('cannot reach postgresql://u:hunter2@db/x?token=hunter3') AS x;\n")
    root = project(tmp_path / "p", yml, {"defs/a.sql": sql})
    ingest = cli(root, "ingest")
    assert ingest.returncode != 0 and "Traceback" not in ingest.stderr
    assert "hunter2" not in ingest.stdout + ingest.stderr and "hunter3" not in ingest.stdout + ingest.stderr
    run = cli(root, "run")
    assert run.returncode == 1
    assert "hunter2" not in run.stdout + run.stderr and "hunter3" not in run.stdout + run.stderr
    events = cli(root, "events", "--format", "json")
    assert events.returncode == 0, events.stderr
    assert "cannot reach" in events.stdout and "hunter2" not in events.stdout and "hunter3" not in events.stdout


def test_secret_in_alert_payload_is_masked() -> None:
    """Item 15: the failure alert (JSON POSTed to ingest.alert_url) carries masked errors."""
    from soundlake.ingest.alert import alert_payload
    from soundlake.ingest.results import TableResult

    failed = TableResult(table="DimUser", status="failed",
                         error="cannot open postgresql://app:hunter2@db/x?sslmode=require&password=hunter3")
    payload = json.dumps(alert_payload("p", "run1", (failed,)))
    assert "hunter2" not in payload and "hunter3" not in payload
    assert "postgresql://app:***@db/x?sslmode=require&password=***" in payload


def _bundle_files(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file())


def test_bundle_replaces_literal_passwords_with_secret_references(tmp_path: Path) -> None:
    """Item 15: userinfo, ?password=/PWD= (any case) and secret options never reach the bundle."""
    assert cli(None, "init", str(tmp_path / "proj")).returncode == 0
    config = tmp_path / "proj" / "soundlake.yml"
    text = config.read_text(encoding="utf-8").replace(
        "url: sqlite:///source.db",
        "url: postgresql+psycopg://app:hunter2@db.example.com/music?sslmode=require&PassWord=hunter3",
    )
    text += "\nstorage_options:\n  account_key: 'hunter4'\n  account_name: acct\n"
    text += "ingest:\n  alert_url: https://hook.example/x?sig=hunter5\n" if "ingest:" not in text else ""
    config.write_text(text, encoding="utf-8")
    result = cli(tmp_path / "proj", "bundle", str(tmp_path / "bundle"))
    assert result.returncode == 0, result.stderr
    written = _bundle_files(tmp_path / "bundle")
    for secret in ("hunter2", "hunter3", "hunter4"):
        assert secret not in written
    assert "{{secrets/spotify/source_url_password}}" in written
    assert "{{secrets/spotify/source_url_password_1}}" not in written
    assert "{{secrets/spotify/storage_options_account_key}}" in written
    assert "literal password in the URL replaced by" in " ".join(result.stdout.split())
    bundled = yaml.safe_load((tmp_path / "bundle" / "src" / "soundlake.yml").read_text(encoding="utf-8"))
    assert bundled["name"] == "spotify"  # the rest of the file is intact and valid YAML


def test_bundle_keeps_env_references_and_hides_resolved_secrets(tmp_path: Path) -> None:
    """Item 15: ``${env:...}`` stays a reference; a resolved secret never lands in databricks.yml."""
    assert cli(None, "init", str(tmp_path / "proj")).returncode == 0
    config = tmp_path / "proj" / "soundlake.yml"
    text = config.read_text(encoding="utf-8").replace(
        "url: sqlite:///source.db", "url: postgresql+psycopg://app:${env:SL_PW}@db/music"
    )
    text = text.replace("configuration:\n", "configuration:\n  api_token: ${env:SL_PW}\n", 1)
    config.write_text(text, encoding="utf-8")
    (tmp_path / "proj" / ".env").write_text("SL_PW=hunter2\n")
    result = cli(tmp_path / "proj", "bundle", str(tmp_path / "bundle"))
    assert result.returncode == 0, result.stderr
    written = _bundle_files(tmp_path / "bundle")
    assert "hunter2" not in written
    assert "${env:SL_PW}" in written
