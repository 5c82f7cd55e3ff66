"""File ingestion with Auto Loader semantics (docs/pipeline.md, "File ingestion").

- Discovery: every file under the source folder not yet in the flow's checkpoint, once.
- Schema: inferred from the files on first use and stored with the checkpoint, which is
  the source of truth later; ``schemaHints`` override the types of named columns.
- Evolution (``schemaEvolutionMode``): ``addNewColumns`` (default; the schema grows in the
  same run), ``rescue`` (schema fixed; unknown columns go to ``_rescued_data``),
  ``failOnNewColumns`` (clear error naming file and columns), ``none`` (ignored).
- ``_rescued_data``: JSON of the fields that did not fit (unknown column, type mismatch,
  case mismatch) plus ``_file_path``; NULL when nothing was rescued.
- ``_metadata``: struct of file path, name, size, modification time and ingestion time,
  added when the query mentions ``_metadata``.

Files are read with pyarrow one record batch at a time, so memory stays bounded.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from soundlake.core.errors import DefinitionError, FlowError
from soundlake.pipeline.globbing import glob_regex, has_glob, split_glob
from soundlake.pipeline.reader_options import check_options, normalise_key

EvolutionMode = Literal["addNewColumns", "rescue", "failOnNewColumns", "none"]
FileFormat = Literal["parquet", "json", "csv"]
RESCUED = "_rescued_data"
METADATA = "_metadata"
READ_BATCH = 65_536
_EVOLUTION: tuple[EvolutionMode, ...] = ("addNewColumns", "rescue", "failOnNewColumns", "none")


@dataclass(frozen=True)
class FileInfo:
    """One discovered file: path relative to the source folder, size, modification time."""

    path: str
    size: int
    mtime_ns: int

    def to_json(self) -> list[Any]:
        return [self.path, self.size, self.mtime_ns]

    @classmethod
    def from_json(cls, value: Sequence[Any]) -> FileInfo:
        return cls(str(value[0]), int(value[1]), int(value[2]))


@dataclass(frozen=True)
class FileSourceOptions:
    """Reader options of one ``read_files`` source (case-insensitive keys)."""

    format: FileFormat
    evolution_mode: EvolutionMode = "addNewColumns"
    schema_hints: str = ""
    rescued_column: str | None = RESCUED
    glob: str | None = None
    infer_types: bool = True
    header: bool = False
    delimiter: str = ","
    schema: pa.Schema | None = None
    quote: str = '"'
    escape: str | None = None
    null_value: str = ""
    multiline: bool = False

    @classmethod
    def parse(cls, options: Mapping[str, Any], path: str, *, where: str | None = None) -> FileSourceOptions:
        """Read ``read_files`` / ``cloudFiles.*`` options (checked by ``reader_options``).

        A full ``schema`` turns inference off; the rescued-data column is then only added
        when ``rescuedDataColumn`` is set and the evolution mode defaults to ``none``, as
        on Databricks. CSV ``header`` defaults to false (columns ``_c0``, ``_c1``, ...).

        Raises:
            DefinitionError: for an unknown format or evolution mode, an unsupported
                option, or an invalid schema.
        """
        opts = {normalise_key(k): str(v) for k, v in options.items()}
        prefix = f"{where}: " if where else ""
        fmt = opts.get("format", "").lower() or format_from_path(path)
        if fmt not in ("parquet", "json", "csv"):
            raise DefinitionError(f"{prefix}read_files('{path}'): unsupported format '{fmt}' (parquet, json, csv)")
        check_options(options, fmt, path=path, where=where)
        try:
            schema = parse_schema(opts["schema"]) if opts.get("schema", "").strip() else None
        except DefinitionError as exc:
            raise DefinitionError(f"{prefix}read_files('{path}'): {exc}") from exc
        mode = opts.get("schemaevolutionmode", "none" if schema is not None else "addNewColumns")
        matched = [m for m in _EVOLUTION if m.lower() == mode.lower()]
        if not matched:
            raise DefinitionError(
                f"{prefix}read_files('{path}'): schemaEvolutionMode '{mode}' is not one of {', '.join(_EVOLUTION)}"
            )
        rescued: str | None = opts.get("rescueddatacolumn", RESCUED)
        if matched[0] == "none" and "rescueddatacolumn" not in opts:
            rescued = None
        infer = opts.get("infercolumntypes", opts.get("inferschema", "true"))
        return cls(
            format=fmt,  # type: ignore[arg-type]
            evolution_mode=matched[0],
            schema_hints=opts.get("schemahints", ""),
            rescued_column=rescued,
            glob=opts.get("pathglobfilter") or opts.get("filenamepattern"),
            infer_types=infer.lower() != "false",
            header=opts.get("header", "false").lower() == "true",
            delimiter=opts.get("sep", opts.get("delimiter", ",")),
            schema=schema,
            quote=opts.get("quote", '"'),
            escape=opts.get("escape"),
            null_value=opts.get("nullvalue", ""),
            multiline=opts.get("multiline", "false").lower() == "true",
        )


def format_from_path(path: str) -> str:
    """The format named by a path's extension (``.parquet``, ``.json``, ``.csv``), or ``""``."""
    for fmt in ("parquet", "json", "csv"):
        if path.rstrip("/").lower().endswith("." + fmt):
            return fmt
    return ""


def resolve_path(path: str, base_dir: Path) -> str:
    """A ``read_files`` path: URLs and absolute paths as given, others under the project."""
    if "://" in path or Path(path).is_absolute():
        return path.rstrip("/") if len(path) > 1 else path
    return str((base_dir / path).resolve())


def _fs(root: str) -> tuple[pafs.FileSystem, str]:
    if "://" not in root:
        return pafs.LocalFileSystem(), root
    fs, path = pafs.FileSystem.from_uri(root)
    return fs, str(path)


def discover(root: str, options: FileSourceOptions, processed: set[str]) -> list[FileInfo]:
    """New files under ``root`` (a folder, one file or a glob), sorted by path, not in ``processed``.

    Hidden files (names starting with ``_`` or ``.``) are skipped, as Spark does. A glob
    (``/rides/*.csv``, ``{a,b}``, ``[0-9]``, ``?``) selects files as Hadoop globbing does
    (``globbing``); paths are then relative to the glob's literal base folder.

    Raises:
        DefinitionError: for a malformed glob.
    """
    pattern: re.Pattern[str] | None = None
    depth = 0
    if has_glob(root):
        root, text = split_glob(root)
        try:
            pattern = glob_regex(text)
        except ValueError as exc:
            raise DefinitionError(f"read_files: {exc}") from exc
        depth = text.count("/") + 1
    fs, base = _fs(root)
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.NotFound:
        return []
    if info.type == pafs.FileType.File and pattern is None:
        entries = [info]
        base = posixpath.dirname(base)
    elif info.type == pafs.FileType.File:
        return []
    else:
        entries = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    found = []
    for entry in entries:
        if not entry.is_file:
            continue
        rel = posixpath.relpath(entry.path, base)
        parts = rel.split("/")
        if pattern is not None and (len(parts) < depth or not pattern.fullmatch("/".join(parts[:depth]))):
            continue
        if any(part.startswith(("_", ".")) for part in parts):
            continue
        partition = next((part for part in parts[:-1] if "=" in part), None)
        if partition is not None:
            raise DefinitionError(
                f"read_files('{root}'): {posixpath.join(base, rel)} is in a Hive-style partition "
                f"folder '{partition}'; Databricks adds partition column "
                f"'{partition.split('=', 1)[0]}', soundlake does not: move the files or run on Databricks"
            )
        if options.glob and not fnmatch.fnmatch(posixpath.basename(rel), options.glob):
            continue
        if rel in processed:
            continue
        mtime = entry.mtime_ns if entry.mtime_ns is not None else 0
        found.append(FileInfo(rel, int(entry.size or 0), int(mtime)))
    return sorted(found, key=lambda f: f.path)


def is_folder(root: str) -> bool:
    """True when ``root`` is an existing folder (not one file, not missing)."""
    fs, base = _fs(root)
    return bool(fs.get_file_info(base).type == pafs.FileType.Directory)


def _source_dir(root: str) -> str:
    if has_glob(root):
        return split_glob(root)[0]
    fs, base = _fs(root)
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.File:
        return root.rsplit("/", 1)[0]
    return root


def full_path(root: str, rel: str) -> str:
    """The absolute path (or URL) of a discovered file."""
    return posixpath.join(_source_dir(root), rel)


# --- schema inference and the stored schema -------------------------------------------

_HINT_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "varchar": pa.string(), "char": pa.string(),
    "int": pa.int32(), "integer": pa.int32(), "bigint": pa.int64(), "long": pa.int64(),
    "smallint": pa.int16(), "short": pa.int16(), "tinyint": pa.int8(), "byte": pa.int8(),
    "double": pa.float64(), "float": pa.float32(), "real": pa.float32(), "boolean": pa.bool_(),
    "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"), "binary": pa.binary(),
}


def parse_schema_hints(hints: str) -> dict[str, pa.DataType]:
    """Parse ``"a INT, b DECIMAL(10,2)"`` into Arrow types.

    Raises:
        DefinitionError: for an unknown type.
    """
    out: dict[str, pa.DataType] = {}
    for part in _split_top_level(hints):
        words = part.strip().split(None, 1)
        if len(words) != 2:
            raise DefinitionError(f"schemaHints entry '{part.strip()}' must be 'column TYPE'")
        name, type_text = words[0].strip("`"), words[1].strip().lower()
        match = re.fullmatch(r"decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", type_text)
        if match:
            out[name] = pa.decimal128(int(match.group(1)), int(match.group(2)))
        elif type_text in _HINT_TYPES:
            out[name] = _HINT_TYPES[type_text]
        else:
            raise DefinitionError(f"schemaHints: unknown type '{type_text}' for column '{name}'")
    return out


def parse_schema(text: str) -> pa.Schema:
    """A reader ``schema`` (``"id INT, name STRING"`` or ``struct<id:int,name:string>``).

    Raises:
        DefinitionError: for an entry that is not ``name TYPE`` or an unknown type.
    """
    body = text.strip()
    if body.lower().startswith("struct<") and body.endswith(">"):
        body = ", ".join(part.replace(":", " ", 1) for part in _split_top_level(body[len("struct<"):-1]))
    try:
        return pa.schema([pa.field(name, dtype) for name, dtype in parse_schema_hints(body).items()])
    except DefinitionError as exc:
        raise DefinitionError(f"schema '{text}': {exc}") from exc


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in "(<":
            depth += 1
        elif ch in ")>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current))
    return [p for p in parts if p.strip()]


def schema_to_json(schema: pa.Schema) -> dict[str, Any]:
    """Serialise a schema for the checkpoint (readable field list plus exact IPC bytes)."""
    return {
        "fields": [[f.name, str(f.type)] for f in schema],
        "arrow": base64.b64encode(schema.serialize().to_pybytes()).decode("ascii"),
    }


def schema_from_json(value: Mapping[str, Any]) -> pa.Schema:
    """Inverse of :func:`schema_to_json`."""
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(value["arrow"])))


def file_schema(path: str, options: FileSourceOptions) -> pa.Schema:
    """The schema of one file (Parquet: from the footer; JSON/CSV: by reading it).

    Raises:
        FlowError: naming the file when it cannot be read.
    """
    try:
        if options.format == "parquet":
            import pyarrow.parquet as pq

            fs, p = _fs(path)
            with fs.open_input_file(p) as handle:
                return pq.ParquetFile(handle).schema_arrow
        return _read_text_file(path, options).schema
    except FlowError:
        raise
    except Exception as exc:
        raise FlowError(f"cannot read file {path}: {exc}") from exc


def evolve_schema(
    current: pa.Schema | None, files: Sequence[FileInfo], root: str, options: FileSourceOptions
) -> tuple[pa.Schema, list[str]]:
    """The schema to read ``files`` with, and the columns that were added.

    The first call infers from all files; later calls keep the stored schema and apply the
    evolution mode to columns not in it. ``_rescued_data`` is the last column.

    Raises:
        FlowError: ``failOnNewColumns`` meeting a new column, naming the file.
    """
    rescued = options.rescued_column
    if options.schema is not None:
        given = list(options.schema)
        return pa.schema(given + ([pa.field(rescued, pa.string())] if rescued else [])), []
    hints = parse_schema_hints(options.schema_hints)
    data_fields: list[pa.Field] = [f for f in current if f.name != rescued] if current is not None else []
    known = {f.name for f in data_fields}
    known_lower = {n.lower() for n in known}
    added: list[str] = []
    for info in files:
        path = full_path(root, info.path)
        schema = file_schema(path, options)
        for field in schema:
            if field.name in known or field.name == rescued or field.name == METADATA:
                continue
            if current is not None and field.name.lower() in known_lower:
                continue  # case mismatch: rescued at read time
            if current is not None and options.evolution_mode == "failOnNewColumns":
                raise FlowError(
                    f"file {path} has new column(s) {field.name!r} not in the stored schema "
                    f"(schemaEvolutionMode=failOnNewColumns); run a full refresh or change the mode"
                )
            if current is not None and options.evolution_mode in ("rescue", "none"):
                continue
            ftype = hints.get(field.name, normalise_type(field.type, options))
            data_fields.append(pa.field(field.name, ftype))
            known.add(field.name)
            known_lower.add(field.name.lower())
            if current is not None:
                added.append(field.name)
    for name, hint in hints.items():
        if current is None and name not in known:
            data_fields.append(pa.field(name, hint))
    if current is None:
        data_fields = [pa.field(f.name, hints.get(f.name, f.type)) for f in data_fields]
    fields = list(data_fields)
    if rescued:
        fields.append(pa.field(rescued, pa.string()))
    return pa.schema(fields), added


def normalise_type(dtype: pa.DataType, options: FileSourceOptions) -> pa.DataType:
    """The type a file column gets in the tracked schema (strings for nulls, no dictionaries)."""
    if pa.types.is_null(dtype):
        return pa.string()
    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return pa.string()
    if pa.types.is_dictionary(dtype):
        return normalise_type(dtype.value_type, options)
    if options.format == "csv" and not options.infer_types:
        return pa.string()
    return dtype


# --- reading ------------------------------------------------------------------------


def _read_text_file(path: str, options: FileSourceOptions) -> pa.Table:
    fs, p = _fs(path)
    with fs.open_input_stream(p) as stream:
        if options.format == "json":
            return _read_json(stream.read().decode("utf-8"), multiline=options.multiline)
        return _read_csv(stream, options)


def _read_csv(stream: Any, options: FileSourceOptions) -> pa.Table:
    """CSV as Spark reads it: ``nullValue`` (default empty) is the only NULL spelling.

    With a ``schema`` the columns are taken by position (Spark's ``enforceSchema``) and
    read as strings, to be cast (or rescued) by the caller.
    """
    import pyarrow.csv as pcsv

    given = options.schema
    names = given.names if given is not None else None
    read = pcsv.ReadOptions(
        column_names=names,
        autogenerate_column_names=names is None and not options.header,
        skip_rows=1 if names is not None and options.header else 0,
    )
    parse = pcsv.ParseOptions(
        delimiter=options.delimiter,
        quote_char=options.quote or False,
        escape_char=options.escape or False,
        newlines_in_values=options.multiline,
    )
    as_text = given is not None or not options.infer_types
    convert = pcsv.ConvertOptions(
        null_values=[options.null_value],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=["true", "True", "TRUE"],
        false_values=["false", "False", "FALSE"],
        column_types={n: pa.string() for n in names} if names is not None else None,
    )
    table = pcsv.read_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
    if names is None and not options.header:
        table = table.rename_columns([f"_c{i}" for i in range(table.num_columns)])
    if as_text:
        table = table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
    return table


def _read_json(text: str, *, multiline: bool = False) -> pa.Table:
    """JSON lines (or one JSON array) to a table; a column of mixed types becomes strings.

    With ``multiline`` the whole file is one JSON value (an object or an array of
    objects), as Spark's ``multiLine``. Parsed in Python rather than with pyarrow's
    reader, which rejects a column whose type changes inside a file; such values must
    reach ``_rescued_data`` instead.
    """
    stripped = text.lstrip()
    if multiline:
        value = json.loads(stripped)
        records = value if isinstance(value, list) else [value]
    elif stripped.startswith("["):
        records = json.loads(stripped)
    else:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    names: dict[str, None] = {}
    for record in records:
        if not isinstance(record, dict):
            raise ValueError("every JSON record must be an object")  # noqa: TRY004 (a data error, reported per file)
        names.update(dict.fromkeys(record))
    columns = {}
    for name in names:
        values = [r.get(name) for r in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array(
                [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
                type=pa.string(),
            )
    return pa.table(columns) if columns else pa.table({})


def _file_batches(path: str, options: FileSourceOptions) -> Iterator[pa.RecordBatch]:
    if options.format == "parquet":
        import pyarrow.parquet as pq

        fs, p = _fs(path)
        with fs.open_input_file(p) as handle:
            yield from pq.ParquetFile(handle).iter_batches(batch_size=READ_BATCH)
        return
    yield from _read_text_file(path, options).to_batches(max_chunksize=READ_BATCH)


def metadata_type() -> pa.DataType:
    """The ``_metadata`` struct type."""
    return pa.struct(
        [
            pa.field("file_path", pa.string()),
            pa.field("file_name", pa.string()),
            pa.field("file_size", pa.int64()),
            pa.field("file_modification_time", pa.timestamp("us", tz="UTC")),
            pa.field("ingestion_time", pa.timestamp("us", tz="UTC")),
        ]
    )


def read_schema(schema: pa.Schema, with_metadata: bool) -> pa.Schema:
    """The schema of the rows :func:`read_files` yields."""
    return schema.append(pa.field(METADATA, metadata_type())) if with_metadata else schema


def read_files(
    root: str,
    files: Sequence[FileInfo],
    schema: pa.Schema,
    options: FileSourceOptions,
    *,
    with_metadata: bool,
    ingestion_time: datetime,
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of ``files`` conformed to ``schema``, one batch at a time.

    Raises:
        FlowError: naming the file when it is corrupt or unreadable.
    """
    out_schema = read_schema(schema, with_metadata)
    for info in files:
        path = full_path(root, info.path)
        try:
            for batch in _file_batches(path, options):
                yield _conform(batch, schema, options, path, info, with_metadata, ingestion_time, out_schema)
        except FlowError:
            raise
        except Exception as exc:
            raise FlowError(f"cannot read file {path}: {exc}") from exc


def _conform(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    options: FileSourceOptions,
    path: str,
    info: FileInfo,
    with_metadata: bool,
    ingestion_time: datetime,
    out_schema: pa.Schema,
) -> pa.RecordBatch:
    rescued_name = options.rescued_column
    n = batch.num_rows
    names = set(batch.schema.names)
    wanted = {f.name for f in schema}
    rescued: dict[str, pa.Array] = {}
    columns: list[pa.Array] = []
    for field in schema:
        if field.name == rescued_name:
            continue
        if field.name not in names:
            columns.append(pa.nulls(n, field.type))
            continue
        array = batch.column(field.name)
        if array.type == field.type:
            columns.append(array)
            continue
        converted, failed = _cast_or_rescue(array, field.type)
        columns.append(converted)
        if failed is not None and rescued_name:
            rescued[field.name] = failed
    wanted_lower = {w.lower() for w in wanted}
    for name in batch.schema.names:
        if name in wanted or name == METADATA:
            continue
        case_mismatch = name.lower() in wanted_lower
        if rescued_name and (case_mismatch or options.evolution_mode in ("rescue", "addNewColumns", "failOnNewColumns")):
            rescued[name] = batch.column(name)
    if rescued_name:
        columns.append(_rescued_json(rescued, n, path))
    if with_metadata:
        columns.append(_metadata_column(n, path, info, ingestion_time))
    return pa.RecordBatch.from_arrays(columns, schema=out_schema)


def _cast_or_rescue(array: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """Cast; values that do not convert become NULL and are returned for rescue."""
    try:
        return pc.cast(array, target, safe=True), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    values = array.to_pylist()
    converted: list[Any] = []
    failed: list[Any] = []
    for value in values:
        try:
            converted.append(pc.cast(pa.array([value], type=array.type), target, safe=True)[0].as_py())
            failed.append(None)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            converted.append(None)
            failed.append(value)
    return pa.array(converted, type=target), pa.array(failed, type=array.type)


def _rescued_json(rescued: Mapping[str, pa.Array], n: int, path: str) -> pa.Array:
    if not rescued:
        return pa.nulls(n, pa.string())
    lists = {name: arr.to_pylist() for name, arr in rescued.items()}
    out: list[str | None] = []
    for i in range(n):
        row = {name: values[i] for name, values in lists.items() if values[i] is not None}
        if row:
            row["_file_path"] = path
            out.append(json.dumps(row, default=str, sort_keys=True))
        else:
            out.append(None)
    return pa.array(out, type=pa.string())


def _metadata_column(n: int, path: str, info: FileInfo, ingestion_time: datetime) -> pa.Array:
    mtime = datetime.fromtimestamp(info.mtime_ns / 1e9, tz=timezone.utc)
    row = {
        "file_path": path,
        "file_name": posixpath.basename(path),
        "file_size": info.size,
        "file_modification_time": mtime,
        "ingestion_time": ingestion_time,
    }
    scalar = pa.scalar(row, type=metadata_type())
    return pa.repeat(scalar, n)
