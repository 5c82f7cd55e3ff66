"""Python pipeline files written for Databricks load unchanged (DuckDB engine).

``import dlt``, ``SparkSession.builder.getOrCreate()``, ``from databricks.sdk.runtime
import dbutils, spark``, ``dbutils`` (widgets, fs, notebook context, secrets),
``spark.conf.set`` and ``spark.range``: each is loaded from pipeline files written here
and run by the real runtime. Installed packages named ``dlt`` stay untouched.
"""

from __future__ import annotations

import getpass
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import QueryFlow
from soundlake.pipeline.python.dbutils import FileInfo
from tests.cli import soundlake
from tests.ingest.test_azurite import azurite  # noqa: F401 - the Azurite fixture
from tests.pipeline.conftest import Lakehouse, statuses


def write(lake: Lakehouse, name: str, code: str) -> Path:
    path = lake.root / "pipelines" / name
    path.write_text(textwrap.dedent(code).lstrip("\n"), encoding="utf-8")
    return path


def python_lake(root: Path, **configuration: str) -> Lakehouse:
    lake = Lakehouse(root)
    lake.config(libraries=["pipelines/*.py"], configuration={"data": "data", **configuration})
    return lake


def flows(lake: Lakehouse) -> dict[str, QueryFlow]:
    from soundlake.project.pipeline_ops import load_graph

    graph = load_graph(lake.project)
    return {name.rsplit(".", 1)[-1]: f.flow for name, f in graph.flows.items() if isinstance(f.flow, QueryFlow)}


@pytest.fixture()
def no_dlt(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ``dlt`` module imported yet (the test's imports are undone afterwards)."""
    for name in [m for m in sys.modules if m == "dlt" or m.startswith("dlt.")]:
        monkeypatch.delitem(sys.modules, name)
    yield
    for name in [m for m in sys.modules if m == "dlt" or m.startswith("dlt.")]:
        del sys.modules[name]


# -- import dlt -------------------------------------------------------------------------------


DLT_PIPELINE = '''
import dlt
import json                              # other imports: untouched
import dlt_consumer                      # an installed package that imports dlt itself
import helpers                           # a helper module beside the pipeline (imports dlt too)
import seen

seen.MODULES.append(("file", dlt.__name__))
seen.MODULES.append(("consumer", dlt_consumer.DLT.__name__))
helpers.bronze("bronze_users", "users")


@dlt.table(comment="users, upper-cased")
@dlt.expect_or_drop("id_present", "id IS NOT NULL")
def users():
    import dlt as late                   # run after the file has loaded
    seen.MODULES.append(("function", late.__name__))
    return dlt.read("bronze_users").selectExpr("id", "upper(name) AS name")
'''

HELPERS = '''
import dlt
from dlt import *

assert table is dlt.table and "sys" not in globals()


def bronze(name, folder):
    @dlt.table(name=name)
    def read():
        return spark.read.format("parquet").load(spark.conf.get("data") + "/" + folder)
    return read
'''

API = "soundlake.pipeline.python.api"


def dlt_project(root: Path) -> Lakehouse:
    lake = python_lake(root)
    write(lake, "p.py", DLT_PIPELINE)
    write(lake, "helpers.py", HELPERS)
    write(lake, "seen.py", "MODULES = []\n")
    lake.parquet("users", "1.parquet", [{"id": 1, "name": "ann"}, {"id": None, "name": "bob"}])
    return lake


def run_dlt_project(lake: Lakehouse) -> list[tuple[str, str]]:
    sys.modules.pop("seen", None)
    sys.modules.pop("helpers", None)
    result = lake.run()
    assert result.ok, result.errors
    assert lake.rows("SELECT id, name FROM users") == [{"id": 1, "name": "ANN"}]
    assert "helpers" not in sys.modules  # it imports dlt: forgotten after each load
    modules: list[tuple[str, str]] = sys.modules["seen"].MODULES
    return modules


def throwaway_dlt(site: Path) -> None:
    """A real distribution named ``dlt`` (dist-info and package) and a package using it."""
    (site / "dlt").mkdir(parents=True)
    (site / "dlt" / "__init__.py").write_text("KIND = 'throwaway'\n__version__ = '0.0.1'\n", encoding="utf-8")
    info = site / "dlt-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dlt\nVersion: 0.0.1\n", encoding="utf-8")
    (info / "RECORD").write_text("dlt/__init__.py,,\n", encoding="utf-8")
    (site / "dlt_consumer.py").write_text("import dlt as DLT\n", encoding="utf-8")


def test_import_dlt_is_soundlakes_api_and_an_installed_dlt_stays_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_dlt: None
) -> None:
    import importlib.metadata

    site = tmp_path / "site"
    throwaway_dlt(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "dlt_consumer", raising=False)
    assert importlib.metadata.version("dlt") == "0.0.1"
    lake = dlt_project(tmp_path / "proj")
    modules = run_dlt_project(lake)
    # the file, its helper and its function see soundlake's API; the package imported
    # while the file loaded got the installed dlt
    assert modules == [("file", API), ("consumer", "dlt"), ("function", API)]
    assert sys.modules["dlt_consumer"].DLT.KIND == "throwaway"
    import dlt

    assert dlt.KIND == "throwaway" and sys.modules["dlt"] is dlt


def test_import_dlt_with_dlthubs_dlt_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_dlt: None) -> None:
    """dlthub's dlt (the ``bench`` extra) beside soundlake: both work, nothing is shadowed."""
    import importlib.util

    spec = importlib.util.find_spec("dlt")
    if spec is None or spec.origin is None or "site-packages" not in spec.origin:
        pytest.skip("dlthub's dlt is not installed (pip install -e '.[bench]')")
    site = tmp_path / "site"
    site.mkdir()
    (site / "dlt_consumer.py").write_text("import dlt as DLT\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "dlt_consumer", raising=False)
    lake = dlt_project(tmp_path / "first")
    assert run_dlt_project(lake) == [("file", API), ("consumer", "dlt"), ("function", API)]
    import dlt

    assert callable(dlt.pipeline) and callable(dlt.source) and "site-packages" in str(dlt.__file__)
    assert sys.modules["dlt_consumer"].DLT is dlt
    # dlthub's dlt already imported: the pipeline still gets soundlake's, dlt stays dlthub's
    again = dlt_project(tmp_path / "second")
    assert run_dlt_project(again) == [("file", API), ("consumer", "dlt"), ("function", API)]
    assert sys.modules["dlt"] is dlt


# -- SparkSession and databricks.sdk.runtime ---------------------------------------------------


SESSION_PIPELINE = '''
from pyspark import pipelines as dp
from pyspark.sql import SparkSession, functions as F
from databricks.sdk.runtime import dbutils as runtime_dbutils, spark as runtime_spark
import databricks.sdk.runtime
from pyspark.dbutils import DBUtils

assert SparkSession.builder.getOrCreate() is spark
assert SparkSession.builder.appName("databricks job").master("local[1]").getOrCreate() is spark
assert SparkSession.active() is spark and SparkSession.getActiveSession() is spark
assert runtime_spark is spark and runtime_dbutils is dbutils
assert databricks.sdk.runtime.dbutils is dbutils and isinstance(spark, SparkSession)
assert DBUtils(spark) is dbutils


@dp.materialized_view
def squares():
    session = SparkSession.builder.getOrCreate()
    return session.range(int(session.conf.get("n"))).withColumn("sq", F.col("id") * F.col("id"))
'''


def test_spark_session_and_databricks_runtime_give_the_pipelines_session(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p", n="4")
    write(lake, "p.py", SESSION_PIPELINE)
    assert lake.run().ok
    assert lake.rows("SELECT id, sq FROM squares ORDER BY id") == [
        {"id": i, "sq": i * i} for i in range(4)
    ]


def test_an_installed_databricks_sdk_is_not_shadowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    (site / "databricks" / "sdk").mkdir(parents=True)
    (site / "databricks" / "sdk" / "__init__.py").write_text("WorkspaceClient = 'installed'\n", encoding="utf-8")
    (site / "databricks" / "sdk" / "runtime.py").write_text("dbutils = 'installed runtime'\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    for name in [m for m in sys.modules if m == "databricks" or m.startswith("databricks.")]:
        monkeypatch.delitem(sys.modules, name)
    lake = python_lake(tmp_path / "p")
    write(lake, "seen.py", "")
    write(lake, "p.py", '''
        import seen
        from databricks.sdk.runtime import dbutils as runtime_dbutils
        from databricks.sdk import WorkspaceClient
        seen.ours = runtime_dbutils is dbutils
        seen.client = WorkspaceClient
    ''')
    sys.modules.pop("seen", None)
    from soundlake.project.pipeline_ops import load_graph

    load_graph(lake.project)
    assert sys.modules["seen"].ours is True and sys.modules["seen"].client == "installed"
    import databricks.sdk.runtime

    assert databricks.sdk.runtime.dbutils == "installed runtime"
    for name in [m for m in sys.modules if m == "databricks" or m.startswith("databricks.")]:
        del sys.modules[name]


PACKAGE_HELPER = '''
    import dlt
    from databricks.sdk.runtime import spark

    def session():
        return spark

    def define(name):
        @dlt.table(name=name)
        def made():
            return spark.range(2)
'''


def test_a_package_of_pipeline_modules_imports_helpers_without_leaking_them(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p")
    lake.config(libraries=[{"glob": {"include": "pipelines/**"}}], configuration={"data": "data"})
    (lake.root / "pipelines" / "utils").mkdir()
    (lake.root / "pipelines" / "__init__.py").write_text("", encoding="utf-8")
    (lake.root / "pipelines" / "utils" / "__init__.py").write_text("", encoding="utf-8")
    (lake.root / "pipelines" / "utils" / "helpers.py").write_text(textwrap.dedent(PACKAGE_HELPER), encoding="utf-8")
    write(lake, "a.py", '''
        from utils.helpers import define, session
        assert session() is spark
        define("from_a")
    ''')
    write(lake, "b.py", '''
        from pipelines.utils import helpers
        assert helpers.session() is spark  # this file's session, not a.py's
        helpers.define("from_b")
    ''')
    before = set(sys.modules)
    assert set(flows(lake)) == {"from_a", "from_b"}
    leaked = {m for m in set(sys.modules) - before if m.split(".")[0] in ("utils", "pipelines", "dlt", "databricks")}
    assert leaked == set()
    assert lake.run().ok
    assert lake.rows("SELECT count(*) AS n FROM from_b") == [{"n": 2}]


def test_spark_range_is_one_bigint_column_id(tmp_path: Path) -> None:
    from soundlake.project.pipeline_ops import query

    lake = python_lake(tmp_path / "p")
    write(lake, "p.py", '''
        from pyspark import pipelines as dp

        @dp.materialized_view
        def one():
            return spark.range(3)

        @dp.materialized_view
        def stepped():
            return spark.range(10, 0, -4).union(spark.range(1, 2))
    ''')
    assert lake.run().ok
    table = query(lake.project, "SELECT * FROM one ORDER BY id")
    assert table.schema == pa.schema([("id", pa.int64())]) and table.column("id").to_pylist() == [0, 1, 2]
    assert sorted(r["id"] for r in lake.rows("SELECT id FROM stepped")) == [1, 2, 6, 10]


# -- dbutils.widgets --------------------------------------------------------------------------


def test_widgets_read_the_configuration_then_their_defaults(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p", env="dev", region="eu")
    write(lake, "p.py", '''
        import dlt

        dbutils.widgets.text("env", "prod", "Environment")
        dbutils.widgets.dropdown("mode", "full", ["full", "incremental"], "Mode")
        dbutils.widgets.combobox(name="tier", defaultValue="gold", choices=["silver"], label="Tier")
        values = {
            "env": dbutils.widgets.get("env"),
            "mode": dbutils.widgets.get("mode"),
            "tier": dbutils.widgets.get("tier"),
            "region": dbutils.widgets.getArgument("region"),
            "missing": dbutils.widgets.getArgument("nope", "fallback"),
            "all": ",".join(sorted(dbutils.widgets.getAll())),
        }

        @dlt.table
        def params():
            columns = ", ".join(f"'{v}' AS {k}" for k, v in values.items())
            return spark.sql(f"SELECT {columns}")
    ''')
    assert lake.run().ok
    assert lake.rows("SELECT * FROM params") == [
        {"env": "dev", "mode": "full", "tier": "gold", "region": "eu", "missing": "fallback", "all": "env,mode,tier"}
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('dbutils.widgets.get("nope")',
         (r"p\.py:2: dbutils\.widgets\.get\('nope'\): no widget or configuration value named 'nope'; "
          r"set it in soundlake\.yml under 'configuration:' \(nope: <value>\)")),
        ('dbutils.widgets.dropdown("mode", "x", ["a", "b"])', r"p\.py:2: .*default 'x' is not one of \['a', 'b'\]"),
        ('dbutils.widgets.dropdown("env", "a", ["a", "b"])', r"p\.py:2: .*configuration value 'dev' is not one of"),
        ('dbutils.secrets.get("kv", "token")',
         r"p\.py:2: dbutils\.secrets\.get\('kv', 'token'\): Databricks secret scopes do not exist locally; .*\$\{env:NAME\}"),
        ('dbutils.jobs.taskValues.get("t", "k")', r"p\.py:2: dbutils\.jobs is not available outside Databricks"),
        ('dbutils.fs.ls("dbfs:/mnt/raw")', r"p\.py:2: dbutils\.fs\.ls\('dbfs:/mnt/raw'\): dbfs:/ paths do not exist"),
        ('dbutils.fs.ls("data/nothing")', r"p\.py:2: dbutils\.fs\.ls\('data/nothing'\): no such file or folder"),
        ('dbutils.notebook.entry_point.getDbutils().notebook().getContext().apiToken().get()',
         r"p\.py:2: getContext\(\)\.apiToken\(\) is not available outside Databricks"),
        ('dbutils.notebook.entry_point.getDbutils().notebook().getContext().tags().apply("orgId")',
         r"p\.py:2: notebook context tag 'orgId' is not available outside Databricks"),
        ('spark.conf.set("spark.sql.ansi.enabled", "maybe")',
         r"p\.py:2: spark\.conf\.set: configuration spark\.sql\.ansi\.enabled: expected true or false"),
    ],
)
def test_dbutils_errors_are_one_line_naming_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    from soundlake.project.pipeline_ops import dry_run

    lake = python_lake(tmp_path / "p", env="dev")
    write(lake, "p.py", f"import dlt\n{line}\n")
    with pytest.raises(DefinitionError, match=message) as info:
        dry_run(lake.project)
    assert "\n" not in str(info.value)


def test_the_cli_prints_a_widget_error_without_a_traceback(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p")
    write(lake, "p.py", 'import dlt\n\nenv = dbutils.widgets.get("env")\n')
    out = soundlake("dry-run", project=lake.root)
    assert out.returncode != 0
    assert "pipelines/p.py:3: dbutils.widgets.get('env'): no widget or configuration value named 'env'" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


# -- dbutils.fs, notebook context -------------------------------------------------------------


FS_PIPELINE = '''
from pyspark import pipelines as dp

base = spark.conf.get("data")
dbutils.fs.mkdirs(f"{base}/landing/empty")
dbutils.fs.put(f"{base}/landing/a.csv", "id,name\\n1,ann\\n2,bob\\n", overwrite=True)
dbutils.fs.cp(f"{base}/landing/a.csv", f"{base}/copy/a.csv")
dbutils.fs.cp(f"{base}/landing", f"{base}/tree", recurse=True)
dbutils.fs.put(f"{base}/gone/x.txt", "x", True)
removed = (dbutils.fs.rm(f"{base}/gone", recurse=True), dbutils.fs.rm(f"{base}/gone"))
listing = dbutils.fs.ls(f"{base}/landing")
header = dbutils.fs.head(listing[0].path, 7)


@dp.materialized_view
def copied():
    return spark.read.format("csv").option("header", "true").load(f"{base}/copy")


@dp.materialized_view
def files():
    rows = ", ".join(
        f"('{f.name}', {f.size}, {str(f.isDir()).lower()}, {f.modificationTime > 0})"
        for f in dbutils.fs.ls(f"{base}/tree")
    )
    return spark.sql(f"SELECT * FROM VALUES {rows} AS t(name, size, is_dir, has_time)")
'''


def test_dbutils_fs_on_local_paths(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p")
    write(lake, "p.py", FS_PIPELINE)
    write(lake, "seen.py", "")
    assert lake.run().ok
    # Spark's CSV source without inferSchema reads every column as STRING
    assert sorted(lake.rows("SELECT id, name FROM copied"), key=repr) == [
        {"id": "1", "name": "ann"}, {"id": "2", "name": "bob"}
    ]
    assert lake.rows("SELECT * FROM files ORDER BY name") == [
        {"name": "a.csv", "size": 20, "is_dir": False, "has_time": True},
        {"name": "empty/", "size": 0, "is_dir": True, "has_time": True},
    ]
    assert not (lake.root / "data" / "gone").exists()


def test_dbutils_fs_entries_look_like_databricks_file_infos(tmp_path: Path) -> None:
    from soundlake.project.pipeline_ops import load_graph

    lake = python_lake(tmp_path / "p")
    lake.text("in", "a.json", '{"a": 1}')
    (lake.root / "data" / "in" / "sub").mkdir()
    write(lake, "seen.py", "")
    write(lake, "p.py", '''
        import seen
        seen.relative = dbutils.fs.ls("data/in")
        seen.uri = dbutils.fs.ls("file:" + spark.conf.get("absolute"))
        seen.head = dbutils.fs.head("data/in/a.json")
        seen.exists = None
        try:
            dbutils.fs.put("data/in/a.json", "{}")
        except Exception as exc:
            seen.exists = str(exc)
    ''')
    folder = (lake.root / "data" / "in").resolve()
    lake.config(libraries=["pipelines/*.py"], configuration={"absolute": str(folder)})
    sys.modules.pop("seen", None)
    load_graph(lake.project)
    seen = sys.modules["seen"]
    first, second = seen.relative
    assert isinstance(first, FileInfo) and first.path == f"{folder}/a.json" and first.name == "a.json"
    assert first.size == 8 and first.modificationTime > 1_600_000_000_000 and first.isFile()
    assert second.path == f"{folder}/sub/" and second.name == "sub/" and second.isDir()
    assert [f.path for f in seen.uri] == [f"file:{folder}/a.json", f"file:{folder}/sub/"]
    assert seen.head == '{"a": 1}'
    assert "p.py:7: dbutils.fs.put('data/in/a.json'): the file exists; pass overwrite=True" in seen.exists


def test_dbutils_fs_writes_are_refused_inside_dataset_functions(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p")
    write(lake, "p.py", '''
        import dlt

        @dlt.table
        def t():
            dbutils.fs.put("data/x.txt", "x")
            return spark.range(1)
    ''')
    with pytest.raises(DefinitionError, match=r"p\.py:5: dbutils\.fs\.put in dataset function 't'"):
        lake.run()


def test_notebook_context_gives_the_user_and_the_file(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p")
    write(lake, "p.py", '''
        import json
        import dlt

        context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
        user = context.userName().get()
        path = context.notebookPath().get()
        tag = context.tags().apply("user")
        known = context.tags().get("orgId").getOrElse("none")
        from_json = json.loads(context.toJson())["tags"]["user"]

        @dlt.table
        def who():
            return spark.sql(f"SELECT '{user}' AS user, '{path}' AS path, '{tag}' AS tag, "
                             f"'{known}' AS known, '{from_json}' AS from_json")
    ''')
    assert lake.run().ok
    (row,) = lake.rows("SELECT * FROM who")
    assert row["user"] == row["tag"] == row["from_json"] == getpass.getuser()
    assert row["path"] == (lake.root / "pipelines" / "p.py").resolve().as_posix() and row["known"] == "none"


# -- spark.conf.set ---------------------------------------------------------------------------


CONF_PIPELINE = '''
from pyspark import pipelines as dp

CAST = "SELECT CAST(s AS INT) AS n FROM VALUES ('7'), ('x') AS v(s)"
before = spark.conf.get("spark.sql.ansi.enabled")


@dp.materialized_view
def strict():
    return spark.sql(CAST)


spark.conf.set("spark.sql.ansi.enabled", False)
spark.conf.set("my.flag", 1)
after = spark.conf.get("spark.sql.ansi.enabled")


@dp.materialized_view
def lenient():
    return spark.sql(CAST + f" WHERE '{before}' = 'true' AND '{after}' = 'false'")


@dp.materialized_view(spark_conf={"spark.sql.ansi.enabled": "true"})
def strict_again():
    return spark.sql(CAST)
'''


def test_spark_conf_set_applies_to_the_definitions_after_it(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p")
    write(lake, "p.py", CONF_PIPELINE)
    write(lake, "other.py", '''
        from pyspark import pipelines as dp

        @dp.materialized_view
        def other_file():
            return spark.sql("SELECT CAST('x' AS INT) AS n")
    ''')
    conf = {name: dict(flow.spark_conf) for name, flow in flows(lake).items()}
    assert conf == {
        "strict": {},
        "lenient": {"spark.sql.ansi.enabled": "false", "my.flag": "1"},
        "strict_again": {"spark.sql.ansi.enabled": "true", "my.flag": "1"},
        "other_file": {},  # another file: its own session conf
    }
    result = lake.run()
    assert statuses(result) == {
        "strict": "FAILED", "lenient": "COMPLETED", "strict_again": "FAILED", "other_file": "FAILED",
    }
    assert sorted(r["n"] or 0 for r in lake.rows("SELECT n FROM lenient")) == [0, 7]


def test_spark_conf_set_of_another_time_zone_is_refused_like_set_in_sql(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p")
    write(lake, "p.py", '''
        import dlt

        spark.conf.set("spark.sql.session.timeZone", "America/New_York")

        @dlt.table
        def t():
            return spark.sql("SELECT TIMESTAMP'2024-01-01 00:00:00' AS ts")
    ''')
    with pytest.raises(DefinitionError, match=r"p\.py:5: flow 'main\.silver\.t' sets spark\.sql\.session\.timeZone"):
        lake.run()
    lake.config(libraries=["pipelines/*.py"], configuration={"spark.sql.session.timeZone": "America/New_York"})
    assert lake.run().ok  # the same zone as the pipeline's


def test_file_info_is_a_tuple_with_databricks_fields() -> None:
    info = FileInfo("file:/x/a/", "a/", 0, 5)
    assert info.isDir() and not info.isFile() and info._asdict() == {
        "path": "file:/x/a/", "name": "a/", "size": 0, "modificationTime": 5,
    }


# -- dbutils.fs on abfss:// (Azurite) ---------------------------------------------------------


@pytest.mark.slow
def test_dbutils_fs_on_abfss_uses_the_projects_storage_credentials(tmp_path: Path, azurite: str) -> None:  # noqa: F811
    from soundlake.project.pipeline_ops import load_graph
    from tests.ingest.test_azurite import ACCOUNT, azure_fs, options

    lake = python_lake(tmp_path / "p")
    url = f"abfss://lake@{ACCOUNT}.dfs.core.windows.net"
    lake.config(libraries=["pipelines/*.py"], storage=f"{url}/proj", storage_options=options("key", azurite),
                configuration={"url": url})
    lake.text("local", "a.csv", "id\n1\n")
    write(lake, "seen.py", "")
    write(lake, "p.py", '''
        import seen
        url = spark.conf.get("url")
        dbutils.fs.put(f"{url}/landing/notes.txt", "hello", overwrite=True)
        dbutils.fs.cp("data/local/a.csv", f"{url}/landing/in/a.csv")
        seen.listing = dbutils.fs.ls(f"{url}/landing")
        seen.head = dbutils.fs.head(f"{url}/landing/notes.txt")
        seen.removed = dbutils.fs.rm(f"{url}/landing/in", recurse=True)
        seen.after = [f.name for f in dbutils.fs.ls(f"{url}/landing")]
    ''')
    sys.modules.pop("seen", None)
    load_graph(lake.project)
    seen = sys.modules["seen"]
    assert [(f.path, f.name, f.size) for f in seen.listing] == [
        (f"{url}/landing/in/", "in/", 0), (f"{url}/landing/notes.txt", "notes.txt", 5),
    ]
    assert seen.head == "hello" and seen.removed is True and seen.after == ["notes.txt"]
    with azure_fs(azurite).open_input_stream("lake/landing/notes.txt") as handle:
        assert handle.read() == b"hello"


# -- definition-time reads --------------------------------------------------------------------


def test_definition_time_reads_see_existing_tables_only(tmp_path: Path) -> None:
    lake = python_lake(tmp_path / "p")
    lake.sql("CREATE MATERIALIZED VIEW plays AS SELECT 1 AS id, 'Free' AS plan;", name="plays.sql")
    write(lake, "p.py", '''
        from pyspark import pipelines as dp
        ids = [r.id for r in spark.read.table("plays").collect()]  # plays has not run yet

        @dp.materialized_view
        def copy():
            return spark.read.table("plays")
    ''')
    lake.config(libraries=["pipelines/*.sql", "pipelines/*.py"])
    with pytest.raises(DefinitionError, match=r"^pipelines/p\.py:2: DataFrame\.collect\(\) at definition time: "
                       r"table main\.silver\.plays does not exist"):
        flows(lake)
    with pytest.raises(DefinitionError, match="plays does not exist"):
        lake.run()  # the update refuses it too, before writing anything
    # after an update created plays, the same file loads: its columns and rows are read
    write(lake, "p.py", "")
    assert lake.run().ok
    write(lake, "p.py", '''
        from pyspark import pipelines as dp
        from pyspark.sql import functions as F
        assert spark.read.table("plays").columns == ["id", "plan"]
        assert spark.read.table("plays").dtypes == [("id", "int"), ("plan", "string")]
        first = spark.read.table("plays").first()
        assert (first.id, first["plan"], first.asDict()) == (1, "Free", {"id": 1, "plan": "Free"})
        assert spark.read.table("plays").where(F.col("id") > 1).count() == 0

        for row in spark.read.table("plays").collect():
            @dp.materialized_view(name=f"plan_{row.plan.lower()}")
            def per_plan():
                return spark.read.table("plays").where(F.col("plan") == row.plan)
    ''')
    assert lake.run().ok
    assert lake.rows("SELECT * FROM plan_free") == [{"id": 1, "plan": "Free"}]


@pytest.mark.parametrize(("body", "line", "message"), [
    ('''
        from pyspark import pipelines as dp

        @dp.materialized_view
        def t():
            n = spark.range(3).count()
            return spark.range(n)
    ''', 5, r"DataFrame\.count\(\) in a dataset function"),
    ('''
        spark.range(3).write.saveAsTable("x")
    ''', 1, r"DataFrame\.write\(\) in a dataset function"),
    ('''
        spark.readStream.table("x").collect()
    ''', 1, r"DataFrame\.collect\(\) on a streaming DataFrame"),
    ('''
        columns = spark.read.json("data/in").columns
    ''', 1, r"DataFrame\.columns at definition time reads files"),
])
def test_definition_time_side_effects_are_refused(tmp_path: Path, body: str, line: int, message: str) -> None:
    lake = python_lake(tmp_path / "p")
    write(lake, "p.py", body)
    with pytest.raises(DefinitionError, match=rf"^pipelines/p\.py:{line}: {message}"):
        flows(lake)
