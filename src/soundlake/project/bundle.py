"""``soundlake bundle DIR``: the project as a Databricks Asset Bundle.

The bundle holds ``databricks.yml`` (bundle name, include, variables, targets mapped from
``soundlake.yml``), ``resources/<name>.pipeline.yml`` (a Lakeflow declarative pipeline whose
libraries are the project's pipeline files, expanded by the loader's
:func:`~soundlake.pipeline.libraries.library_files`: ``file`` entries, ``notebook`` entries
for notebooks), ``resources/<name>.job.yml`` (ingestion,
then the pipeline), and under ``src/`` the pipeline files and the project configuration.

Definitions are copied unchanged except for soundlake-only features (docs/databricks.md):

- ``CONSTRAINT c EXPECT (cond) ON VIOLATION QUARANTINE`` becomes ``ON VIOLATION DROP ROW``
  on the table, plus a streaming table ``<table>_quarantine`` defined by the same query
  keeping only the rows that violate a quarantine rule, with ``_quarantine_rules`` (the
  names of the failed rules). A NULL condition is not a violation, as in soundlake.
- ``from soundlake import pipelines as dp`` / ``import soundlake.pipelines as dp`` become
  ``from pyspark import pipelines as dp``; ``expect[_all]_or_quarantine`` in Python becomes
  ``expect[_all]_or_drop`` (no quarantine table is generated for Python datasets).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from soundlake.core.errors import ConfigError, DefinitionError
from soundlake.core.secrets import is_secret_name
from soundlake.pipeline.libraries import library_files
from soundlake.pipeline.notebooks import Cell, Notebook, code_cells, is_notebook, read_notebook
from soundlake.project.bundle_secrets import find_literal_secrets, replace_literal_secrets
from soundlake.project.bundle_wheel import WHEEL_GLOB, artifacts, vendor_source
from soundlake.project.config import CONFIG_FILE, load_project, read_yaml
from soundlake.project.context import Project

Compute = Literal["serverless", "classic"]
SRC = "src"
_DEV_TARGETS = {"dev", "development", "local", "test"}


@dataclass(frozen=True)
class BundleResult:
    """What :func:`write_bundle` wrote."""

    root: Path
    files: tuple[Path, ...]
    rewrites: tuple[str, ...] = field(default_factory=tuple)


def write_bundle(project: Project, directory: Path, *, compute: Compute = "serverless", force: bool = False) -> BundleResult:
    """Write the Databricks Asset Bundle of ``project`` into ``directory``.

    Args:
        project: The opened project.
        directory: Output folder (created; must be empty unless ``force``).
        compute: ``serverless`` pipeline and job, or ``classic`` clusters.
        force: Replace an existing bundle in ``directory``.

    Raises:
        ConfigError: the folder is not empty, or ``libraries`` is empty.
        DefinitionError: a ``libraries`` entry matches no pipeline file, a notebook cell
            cannot run in a pipeline, or a quarantine constraint cannot be rewritten.
    """
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()) and not force:
        raise ConfigError(f"{directory} is not empty", hint="choose an empty folder or pass --force")
    if force and (directory / SRC).exists():
        shutil.rmtree(directory / SRC)
    name = _identifier(project.config.name)
    if not project.config.libraries:
        raise ConfigError(f"project {project.config.name!r}: 'libraries' lists no pipeline files")
    libraries = library_files(project.root, project.config.libraries)
    written: list[Path] = []
    rewrites: list[str] = []
    for source in libraries:
        relative = source.relative_to(project.root)
        text, notes = rewrite_file(source, relative.as_posix())
        rewrites.extend(notes)
        written.append(_write(directory / SRC / relative, text))
    config_text, secret_notes = replace_literal_secrets(
        project.loaded.config_file.read_text(encoding="utf-8"), read_yaml(project.loaded.config_file), scope=name
    )
    if list(find_literal_secrets(yaml.safe_load(config_text))):
        raise ConfigError(f"{project.loaded.config_file}: a literal secret could not be replaced; the bundle was not written")
    rewrites.extend(secret_notes)
    written.append(_write(directory / SRC / CONFIG_FILE, config_text))
    written.append(_write(directory / SRC / "ingest" / "run_ingest.py", _INGEST_SCRIPT))
    written.extend(vendor_source(directory))
    entries = [
        {"notebook" if is_notebook(p) else "file": {"path": f"../{SRC}/{p.relative_to(project.root).as_posix()}"}}
        for p in libraries
    ]
    documents = {
        "databricks.yml": databricks_yml(project, name),
        f"resources/{name}.pipeline.yml": pipeline_yml(project, name, entries, compute),
        f"resources/{name}.job.yml": job_yml(name, compute),
    }
    for relative_name, document in documents.items():
        text = _HEADER + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        written.append(_write(directory / relative_name, text))
    return BundleResult(directory, tuple(written), tuple(rewrites))


_HEADER = "# Generated by `soundlake bundle` from soundlake.yml; see docs/databricks.md.\n"

_INGEST_SCRIPT = '''"""Job task: run soundlake ingestion (source database -> bronze) for this bundle's target."""

import sys

from soundlake.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["--project", sys.argv[1], "--target", sys.argv[2], "ingest"]))
'''


def _identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "soundlake"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _target_names(project: Project) -> list[str]:
    raw = read_yaml(project.loaded.config_file)
    targets = raw.get("targets") or {}
    return list(targets) if isinstance(targets, dict) and targets else ["dev", "prod"]


def databricks_yml(project: Project, name: str) -> dict[str, Any]:
    """The ``databricks.yml`` document: bundle, include, variables and targets."""
    config = project.config
    variables: dict[str, Any] = {
        "catalog": {"description": "Unity Catalog catalog of the pipeline", "default": config.catalog},
        "schema": {"description": "Default schema of the pipeline", "default": config.schema_},
    }
    for key, value in config.pipeline_configuration.items():
        variables[_identifier(key)] = {"description": f"pipeline configuration '{key}'",
                                       "default": _no_secret(key, value, name)}
    targets: dict[str, Any] = {}
    names = _target_names(project)
    for target in names:
        try:
            resolved = load_project(project.root, target=target).config if target in _declared(project) else config
        except ConfigError:
            resolved = config
        is_dev = target in _DEV_TARGETS or (target == names[0] and not (set(names) & _DEV_TARGETS))
        entry: dict[str, Any] = {"mode": "development" if is_dev else "production"}
        if is_dev:
            entry["default"] = True
        overrides = {"catalog": resolved.catalog, "schema": resolved.schema_}
        for key, value in resolved.pipeline_configuration.items():
            overrides[_identifier(key)] = _no_secret(key, value, name)
        entry["variables"] = overrides
        targets[target] = entry
    return {"bundle": {"name": name}, "include": ["resources/*.yml"], "artifacts": artifacts(),
            "variables": variables, "targets": targets}


def _no_secret(key: str, value: str, scope: str) -> str:
    """A configuration value for the bundle: a secret (by key name or in a URL) becomes a reference."""
    if is_secret_name(key) or list(find_literal_secrets(value)):
        return "{{secrets/" + scope + "/" + _identifier(key).lower() + "}}"
    return value


def _declared(project: Project) -> set[str]:
    raw = read_yaml(project.loaded.config_file)
    targets = raw.get("targets") or {}
    return set(targets) if isinstance(targets, dict) else set()


def pipeline_yml(project: Project, name: str, libraries: list[dict[str, Any]], compute: Compute) -> dict[str, Any]:
    """The pipeline resource: catalog, schema, libraries, configuration, compute, channel.

    ``libraries`` holds one ``file: {path: ...}`` or ``notebook: {path: ...}`` entry per
    pipeline file (a notebook syncs to the workspace as a notebook, which a pipeline names
    with ``notebook``).
    """
    pipeline: dict[str, Any] = {
        "name": f"{name}_pipeline",
        "catalog": "${var.catalog}",
        "schema": "${var.schema}",
        "channel": "CURRENT",
        "continuous": False,
        "root_path": f"../{SRC}",
        "libraries": libraries,
        "configuration": {key: "${var." + _identifier(key) + "}" for key in project.config.pipeline_configuration},
    }
    if compute == "serverless":
        pipeline["serverless"] = True
    else:
        pipeline["edition"] = "ADVANCED"
        pipeline["photon"] = True
        pipeline["clusters"] = [{"label": "default", "autoscale": {"min_workers": 1, "max_workers": 4, "mode": "ENHANCED"}}]
    return {"resources": {"pipelines": {f"{name}_pipeline": pipeline}}}


def job_yml(name: str, compute: Compute) -> dict[str, Any]:
    """The job resource: ingestion (``soundlake ingest``), then a pipeline task.

    The ingestion task installs soundlake's wheel, built from ``vendor/soundlake`` by the
    bundle's ``artifacts`` (``project.bundle_wheel``); paths are relative to ``resources/``.
    """
    wheel = f"../{WHEEL_GLOB}"
    ingest: dict[str, Any] = {
        "task_key": "ingest",
        "spark_python_task": {
            "python_file": f"../{SRC}/ingest/run_ingest.py",
            "parameters": ["${workspace.file_path}/" + SRC, "${bundle.target}"],
        },
    }
    job: dict[str, Any] = {"name": f"{name}_job", "tasks": [ingest]}
    if compute == "serverless":
        ingest["environment_key"] = "soundlake"
        job["environments"] = [
            {"environment_key": "soundlake", "spec": {"environment_version": "2", "dependencies": [wheel]}}
        ]
    else:
        ingest["job_cluster_key"] = "ingest"
        ingest["libraries"] = [{"whl": wheel}]
        job["job_clusters"] = [
            {
                "job_cluster_key": "ingest",
                "new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_D4ds_v5", "num_workers": 1},
            }
        ]
    job["tasks"].append(
        {
            "task_key": "pipeline",
            "depends_on": [{"task_key": "ingest"}],
            "pipeline_task": {"pipeline_id": "${resources.pipelines." + name + "_pipeline.id}", "full_refresh": False},
        }
    )
    return {"resources": {"jobs": {f"{name}_job": job}}}


# --- Rewriting definitions ---------------------------------------------------------

_PY_IMPORTS = (
    (re.compile(r"^(\s*)from\s+soundlake\s+import\s+pipelines\s+as\s+(\w+)", re.MULTILINE), r"\1from pyspark import pipelines as \2"),
    (re.compile(r"^(\s*)import\s+soundlake\.pipelines\s+as\s+(\w+)", re.MULTILINE), r"\1from pyspark import pipelines as \2"),
)
_PY_QUARANTINE = re.compile(r"\bexpect(_all)?_or_quarantine\b")
_QUARANTINE = re.compile(r"ON\s+VIOLATION\s+QUARANTINE", re.IGNORECASE)
_CONSTRAINT = re.compile(r"^\s*CONSTRAINT\s+(\w+)\s+EXPECT\s*\(", re.IGNORECASE | re.DOTALL)
_TABLE = re.compile(
    r"^(\s*(?:--[^\n]*\n\s*)*CREATE\s+(?:OR\s+REFRESH\s+)?(STREAMING\s+TABLE|MATERIALIZED\s+VIEW|LIVE\s+TABLE)\s+([\w.`]+)\s*)\(",
    re.IGNORECASE,
)


def rewrite_file(path: Path, where: str) -> tuple[str, list[str]]:
    """Rewrite one pipeline file (plain or notebook) for Databricks; return the text and notes.

    Raises:
        DefinitionError: a notebook cell cannot run in a pipeline, or a quarantine
            constraint cannot be rewritten (naming the file).
    """
    text = path.read_text(encoding="utf-8")
    if not is_notebook(path):
        return rewrite_definition(text, path.suffix, where)
    return rewrite_notebook(text, read_notebook(path, where), where)


def rewrite_notebook(text: str, notebook: Notebook, where: str) -> tuple[str, list[str]]:
    """Rewrite a notebook's code cells with :func:`rewrite_definition`; other cells are kept.

    Returns ``text`` unchanged when no cell needs a rewrite; otherwise the notebook in its
    format (source lines, or ``.ipynb`` JSON) with the rewritten cells.
    """
    suffix = ".py" if notebook.language == "python" else ".sql"
    comment = "#" if notebook.language == "python" else "--"
    notes: list[str] = []
    changed: list[tuple[Cell, list[str]]] = []
    for cell in code_cells(notebook, where):
        head = cell.magic_index + 1 if cell.magic is not None else 0
        end = len(cell.raw)
        while end > head and not cell.raw[end - 1].strip():  # blank lines before the next cell stay
            end -= 1
        body = "\n".join(cell.code[head:end])
        new, cell_notes = rewrite_definition(body, suffix, where)
        if new == body:
            continue
        notes.extend(cell_notes)
        lines = new.split("\n")
        if cell.prefixed:
            lines = [f"{comment} MAGIC {line}" if line else f"{comment} MAGIC" for line in lines]
        changed.append((cell, [*cell.raw[:head], *lines, *cell.raw[end:]]))
    if not changed:
        return text, notes
    if notebook.format == "source":
        out = list(notebook.lines)
        for cell, raw in sorted(changed, key=lambda c: -c[0].start):
            out[cell.start - 1 : cell.start - 1 + len(cell.raw)] = raw
        return "\n".join(out), notes
    data = json.loads(text)
    for cell, raw in changed:
        data["cells"][cell.number - 1]["source"] = "\n".join(raw).splitlines(keepends=True)
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n", notes


def rewrite_definition(text: str, suffix: str, where: str) -> tuple[str, list[str]]:
    """Rewrite one pipeline file for Databricks; return the text and notes of what changed."""
    notes: list[str] = []
    if suffix == ".py":
        for pattern, replacement in _PY_IMPORTS:
            text, n = pattern.subn(replacement, text)
            if n:
                notes.append(f"{where}: import soundlake.pipelines -> pyspark.pipelines")
        text, n = _PY_QUARANTINE.subn(lambda m: f"expect{m.group(1) or ''}_or_drop", text)
        if n:
            notes.append(f"{where}: {n} quarantine expectation(s) -> expect_or_drop")
        return text, notes
    statements = split_statements(text)
    out: list[str] = []
    for statement in statements:
        if _QUARANTINE.search(_strip_comments(statement)):
            rewritten, table = rewrite_quarantine(statement, where)
            out.append(rewritten)
            notes.append(f"{where}: {table} quarantine -> DROP ROW + {table}_quarantine")
        else:
            out.append(statement)
    return "".join(out), notes


def _code(text: str, start: int = 0) -> Iterator[int]:
    """Indices of the characters of ``text`` (from ``start``) outside quotes and comments."""
    i = start
    while i < len(text):
        ch = text[i]
        if text.startswith("--", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        elif ch in "'\"`":
            i = _skip_quoted(text, i)
        else:
            yield i
            i += 1


def split_statements(text: str) -> list[str]:
    """Split SQL text after each top-level ``;`` (quotes and comments respected)."""
    parts: list[str] = []
    start = 0
    for i in _code(text):
        if text[i] == ";":
            parts.append(text[start : i + 1])
            start = i + 1
    if text[start:]:
        parts.append(text[start:])
    return parts


def _skip_quoted(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return i


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _matching_paren(text: str, open_index: int) -> int:
    depth = 0
    for i in _code(text, open_index):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _top_level_items(body: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i in _code(body):
        ch = body[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    return items


def rewrite_quarantine(statement: str, where: str) -> tuple[str, str]:
    """Rewrite one dataset statement with QUARANTINE constraints; return (sql, table).

    Raises:
        DefinitionError: the statement is not a dataset definition with a column list.
    """
    header = _TABLE.match(statement)
    if header is None:
        raise DefinitionError(f"{where}: ON VIOLATION QUARANTINE outside a CREATE ... TABLE column list")
    table = header.group(3)
    kind = header.group(2).upper()
    open_index = header.end() - 1
    close_index = _matching_paren(statement, open_index)
    as_index = _keyword_as(statement, close_index + 1) if close_index > 0 else -1
    if as_index < 0:
        raise DefinitionError(f"{where}: cannot find the column list and AS query of {table}")
    rules: list[tuple[str, str]] = []
    items = []
    for item in _top_level_items(statement[open_index + 1 : close_index]):
        constraint = _CONSTRAINT.match(item)
        if constraint and _QUARANTINE.search(item):
            cond_open = constraint.end() - 1
            cond_close = _matching_paren(item, cond_open)
            rules.append((constraint.group(1), item[cond_open + 1 : cond_close].strip()))
            item = _QUARANTINE.sub("ON VIOLATION DROP ROW", item)
        items.append(item)
    query = statement[as_index + 2 :].rstrip().rstrip(";").strip()
    main = _terminated(statement[: open_index + 1] + ",".join(items) + statement[close_index:])
    passed = " AND ".join(f"coalesce(({cond}), true)" for _, cond in rules)
    failed = ", ".join(f"IF(coalesce(({cond}), true), NULL, '{name}')" for name, cond in rules)
    quarantine = (
        f"\n\n-- soundlake: rows violating {', '.join(n for n, _ in rules)} (ON VIOLATION QUARANTINE)\n"
        f"CREATE OR REFRESH {kind} {_suffix(table, '_quarantine')}\n"
        f"COMMENT 'Rows of {table.strip('`')} that failed a quarantine expectation'\n"
        f"AS SELECT *, filter(array({failed}), r -> r IS NOT NULL) AS _quarantine_rules\n"
        f"FROM (\n{query}\n) AS _quarantine_source\nWHERE NOT ({passed});\n"
    )
    return main + quarantine, table


def _terminated(statement: str) -> str:
    """``statement`` ending with ``;`` after its last code character (a notebook cell's may not)."""
    last = -1
    for i in _code(statement):
        if not statement[i].isspace():
            last = i
    if last < 0 or statement[last] == ";":
        return statement
    return statement[: last + 1] + ";" + statement[last + 1 :]


def _keyword_as(text: str, start: int) -> int:
    """Index of the first ``AS`` keyword at or after ``start`` outside quotes and comments."""
    for i in _code(text, start):
        if (
            text[i : i + 2].upper() == "AS"
            and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))
            and (i + 2 >= len(text) or not (text[i + 2].isalnum() or text[i + 2] == "_"))
        ):
            return i
    return -1


def _suffix(table: str, suffix: str) -> str:
    if table.endswith("`"):
        return table[:-1] + suffix + "`"
    return table + suffix
