"""``soundlake bundle``: the output follows the documented Databricks Asset Bundle structure.

The bundle cannot be deployed from here, so it is checked against the documented subset
of the configuration reference (databricks.yml top-level keys and targets, the pipeline
resource's keys, a job's tasks with ``spark_python_task`` and ``pipeline_task``), and every
path it references must exist in the bundle.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlglot
import yaml

from soundlake.core.errors import ConfigError
from soundlake.project.bundle import rewrite_definition, split_statements, write_bundle
from soundlake.project.context import Project
from soundlake.project.scaffold import init_project

# The documented subset: key -> expected type (a dict means a nested mapping to check).
DATABRICKS_YML = {"bundle": {"name": str}, "include": list, "variables": dict, "targets": dict}
TOP_LEVEL_KEYS = {"bundle", "include", "variables", "targets", "workspace", "resources", "artifacts",
                  "sync", "permissions", "run_as", "presets", "experimental", "scripts"}
TARGET_KEYS = {"mode", "default", "workspace", "variables", "resources", "presets", "run_as",
               "permissions", "artifacts", "sync", "git", "cluster_id", "compute_id", "bundle"}
PIPELINE_KEYS = {"name", "catalog", "schema", "target", "libraries", "configuration", "serverless",
                 "clusters", "channel", "continuous", "development", "photon", "edition",
                 "root_path", "notifications", "permissions", "environment", "event_log", "storage"}
PIPELINE_TASK_KEYS = {"pipeline_id", "full_refresh"}
TASK_KINDS = {"spark_python_task", "python_wheel_task", "pipeline_task", "notebook_task"}


def check(document: dict[str, Any], spec: dict[str, Any], where: str) -> None:
    for key, expected in spec.items():
        assert key in document, f"{where}: missing {key}"
        if isinstance(expected, dict):
            check(document[key], expected, f"{where}.{key}")
        else:
            assert isinstance(document[key], expected), f"{where}.{key}: {type(document[key])}"


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    init_project(tmp_path / "proj")
    return Project.open(tmp_path / "proj")


@pytest.fixture()
def bundle(project: Project, tmp_path: Path) -> Path:
    write_bundle(project, tmp_path / "bundle")
    return tmp_path / "bundle"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_databricks_yml_has_documented_keys_and_targets(bundle: Path) -> None:
    root = load(bundle / "databricks.yml")
    check(root, DATABRICKS_YML, "databricks.yml")
    assert set(root) <= TOP_LEVEL_KEYS
    assert root["bundle"]["name"] == "spotify"
    assert root["include"] == ["resources/*.yml"]
    assert root["variables"]["catalog"]["default"] == "spotify_catalog"
    assert root["variables"]["schema"]["default"] == "silver"
    assert set(root["targets"]) == {"dev", "prod"}
    assert root["targets"]["dev"]["mode"] == "development" and root["targets"]["dev"]["default"] is True
    assert root["targets"]["prod"]["mode"] == "production"
    for target in root["targets"].values():
        assert set(target) <= TARGET_KEYS
        assert set(target["variables"]) <= set(root["variables"])


def test_pipeline_resource_lists_every_project_file(bundle: Path, project: Project) -> None:
    pipelines = load(bundle / "resources" / "spotify.pipeline.yml")["resources"]["pipelines"]
    (_, pipeline), = pipelines.items()
    assert set(pipeline) <= PIPELINE_KEYS
    assert pipeline["catalog"] == "${var.catalog}" and pipeline["schema"] == "${var.schema}"
    assert pipeline["serverless"] is True and pipeline["channel"] in {"CURRENT", "PREVIEW"}
    assert pipeline["configuration"] == {"bronze_path": "${var.bronze_path}", "refresh_lookback": "${var.refresh_lookback}"}
    paths = [lib["file"]["path"] for lib in pipeline["libraries"]]
    resources = bundle / "resources"
    assert all((resources / p).resolve().is_file() for p in paths)
    sources = {p.relative_to(project.root).as_posix() for p in project.root.glob("pipelines/**/*") if p.suffix in {".sql", ".py"}}
    assert {Path(p).relative_to("../src").as_posix() for p in paths} == sources


def test_job_runs_ingestion_then_the_pipeline(bundle: Path) -> None:
    jobs = load(bundle / "resources" / "spotify.job.yml")["resources"]["jobs"]
    (_, job), = jobs.items()
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert list(tasks) == ["ingest", "pipeline"]
    for task in tasks.values():
        assert len(set(task) & TASK_KINDS) == 1
    ingest = tasks["ingest"]["spark_python_task"]
    assert (bundle / "resources" / ingest["python_file"]).resolve().is_file()
    assert all(isinstance(p, str) for p in ingest["parameters"])
    env_key = tasks["ingest"]["environment_key"]
    assert [e["environment_key"] for e in job["environments"]] == [env_key]
    assert job["environments"][0]["spec"]["dependencies"] == ["../vendor/soundlake/dist/*.whl"]  # the artifact
    pipeline_task = tasks["pipeline"]["pipeline_task"]
    assert set(pipeline_task) <= PIPELINE_TASK_KEYS
    assert pipeline_task["pipeline_id"] == "${resources.pipelines.spotify_pipeline.id}"
    assert tasks["pipeline"]["depends_on"] == [{"task_key": "ingest"}]


def test_classic_compute_uses_clusters(project: Project, tmp_path: Path) -> None:
    write_bundle(project, tmp_path / "b", compute="classic")
    (_, pipeline), = load(tmp_path / "b" / "resources" / "spotify.pipeline.yml")["resources"]["pipelines"].items()
    assert "serverless" not in pipeline and pipeline["clusters"][0]["label"] == "default"
    (_, job), = load(tmp_path / "b" / "resources" / "spotify.job.yml")["resources"]["jobs"].items()
    assert job["tasks"][0]["job_cluster_key"] == job["job_clusters"][0]["job_cluster_key"]


def test_soundlake_only_features_are_rewritten(bundle: Path) -> None:
    src = bundle / "src"
    for path in src.rglob("*.sql"):
        code = re.sub(r"--[^\n]*", "", path.read_text())
        assert not re.search(r"ON\s+VIOLATION\s+QUARANTINE", code, re.IGNORECASE), path
    streams = (src / "pipelines" / "silver" / "streams.sql").read_text()
    assert "CREATE OR REFRESH STREAMING TABLE spotify_catalog.silver.factstream_quarantine" in streams
    assert "CONSTRAINT known_user EXPECT (user_known) ON VIOLATION DROP ROW" in streams
    for path in src.rglob("*.py"):
        if path.name == "run_ingest.py":
            continue
        text = path.read_text()
        assert "import soundlake" not in text and "from soundlake import" not in text
    assert "from pyspark import pipelines as dp" in (src / "pipelines" / "gold" / "dim_user.py").read_text()
    assert (src / "soundlake.yml").is_file()


def test_quarantine_rewrite_keeps_null_as_pass_and_names_failed_rules() -> None:
    sql = (
        "-- plays\nCREATE OR REFRESH MATERIALIZED VIEW c.s.t (\n"
        "  CONSTRAINT ok_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW,\n"
        "  CONSTRAINT pos EXPECT (amount > 0) ON VIOLATION QUARANTINE,\n"
        "  CONSTRAINT small EXPECT (amount < 10) ON VIOLATION QUARANTINE\n"
        ") COMMENT 'x; y as z' AS SELECT id, amount FROM c.s.src;\n"
        "CREATE TEMPORARY VIEW v AS SELECT 1;\n"
    )
    text, notes = rewrite_definition(sql, ".sql", "f.sql")
    assert notes == ["f.sql: c.s.t quarantine -> DROP ROW + c.s.t_quarantine"]
    statements = [s for s in split_statements(text) if s.strip()]
    assert len(statements) == 3
    assert "CONSTRAINT pos EXPECT (amount > 0) ON VIOLATION DROP ROW" in statements[0]
    quarantine = statements[1]
    assert "CREATE OR REFRESH MATERIALIZED VIEW c.s.t_quarantine" in quarantine
    query = quarantine[quarantine.index("AS SELECT") + 3 :].rstrip().rstrip(";")
    parsed = sqlglot.parse_one(query, read="databricks")
    assert parsed.find(sqlglot.exp.Where) is not None
    import duckdb

    duck = sqlglot.transpile(query.replace("c.s.src", "src"), read="databricks", write="duckdb")[0]
    con = duckdb.connect()
    con.execute("CREATE TABLE src AS SELECT * FROM (VALUES (1, 5), (2, -1), (3, NULL), (4, 20)) t(id, amount)")
    rows = sorted(con.execute(duck).fetchall())
    assert rows == [(2, -1, ["pos"]), (4, 20, ["small"])]


def test_refuses_a_non_empty_folder(project: Project, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        write_bundle(project, tmp_path / "full")


def test_cli_writes_the_bundle(project: Project, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from soundlake.cli.main import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["--project", str(project.root), "bundle", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "databricks.yml").is_file()
