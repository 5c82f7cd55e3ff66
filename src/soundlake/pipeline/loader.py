"""Loading pipeline definitions from the project's ``libraries``.

``libraries`` entries (globs, files, folders, and Databricks' ``glob`` / ``file`` /
``notebook`` mappings) expand to pipeline files with
:func:`soundlake.pipeline.libraries.library_files`; files are loaded in sorted order of
their relative path, each once, so the registry's order is deterministic. A file is SQL
(``.sql``), Python (``.py``) or a notebook: a Databricks source-format notebook or an
``.ipynb`` (:mod:`soundlake.pipeline.notebooks` turns its code cells into the text of its
language, and its locations back into the user's file). SQL goes to the SQL parser,
Python to the Python front end's ``load_python_file(path, registry, context)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import Dataset, Registry
from soundlake.pipeline.libraries import SUPPORTED_SUFFIXES, Library, display_name, library_files
from soundlake.pipeline.notebooks import PipelineSource, pipeline_source
from soundlake.pipeline.sql.parser import parse_sql_file, parse_sql_text

__all__ = ["SUPPORTED_SUFFIXES", "LoadContext", "library_files", "load_definitions"]


@dataclass(frozen=True)
class LoadContext:
    """What a front end needs to turn one file into definitions.

    Attributes:
        root: The project root (locations name files relative to it).
        catalog: Default catalog for unqualified names.
        schema: Default schema for unqualified names.
        configuration: ``${key}`` values for SQL and ``spark.conf.get`` values for Python.
        display_name: How error messages and locations name the current file.
        source: The Python text to run instead of the file's content (a notebook's
            Python cells, line for line with the file for source-format notebooks), or
            None to run the file as it is.
    """

    root: Path
    catalog: str
    schema: str
    configuration: Mapping[str, str] = field(default_factory=dict)
    display_name: str = ""
    source: str | None = None


def load_definitions(
    root: Path,
    libraries: Sequence[Library],
    *,
    catalog: str,
    schema: str,
    configuration: Mapping[str, str],
) -> Registry:
    """Load every library file into one registry.

    Args:
        root: The project root; globs are relative to it.
        libraries: ``libraries`` entries (globs, files, folders, ``glob``/``file``/``notebook``).
        catalog: Default catalog for unqualified names.
        schema: Default schema for unqualified names.
        configuration: Values for ``${key}`` substitution and ``spark.conf.get``.

    Returns:
        A registry with ``catalog`` and ``schema`` set and the definitions in file order.

    Raises:
        DefinitionError: for an entry that matches no pipeline file, an unsupported file
            type named explicitly, or any error in a definition file (naming the file and
            line of the user's file, or the cell and line of an ``.ipynb``).
    """
    registry = Registry(catalog=catalog, schema=schema)
    for path in library_files(root, libraries):
        display = display_name(root, path)
        source = pipeline_source(path, display)
        context = LoadContext(
            root=root,
            catalog=catalog,
            schema=schema,
            configuration=dict(configuration),
            display_name=display,
            source=source.text if source.language == "python" else None,
        )
        marks = (len(registry.datasets), len(registry.flows))
        try:
            if source.language == "sql":
                _load_sql(path, registry, context, source)
            else:
                _load_python(path, registry, context)
        except DefinitionError as exc:
            if source.cells is None:
                raise
            raise type(exc)(source.message(exc.message, display), hint=exc.hint) from exc
        if source.cells is not None:
            _relocate(registry, marks, source, display)
    return registry


def _load_sql(path: Path, registry: Registry, context: LoadContext, source: PipelineSource) -> None:
    if source.text is None:
        parse_sql_file(
            path,
            registry,
            display_name=context.display_name,
            catalog=context.catalog,
            schema=context.schema,
            configuration=context.configuration,
        )
        return
    for definition in parse_sql_text(
        source.text,
        file=context.display_name,
        catalog=context.catalog,
        schema=context.schema,
        configuration=context.configuration,
    ):
        if isinstance(definition, Dataset):
            registry.add_dataset(definition)
        else:
            registry.add_flow(definition)


def _relocate(registry: Registry, marks: tuple[int, int], source: PipelineSource, display: str) -> None:
    """Point the locations of one notebook's definitions at its cells (``nb.ipynb:cell 3:2``)."""
    for index in range(marks[0], len(registry.datasets)):
        dataset = registry.datasets[index]
        registry.datasets[index] = replace(
            dataset,
            location=source.relocate(dataset.location, display),
            expectations=tuple(
                replace(e, location=source.relocate(e.location, display)) for e in dataset.expectations
            ),
        )
    for index in range(marks[1], len(registry.flows)):
        flow = registry.flows[index]
        registry.flows[index] = replace(flow, location=source.relocate(flow.location, display))


def _load_python(path: Path, registry: Registry, context: LoadContext) -> None:
    try:
        from soundlake.pipeline.python import load_python_file
    except ImportError as exc:
        raise DefinitionError(
            f"{context.display_name}: Python definitions not yet supported"
        ) from exc
    load_python_file(path, registry, context)
