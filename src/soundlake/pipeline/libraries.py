"""A pipeline's ``libraries``: the entries of ``soundlake.yml`` and the files they name.

One entry is either soundlake's short form, a string (a glob relative to the project, a
file, or a folder meaning every pipeline file under it), or one of the mappings Databricks
pipelines and bundles write::

    libraries:
      - pipelines/**/*.sql                 # soundlake's form
      - glob: {include: transformations/**}  # every pipeline file below transformations/
      - file: {path: pipelines/users.py}
      - notebook: {path: pipelines/ingest}   # the extension may be left out

``dir/**`` matches every file below ``dir``, as on Databricks (``pathlib``'s ``**`` alone
matches folders only). Pipeline files are ``.sql``, ``.py`` and ``.ipynb``; other files
a pattern or folder matches are skipped, as are ``__pycache__`` and hidden folders a
wildcard reaches (``.ipynb_checkpoints``). Every entry must match at least one pipeline
file. :func:`library_files` is the one expansion of entries: the loader and
``soundlake bundle`` both use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from soundlake.core.config import StrictModel
from soundlake.core.errors import DefinitionError

SUPPORTED_SUFFIXES = (".sql", ".py", ".ipynb")
"""The pipeline file types: SQL, Python, and Jupyter notebooks (Databricks exports)."""

_KINDS = "a glob string, or one of glob: {include: ...}, file: {path: ...}, notebook: {path: ...}"


class PathInclude(StrictModel):
    """``glob: {include: pattern}`` (Databricks ``PathPattern``)."""

    include: str


class PathRef(StrictModel):
    """``file: {path: ...}`` / ``notebook: {path: ...}``."""

    path: str


class GlobLibrary(StrictModel):
    """A Databricks ``glob`` library: every pipeline file its pattern matches."""

    glob: PathInclude


class FileLibrary(StrictModel):
    """A Databricks ``file`` library: one file."""

    file: PathRef


class NotebookLibrary(StrictModel):
    """A Databricks ``notebook`` library: one notebook, its extension optional."""

    notebook: PathRef


Library = str | GlobLibrary | FileLibrary | NotebookLibrary
"""One entry of ``libraries``."""

_MODELS: dict[str, type[GlobLibrary | FileLibrary | NotebookLibrary]] = {
    "glob": GlobLibrary,
    "file": FileLibrary,
    "notebook": NotebookLibrary,
}


def parse_library(value: Any) -> Library:
    """Validate one ``libraries`` entry as written in YAML.

    Raises:
        ValueError: one line naming the entry and what is wrong with it.
    """
    if isinstance(value, GlobLibrary | FileLibrary | NotebookLibrary):
        entry: Library = value
    elif isinstance(value, str):
        entry = value
    elif isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _MODELS:
        kind = next(iter(value))
        try:
            entry = _MODELS[kind].model_validate(value)
        except ValidationError as exc:
            problems = "; ".join(_problem(err) for err in exc.errors())
            raise ValueError(f"library entry {_yaml(value)}: {problems}") from None
    else:
        raise ValueError(f"library entry {_yaml(value)} is not {_KINDS}")
    path = library_path(entry)
    if not path.strip() or Path(path).is_absolute() or PurePosixPath(path).is_absolute():
        raise ValueError(
            f"library {describe(entry)}: '{path}' is not a path relative to the project folder "
            "(for example 'pipelines/**/*.sql')"
        )
    return entry


def _problem(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key '{where}'"
    if err["type"] == "missing":
        return f"missing key '{where}'"
    return f"'{where}': {err['msg']}"


def _yaml(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def library_path(entry: Library) -> str:
    """The pattern or path an entry holds."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, GlobLibrary):
        return entry.glob.include
    if isinstance(entry, FileLibrary):
        return entry.file.path
    return entry.notebook.path


def describe(entry: Library) -> str:
    """An entry as written in ``soundlake.yml``, on one line (for messages)."""
    if isinstance(entry, str):
        return f"'{entry}'"
    if isinstance(entry, GlobLibrary):
        return f"glob: {{include: {entry.glob.include}}}"
    if isinstance(entry, FileLibrary):
        return f"file: {{path: {entry.file.path}}}"
    return f"notebook: {{path: {entry.notebook.path}}}"


def library_files(root: Path, libraries: Sequence[Library]) -> list[Path]:
    """Expand ``libraries`` into pipeline files, sorted by path relative to ``root``, each once.

    Raises:
        DefinitionError: one line naming the entry that matches no pipeline file, names a
            file that does not exist, or names a file of another type.
    """
    root = Path(root)
    found: dict[Path, None] = {}
    for entry in libraries:
        entry = parse_library(entry) if not isinstance(entry, str) else entry
        if isinstance(entry, FileLibrary):
            matches = [_named_file(root, entry)]
        elif isinstance(entry, NotebookLibrary):
            matches = [_notebook(root, entry)]
        else:
            matches = _pattern(root, entry)
        for path in matches:
            found.setdefault(path.resolve(), None)
    return sorted(found, key=lambda p: display_name(root, p))


def display_name(root: Path, path: Path) -> str:
    """How messages and locations name ``path``: relative to the project root when inside it."""
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def _pattern(root: Path, entry: str | GlobLibrary) -> list[Path]:
    """A string entry or a glob: a wildcard pattern, a file, or a folder."""
    pattern = library_path(entry)
    where = describe(entry)
    if any(ch in pattern for ch in "*?["):
        parts = PurePosixPath(pattern).parts
        if parts and parts[-1] == "**":  # Databricks: dir/** is every file below dir
            pattern = pattern.rstrip("/") + "/*"
        literal = {p for p in parts if not any(ch in p for ch in "*?[")}
        matches = [p for p in root.glob(pattern) if _wanted(root, p, literal)]
    else:
        target = root / pattern
        if target.is_dir():
            matches = [p for p in target.rglob("*") if _wanted(root, p, set(PurePosixPath(pattern).parts))]
        elif target.is_file():
            matches = [_checked(target, where)]
        else:
            raise DefinitionError(f"library {where} does not exist under {root}")
    if not matches:
        raise DefinitionError(
            f"library {where} matches no pipeline file ({', '.join(SUPPORTED_SUFFIXES)}) under {root}"
        )
    return matches


def _wanted(root: Path, path: Path, literal: set[str]) -> bool:
    """A pipeline file a wildcard or folder reached (not in __pycache__ or a hidden folder)."""
    if not path.is_file() or path.suffix not in SUPPORTED_SUFFIXES:
        return False
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return not any(
        part == "__pycache__" or (part.startswith(".") and part not in (".", "..") and part not in literal)
        for part in parts
    )


def _checked(path: Path, where: str) -> Path:
    if path.suffix not in SUPPORTED_SUFFIXES:
        raise DefinitionError(
            f"library {where}: unsupported file type '{path.suffix}' ({', '.join(SUPPORTED_SUFFIXES)})"
        )
    return path


def _named_file(root: Path, entry: FileLibrary) -> Path:
    target = root / entry.file.path
    where = describe(entry)
    if target.is_dir():
        raise DefinitionError(
            f"library {where} is a folder; write glob: {{include: {entry.file.path.rstrip('/')}/**}}"
        )
    if not target.is_file():
        raise DefinitionError(f"library {where} does not exist under {root}")
    return _checked(target, where)


def _notebook(root: Path, entry: NotebookLibrary) -> Path:
    """A notebook path, with or without its extension (``x`` is x.py, x.sql or x.ipynb)."""
    target = root / entry.notebook.path
    where = describe(entry)
    if target.is_file():
        return _checked(target, where)
    candidates = [target.with_name(target.name + s) for s in SUPPORTED_SUFFIXES]
    present = [p for p in candidates if p.is_file()]
    if len(present) > 1:
        names = ", ".join(p.name for p in present)
        raise DefinitionError(f"library {where} is ambiguous ({names}); write the file name with its extension")
    if not present:
        raise DefinitionError(
            f"library {where} does not exist under {root} (tried {', '.join(SUPPORTED_SUFFIXES)})"
        )
    return present[0]
