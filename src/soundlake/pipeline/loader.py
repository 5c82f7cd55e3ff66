"""Loading pipeline definitions from the project's ``libraries`` globs.

Each entry of ``libraries`` is a glob relative to the project root (``pipelines/**/*.sql``),
a file, or a folder (meaning every ``.sql`` and ``.py`` file under it). Files are loaded in
sorted order of their relative path, each once, so the registry's order is deterministic.
``.sql`` files go to the SQL parser; ``.py`` files to the Python front end's
``load_python_file(path, registry, context)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import Registry
from soundlake.pipeline.sql.parser import parse_sql_file

SUPPORTED_SUFFIXES = (".sql", ".py")


@dataclass(frozen=True)
class LoadContext:
    """What a front end needs to turn one file into definitions.

    Attributes:
        root: The project root (locations name files relative to it).
        catalog: Default catalog for unqualified names.
        schema: Default schema for unqualified names.
        configuration: ``${key}`` values for SQL and ``spark.conf.get`` values for Python.
        display_name: How error messages and locations name the current file.
    """

    root: Path
    catalog: str
    schema: str
    configuration: Mapping[str, str] = field(default_factory=dict)
    display_name: str = ""


def load_definitions(
    root: Path,
    libraries: Sequence[str],
    *,
    catalog: str,
    schema: str,
    configuration: Mapping[str, str],
) -> Registry:
    """Load every library file into one registry.

    Args:
        root: The project root; globs are relative to it.
        libraries: Globs, files or folders (``pipelines/**/*.sql``).
        catalog: Default catalog for unqualified names.
        schema: Default schema for unqualified names.
        configuration: Values for ``${key}`` substitution and ``spark.conf.get``.

    Returns:
        A registry with ``catalog`` and ``schema`` set and the definitions in file order.

    Raises:
        DefinitionError: for a named file or folder that does not exist, an unsupported
            file type named explicitly, or any error in a definition file.
    """
    registry = Registry(catalog=catalog, schema=schema)
    for path in library_files(root, libraries):
        display = _display_name(root, path)
        context = LoadContext(
            root=root,
            catalog=catalog,
            schema=schema,
            configuration=dict(configuration),
            display_name=display,
        )
        if path.suffix == ".sql":
            parse_sql_file(
                path,
                registry,
                display_name=display,
                catalog=catalog,
                schema=schema,
                configuration=configuration,
            )
        else:
            _load_python(path, registry, context)
    return registry


def library_files(root: Path, libraries: Sequence[str]) -> list[Path]:
    """Expand ``libraries`` into a sorted, de-duplicated list of ``.sql``/``.py`` files.

    A glob that matches nothing is not an error (a project may have no Python files); a
    literal file or folder that does not exist is.

    Raises:
        DefinitionError: naming the entry that does not exist or has an unsupported type.
    """
    root = Path(root)
    found: dict[Path, None] = {}
    for entry in libraries:
        if any(ch in entry for ch in "*?["):
            matches = [p for p in root.glob(entry) if p.is_file() and p.suffix in SUPPORTED_SUFFIXES]
        else:
            target = root / entry
            if target.is_dir():
                matches = [p for p in target.rglob("*") if p.is_file() and p.suffix in SUPPORTED_SUFFIXES]
            elif target.is_file():
                if target.suffix not in SUPPORTED_SUFFIXES:
                    raise DefinitionError(
                        f"library '{entry}': unsupported file type '{target.suffix}' (.sql or .py)"
                    )
                matches = [target]
            else:
                raise DefinitionError(f"library '{entry}' does not exist under {root}")
        for path in matches:
            if "__pycache__" not in path.parts:
                found.setdefault(path.resolve(), None)
    return sorted(found, key=lambda p: _display_name(root, p))


def _display_name(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def _load_python(path: Path, registry: Registry, context: LoadContext) -> None:
    try:
        from soundlake.pipeline.python import load_python_file
    except ImportError as exc:
        raise DefinitionError(
            f"{context.display_name}: Python definitions not yet supported"
        ) from exc
    load_python_file(path, registry, context)
