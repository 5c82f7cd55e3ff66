"""Loading ``soundlake.yml``: discovery, ``.env``, ``${env:NAME}``, targets, strict typing.

The file is found by walking up from the current directory (or given as a folder). Strings
of the form ``${env:NAME}`` are replaced by environment variables, which may also come from
a ``.env`` file beside ``soundlake.yml`` (the process environment wins). A ``targets:``
mapping holds named overrides (``dev``, ``prod``) that are deep-merged over the top-level
keys when selected. Unknown keys are errors that name the key.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator, model_validator

from soundlake.core.config import StrictModel
from soundlake.core.errors import ConfigError, SoundlakeError
from soundlake.core.names import check_path_name, check_sql_identifier
from soundlake.core.secrets import mask_secrets
from soundlake.ingest.config import IngestConfig
from soundlake.lake.maintenance import retention_hours
from soundlake.pipeline.libraries import Library, parse_library
from soundlake.source.config import SourceConfig

CONFIG_FILE = "soundlake.yml"
EngineName = Literal["duckdb", "spark"]
STORAGE_SCHEMES = ("abfss", "abfs", "az", "azure", "s3", "s3a", "gs", "gcs", "hdfs", "file")
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB|%)\s*$", re.IGNORECASE)


class SparkConfig(StrictModel):
    """Spark settings used when ``engine: spark``.

    Attributes:
        master: ``local[*]`` by default; ``spark://``, ``yarn`` or a Spark Connect
            ``sc://`` URL point the same project at a cluster.
        conf: Extra Spark configuration passed to the session builder.
        parallel_flows: How many independent flows run at once, each on its own thread
            and session of the one SparkContext (their jobs share the executors under the
            FAIR scheduler). Most of a small flow's time is driver-side (planning, Delta
            log, commit), so running several at once hides it; 1 runs flows one by one.
        java_home: The Java installation that runs the driver soundlake starts: ``auto``
            (default: ``JAVA_HOME`` when set; for a local master otherwise the newest Java
            that Spark runs on among those installed), ``system`` (``JAVA_HOME``, else
            ``java`` on ``PATH``: pyspark's own choice) or a folder.
    """

    master: str = "local[*]"
    conf: dict[str, str] = Field(default_factory=dict)
    parallel_flows: int = Field(default=4, ge=1, le=64)
    java_home: str = "auto"


class DuckDBConfig(StrictModel):
    """DuckDB engine settings.

    Attributes:
        memory_limit: DuckDB's memory limit; large sorts, joins and aggregations spill to
            ``<storage>/_soundlake/tmp`` beyond it (DuckDB's own default is 80% of RAM).
        threads: Worker threads (default: the core count).
    """

    memory_limit: str = "768MB"  # with Arrow buffers and Python, S=10 peaks at ~1.7 GiB
    threads: int | None = Field(default=None, ge=1)

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _SIZE.match(value):
            raise ValueError(f"'{value}' is not a memory size; write a size such as 768MB, 4GB or 50%")
        return value


class OpenLineageConfig(StrictModel):
    """Where each update's OpenLineage run events go (``openlineage:`` in soundlake.yml).

    Attributes:
        url: An OpenLineage HTTP endpoint (Marquez: ``http://host:5000``); events are
            POSTed to ``<url>/api/v1/lineage``.
        file: A file (relative to the project) the events are appended to, one per line.
        namespace: The jobs' namespace (default: the project name).
    """

    url: str | None = None
    file: str | None = None
    namespace: str | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> OpenLineageConfig:
        if not self.url and not self.file:
            raise ValueError("openlineage: give url (an OpenLineage endpoint) or file (a path), or both")
        return self


class MaintenanceConfig(StrictModel):
    """Table maintenance after updates (``maintenance:`` in soundlake.yml).

    Attributes:
        auto: Maintain the tables an update wrote, after the update (as Databricks does).
        min_files: Compact a table once it holds this many small files.
        vacuum_interval: VACUUM a table at most this often (``1 day``, ``12 hours``).
    """

    auto: bool = True
    min_files: int = Field(default=10, ge=2)
    vacuum_interval: str = "1 day"

    @field_validator("vacuum_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        try:
            retention_hours(value)
        except SoundlakeError as exc:
            raise ValueError(f"maintenance.vacuum_interval: '{value}' is not an interval such as '1 day'") from exc
        return value

    @property
    def vacuum_interval_seconds(self) -> float:
        """The interval in seconds."""
        return retention_hours(self.vacuum_interval) * 3600


class ProjectConfig(StrictModel):
    """The typed content of ``soundlake.yml`` after target overrides.

    Attributes:
        name: Project (and pipeline) name.
        catalog: Default catalog for unqualified names.
        schema_: Default schema for unqualified names (``schema`` in YAML).
        storage: Lake root: a folder (relative to the project) or an ``abfss://`` URL.
        engine: Compute engine.
        source: Source database.
        ingest: Metadata-driven ingestion list.
        libraries: Pipeline files: globs, files or folders relative to the project, or
            Databricks' ``glob: {include: ...}``, ``file: {path: ...}`` and
            ``notebook: {path: ...}`` entries (:mod:`soundlake.pipeline.libraries`).
        configuration: Key/values substituted as ``${key}`` in SQL and read by
            ``spark.conf.get`` in Python definitions (``bronze_path`` is built in: see
            :attr:`pipeline_configuration`).
        spark: Spark engine settings.
        duckdb: DuckDB engine settings (memory limit, threads).
        storage_options: Credentials/options for an object-store ``storage``.
        openlineage: Send OpenLineage run events after each update (None: not sent).
        maintenance: OPTIMIZE / VACUUM of the tables an update wrote, after it.
    """

    name: str
    catalog: str = "main"
    schema_: str = Field(default="default", alias="schema")
    storage: str
    engine: EngineName = "duckdb"
    source: SourceConfig = Field(default_factory=SourceConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    libraries: list[Library] = Field(default_factory=list)
    configuration: dict[str, str] = Field(default_factory=dict)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    duckdb: DuckDBConfig = Field(default_factory=DuckDBConfig)
    storage_options: dict[str, str] = Field(default_factory=dict)
    openlineage: OpenLineageConfig | None = None
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)

    @property
    def pipeline_configuration(self) -> dict[str, str]:
        """``configuration`` with the built-in ``bronze_path`` (``<storage>/bronze``) unless set.

        Ingestion writes bronze under the lake, so pipelines read it from there without the
        path being written twice in ``soundlake.yml``.
        """
        return {"bronze_path": posixpath.join(self.storage.rstrip("/"), "bronze"), **self.configuration}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_path_name(value, what="the pipeline name")

    @field_validator("catalog")
    @classmethod
    def _catalog(cls, value: str) -> str:
        return check_sql_identifier(value, what="catalog")

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: str) -> str:
        return check_sql_identifier(value, what="schema")

    @field_validator("ingest")
    @classmethod
    def _alert_url(cls, value: IngestConfig) -> IngestConfig:
        url = value.alert_url
        if url is not None and url.split("://", 1)[0].lower() not in ("http", "https"):
            raise ValueError(f"alert_url '{mask_secrets(url)}' must be an http:// or https:// URL")
        return value

    @field_validator("libraries", mode="before")
    @classmethod
    def _libraries(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value  # pydantic reports the type
        entries = []
        for entry in value:
            if isinstance(entry, str) and (not entry.strip() or Path(entry).is_absolute()):
                raise ValueError(
                    f"'{entry}' is not a file pattern relative to the project folder (for example 'pipelines/**/*.sql')"
                )
            entries.append(parse_library(entry))
        return entries

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        if "://" in value:
            scheme = value.split("://", 1)[0].lower()
            if scheme not in STORAGE_SCHEMES:
                raise ValueError(
                    f"'{value}' has an unknown scheme '{scheme}'; write a folder or a URL with one of: "
                    + ", ".join(f"{s}://" for s in STORAGE_SCHEMES)
                )
            return value
        if not value.strip() or "\0" in value:
            raise ValueError("is empty; write a folder such as 'lake' or an abfss:// URL")
        path = Path(value)
        if not path.is_absolute() and ".." in path.parts:
            raise ValueError(
                f"'{value}' leaves the project folder; write an absolute path to keep the lake elsewhere"
            )
        return value


class LoadedProject(StrictModel):
    """A validated configuration together with where it came from."""

    root: Path
    config_file: Path
    target: str | None
    config: ProjectConfig


def find_project_root(start: Path | None = None) -> Path:
    """Return the folder holding ``soundlake.yml``, walking up from ``start``.

    Raises:
        ConfigError: when no ``soundlake.yml`` exists in ``start`` or any parent.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {CONFIG_FILE} found in {here} or any parent folder",
        hint="run 'soundlake init DIR' or pass --project DIR",
    )


def load_project(
    project_dir: Path | None = None, *, target: str | None = None, overrides: dict[str, Any] | None = None
) -> LoadedProject:
    """Load, substitute, override and validate a project's configuration.

    Args:
        project_dir: The project folder, or None to search upwards from the cwd.
        target: Name of an entry of ``targets:`` to apply.
        overrides: Final top-level overrides (for example ``{"engine": "spark"}`` from a flag).

    Raises:
        ConfigError: naming the file and the offending key or variable.
    """
    root = find_project_root(project_dir) if project_dir is None else _project_folder(Path(project_dir))
    config_file = root / CONFIG_FILE
    if config_file.is_dir():
        raise ConfigError(f"{config_file} is a folder, not a file", hint="soundlake.yml must be a YAML file")
    if not config_file.is_file():
        raise ConfigError(f"{config_file} does not exist", hint="run 'soundlake init DIR' or pass --project DIR")
    raw = read_yaml(config_file)
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_file}: the top level must be a mapping of keys (name: ..., storage: ...)")
    env = _environment(root)
    raw = _substitute(raw, env, config_file, path="")
    targets = raw.pop("targets", None) or {}
    if not isinstance(targets, dict):
        raise ConfigError(f"{config_file}: 'targets' must be a mapping of target names")
    for name in targets:
        try:
            check_path_name(str(name), what="target name")
        except ValueError as exc:
            raise ConfigError(f"{config_file}: key 'targets': {exc}") from exc
    if target is not None:
        if target not in targets:
            known = ", ".join(sorted(targets)) or "none defined"
            raise ConfigError(f"{config_file}: unknown target '{target}' (targets: {known})")
        override = targets[target] or {}
        if not isinstance(override, dict):
            raise ConfigError(f"{config_file}: target '{target}' must be a mapping")
        raw = _deep_merge(raw, override)
    if overrides:
        raw = _deep_merge(raw, overrides)
    try:
        config = ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{config_file}: {_describe(exc)}") from exc
    return LoadedProject(root=root, config_file=config_file, target=target, config=config)


def _project_folder(path: Path) -> Path:
    """The project folder for ``--project``: a folder, or the ``soundlake.yml`` file in it."""
    path = path.resolve()
    if path.is_file() and path.name == CONFIG_FILE:
        return path.parent
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--project {path} is a file, not a folder", hint="pass the folder that holds soundlake.yml")
    return path


class _UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A safe YAML loader that refuses a key written twice in one mapping (at any level)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<: *anchor' merges; explicit keys may override merged ones
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue  # the base constructor reports unhashable keys
        line = key_node.start_mark.line + 1
        if key in seen:
            raise DuplicateKeyError(f"key '{key}' is written twice (lines {seen[key]} and {line})")
        seen[key] = line
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


class DuplicateKeyError(yaml.YAMLError):  # type: ignore[misc]
    """A mapping holds the same key twice (PyYAML would silently keep the last)."""


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file strictly: UTF-8 text, safe types, no key written twice.

    Raises:
        ConfigError: naming the file, and the line or byte that is wrong.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text",
            hint="save the file as UTF-8",
        ) from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader) or {}
    except DuplicateKeyError as exc:
        raise ConfigError(f"{path}: {exc}", hint="keep one of them") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {_one_line(str(exc))}") from exc


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _environment(root: Path) -> dict[str, str]:
    env_file = root / ".env"
    try:
        loaded = dotenv_values(env_file) if env_file.is_file() else {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{env_file}: byte {exc.start} is not UTF-8 text", hint="save the file as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"{env_file}: cannot be read ({exc.strerror or exc})") from exc
    values = {k: v for k, v in loaded.items() if v is not None}
    values.update(os.environ)
    return values


def _substitute(value: Any, env: dict[str, str], file: Path, path: str) -> Any:
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(
                    f"{file}: key '{path or '<root>'}' refers to ${{env:{name}}}, "
                    f"but environment variable {name} is not set (nor in .env)"
                )
            return env[name]

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _substitute(v, env, file, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, file, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key '{where}'")
        elif err["type"] == "missing":
            parts.append(f"missing required key '{where}'")
        else:
            parts.append(f"key '{where}': {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
