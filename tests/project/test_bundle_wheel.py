"""The bundle builds and ships soundlake's own wheel, and every document fits the bundle schema.

``soundlake==<version>`` is on no package index, so the bundle declares soundlake's source
(``vendor/soundlake``) as a ``whl`` artifact and the job installs the built file. The
artifact's build command is run here for real and the wheel it writes must be what the
job references. The Databricks CLI (``databricks bundle schema``) is not installable from
PyPI, so the documents are validated against ``schemas/databricks_bundle.schema.json``,
written from the Databricks bundle configuration reference for the keys soundlake emits,
and every job and pipeline resource is loaded by ``databricks-bundles`` (Databricks' own
Python models of bundle resources, generated from the CLI's schema), which refuses any
field the CLI's schema does not have.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from soundlake import __version__
from soundlake.project.bundle import write_bundle
from soundlake.project.context import Project
from soundlake.project.scaffold import init_project

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "databricks_bundle.schema.json").read_text(encoding="utf-8"))


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    init_project(tmp_path / "proj")
    return Project.open(tmp_path / "proj")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def documents(bundle: Path) -> dict[str, dict[str, Any]]:
    return {p.relative_to(bundle).as_posix(): load(p) for p in [bundle / "databricks.yml", *sorted((bundle / "resources").glob("*.yml"))]}


@pytest.mark.parametrize("compute", ["serverless", "classic"])
def test_every_document_fits_the_bundle_schema(project: Project, tmp_path: Path, compute: str) -> None:
    write_bundle(project, tmp_path / "b", compute=compute)  # type: ignore[arg-type]
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for name, document in documents(tmp_path / "b").items():
        errors = [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, "\n".join(errors)


@pytest.mark.parametrize("compute", ["serverless", "classic"])
def test_resources_load_as_databricks_bundles_models(project: Project, tmp_path: Path, compute: str) -> None:
    from databricks.bundles.jobs import Job
    from databricks.bundles.pipelines import Pipeline

    write_bundle(project, tmp_path / "b", compute=compute)  # type: ignore[arg-type]
    loaded: list[str] = []
    for name, document in documents(tmp_path / "b").items():
        resources = document.get("resources", {})
        for key, job in resources.get("jobs", {}).items():
            assert Job.from_dict(job).name == job["name"], name
            loaded.append(f"job {key}")
        for key, pipeline in resources.get("pipelines", {}).items():
            model = Pipeline.from_dict(pipeline)
            assert model.libraries and len(model.libraries) == len(pipeline["libraries"]), name
            loaded.append(f"pipeline {key}")
    assert any(x.startswith("job ") for x in loaded) and any(x.startswith("pipeline ") for x in loaded), loaded
    with pytest.raises(ValueError, match="Unexpected field 'librarys'"):
        Pipeline.from_dict({"name": "p", "librarys": []})  # the models refuse misspelt keys


def test_the_schema_refuses_what_databricks_refuses() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert not validator.is_valid({"bundle": {"name": "x"}, "artifact": {}})  # misspelt key
    assert not validator.is_valid({"artifacts": {"w": {"type": "egg"}}})
    task = {"task_key": "t", "spark_python_task": {"python_file": "a.py"}, "libraries": [{"wheel": "x.whl"}]}
    assert not validator.is_valid({"resources": {"jobs": {"j": {"name": "j", "tasks": [task]}}}})


def test_job_installs_the_artifact_wheel(project: Project, tmp_path: Path) -> None:
    write_bundle(project, tmp_path / "s")
    root = load(tmp_path / "s" / "databricks.yml")
    (artifact,) = root["artifacts"].values()
    assert artifact["type"] == "whl" and artifact["path"] == "./vendor/soundlake"
    (job,) = load(tmp_path / "s" / "resources" / "spotify.job.yml")["resources"]["jobs"].values()
    assert job["environments"][0]["spec"]["dependencies"] == ["../vendor/soundlake/dist/*.whl"]
    assert not any("soundlake==" in json.dumps(d) for d in documents(tmp_path / "s").values())
    write_bundle(project, tmp_path / "c", compute="classic")
    (job,) = load(tmp_path / "c" / "resources" / "spotify.job.yml")["resources"]["jobs"].values()
    assert job["tasks"][0]["libraries"] == [{"whl": "../vendor/soundlake/dist/*.whl"}]


@pytest.mark.slow
def test_the_artifact_build_writes_the_wheel_the_job_references(project: Project, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    write_bundle(project, bundle)
    (artifact,) = load(bundle / "databricks.yml")["artifacts"].values()
    folder = (bundle / artifact["path"]).resolve()
    built = subprocess.run(artifact["build"], shell=True, cwd=folder, capture_output=True, text=True, timeout=300,
                           check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    (job,) = load(bundle / "resources" / "spotify.job.yml")["resources"]["jobs"].values()
    (reference,) = job["environments"][0]["spec"]["dependencies"]
    (wheel,) = (bundle / "resources").glob(reference)  # the job's path, relative to its file
    assert wheel.name == f"soundlake-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"soundlake-{__version__}.dist-info/METADATA").decode()
        entry_points = archive.read(f"soundlake-{__version__}.dist-info/entry_points.txt").decode()
    assert {"soundlake/cli/main.py", "soundlake/pipeline/streaming_rules.py",
            "soundlake/pipeline/sql/spark_functions.json",
            "soundlake/project/templates/spotify/pipelines/silver/dimensions.sql"} <= names
    assert not any("__pycache__" in n for n in names)
    required = {line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")}
    installed = {r for r in importlib.metadata.requires("soundlake") or [] if "extra ==" not in r}
    assert {r.replace(" ", "") for r in required} == {r.replace(" ", "") for r in installed}
    assert "soundlake = soundlake.cli.main:main" in entry_points
    runner = (bundle / "src" / "ingest" / "run_ingest.py").read_text(encoding="utf-8")
    assert "from soundlake.cli.main import main" in runner  # what the wheel provides
