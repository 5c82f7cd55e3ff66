"""soundlake.yml loading: discovery, strictness, env references, targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundlake.core.errors import ConfigError
from soundlake.project.config import find_project_root, load_project
from soundlake.project.context import Project


def write(dir_: Path, text: str) -> Path:
    (dir_ / "soundlake.yml").write_text(text, encoding="utf-8")
    return dir_


def test_minimal_project_gets_defaults(tmp_path: Path) -> None:
    write(tmp_path, "name: p\nstorage: lake\nlibraries: ['pipelines/*.sql']\n")
    cfg = load_project(tmp_path).config
    assert (cfg.engine, cfg.catalog, cfg.schema_) == ("duckdb", "main", "default")
    assert cfg.libraries == ["pipelines/*.sql"]


def test_unknown_key_is_named(tmp_path: Path) -> None:
    write(tmp_path, "name: p\nstorage: lake\nsource:\n  url: sqlite:///x.db\n  pasword: x\n")
    with pytest.raises(ConfigError, match=r"unknown key 'source\.pasword'"):
        load_project(tmp_path)


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    write(tmp_path, "name: p\nstorage: lake\nengin: spark\n")
    with pytest.raises(ConfigError, match="unknown key 'engin'"):
        load_project(tmp_path)


def test_missing_required_key(tmp_path: Path) -> None:
    write(tmp_path, "name: p\n")
    with pytest.raises(ConfigError, match="missing required key 'storage'"):
        load_project(tmp_path)


def test_bad_engine_value(tmp_path: Path) -> None:
    write(tmp_path, "name: p\nstorage: lake\nengine: oracle\n")
    with pytest.raises(ConfigError, match="key 'engine'"):
        load_project(tmp_path)


def test_env_reference_from_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "name: p\nstorage: lake\nsource:\n  url: postgresql+psycopg://u:${env:SL_PW}@h/${env:SL_DB}\n")
    (tmp_path / ".env").write_text("SL_PW=fromdotenv\nSL_DB=spotify\n")
    monkeypatch.setenv("SL_PW", "fromenv")
    cfg = load_project(tmp_path).config
    assert cfg.source.url == "postgresql+psycopg://u:fromenv@h/spotify"


def test_missing_env_var_is_named_with_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SL_NOPE", raising=False)
    write(tmp_path, "name: p\nstorage: lake\nsource:\n  url: ${env:SL_NOPE}\n")
    with pytest.raises(ConfigError, match=r"'source\.url'.*SL_NOPE is not set"):
        load_project(tmp_path)


def test_targets_override_top_level(tmp_path: Path) -> None:
    write(
        tmp_path,
        "name: p\nstorage: lake\nsource: {url: sqlite:///dev.db}\n"
        "targets:\n  prod:\n    engine: spark\n    source: {url: 'postgresql+psycopg://h/db'}\n",
    )
    assert load_project(tmp_path).config.engine == "duckdb"
    prod = load_project(tmp_path, target="prod").config
    assert prod.engine == "spark" and prod.source.url == "postgresql+psycopg://h/db"
    with pytest.raises(ConfigError, match="unknown target 'qa'.*prod"):
        load_project(tmp_path, target="qa")


def test_target_with_unknown_key_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "name: p\nstorage: lake\ntargets:\n  prod:\n    enginee: spark\n")
    with pytest.raises(ConfigError, match="unknown key 'enginee'"):
        load_project(tmp_path, target="prod")


def test_project_found_walking_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "name: p\nstorage: lake\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_project_root() == tmp_path.resolve()
    project = Project.open()
    assert project.lake.root == str((tmp_path / "lake").resolve())


def test_no_project_gives_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no soundlake.yml found"):
        find_project_root()


def test_invalid_yaml(tmp_path: Path) -> None:
    write(tmp_path, "name: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_project(tmp_path)


def test_ingest_table_entries_are_strict(tmp_path: Path) -> None:
    write(tmp_path, "name: p\nstorage: lake\ningest:\n  tables:\n    - {table: DimUser, cdc: updated_at}\n")
    with pytest.raises(ConfigError, match=r"ingest\.tables\.0"):
        load_project(tmp_path)
