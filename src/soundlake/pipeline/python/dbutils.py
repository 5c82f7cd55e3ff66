"""``dbutils`` for pipeline files: widgets, files, the notebook context, secrets (refused).

Databricks gives notebooks and pipeline source files a ``dbutils`` object. soundlake gives
pipeline files one too (a builtin, ``from databricks.sdk.runtime import dbutils`` and
``pyspark.dbutils.DBUtils(spark)``), backed by local things:

- ``widgets``: ``text`` / ``dropdown`` / ``combobox`` / ``multiselect`` declare a widget
  with a default; ``get`` / ``getArgument`` return the pipeline ``configuration`` value of
  that name (``soundlake.yml`` ``configuration:``, the local stand-in for job and pipeline
  parameters), else the widget's default.
- ``fs``: ``ls``, ``head``, ``mkdirs``, ``put``, ``cp``, ``mv``, ``rm`` on local paths
  (relative paths are under the project) and ``abfss://`` URLs (through
  :func:`soundlake.lake.storage.azure_filesystem`, with the project's ``storage_options``
  for the lake's storage account); ``ls`` returns :class:`FileInfo` records.
- ``notebook.entry_point.getDbutils().notebook().getContext()``: ``userName()`` (the OS
  user), ``notebookPath()`` (the file), ``tags()`` (``user``) and ``toJson()``.
- ``secrets``: refused with a hint (there is no secret scope locally).

Anything else is a :class:`DefinitionError` naming the call, the file and the line.
"""

from __future__ import annotations

import getpass
import json
import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from soundlake.core.errors import DefinitionError, StorageError
from soundlake.lake.storage import AZURE_SCHEMES, Lake, azure_filesystem
from soundlake.pipeline.python.frame.column import call_site
from soundlake.pipeline.python.state import STATE

LAKE: ContextVar[Lake | None] = ContextVar("soundlake_pipeline_lake", default=None)
"""The project's lake while its pipeline files load (credentials for ``dbutils.fs``)."""


@contextmanager
def project_lake(lake: Lake) -> Iterator[None]:
    """Give ``dbutils.fs`` in the pipeline files loaded inside this block ``lake``'s credentials."""
    token = LAKE.set(lake)
    try:
        yield
    finally:
        LAKE.reset(token)


def _error(call: str, message: str) -> DefinitionError:
    return DefinitionError(f"{call_site()}: {call}: {message}")


def _unavailable(what: str, provided: str) -> DefinitionError:
    return DefinitionError(
        f"{call_site()}: {what} is not available outside Databricks (soundlake provides {provided})"
    )


# -- widgets ----------------------------------------------------------------------------------


class Widgets:
    """``dbutils.widgets``: values from the pipeline ``configuration``, else the defaults."""

    def __init__(self, configuration: Mapping[str, str]) -> None:
        self._configuration = dict(configuration)
        self._defaults: dict[str, str] = {}

    def _declare(self, call: str, name: str, default: Any, choices: Sequence[Any] | None) -> None:
        text = str(default)
        if choices is not None:
            options = [str(c) for c in choices]
            if text not in options and call != "combobox":
                raise _error(f"dbutils.widgets.{call}('{name}')", f"default {text!r} is not one of {options}")
            value = self._configuration.get(name)
            if call == "dropdown" and value is not None and value not in options:
                raise _error(
                    f"dbutils.widgets.{call}('{name}')",
                    f"configuration value {value!r} is not one of {options}",
                )
        self._defaults[name] = text

    def text(self, name: str, defaultValue: Any = "", label: str | None = None) -> None:
        """Declare a text widget."""
        self._declare("text", name, defaultValue, None)

    def dropdown(self, name: str, defaultValue: Any, choices: Sequence[Any], label: str | None = None) -> None:
        """Declare a dropdown widget (its value must be one of ``choices``)."""
        self._declare("dropdown", name, defaultValue, choices)

    def combobox(self, name: str, defaultValue: Any, choices: Sequence[Any], label: str | None = None) -> None:
        """Declare a combobox widget (any value; ``choices`` are suggestions)."""
        self._declare("combobox", name, defaultValue, choices)

    def multiselect(self, name: str, defaultValue: Any, choices: Sequence[Any], label: str | None = None) -> None:
        """Declare a multiselect widget (its value is a comma-separated list)."""
        self._declare("multiselect", name, defaultValue, choices)

    def get(self, name: str) -> str:
        """The configuration value of ``name``, else the declared widget's default."""
        if name in self._configuration:
            return str(self._configuration[name])
        if name in self._defaults:
            return self._defaults[name]
        raise _error(
            f"dbutils.widgets.get('{name}')",
            f"no widget or configuration value named '{name}'; set it in soundlake.yml "
            f"under 'configuration:' ({name}: <value>) or declare it with dbutils.widgets.text",
        )

    def getArgument(self, name: str, optional: str | None = None) -> str | None:
        """Like :meth:`get`, but ``optional`` (default None) for an unknown name."""
        if name in self._configuration or name in self._defaults:
            return self.get(name)
        return optional

    def getAll(self) -> dict[str, str]:
        """The value of every declared widget."""
        return {name: self.get(name) for name in self._defaults}

    def remove(self, name: str) -> None:
        """Forget a declared widget."""
        self._defaults.pop(name, None)

    def removeAll(self) -> None:
        """Forget every declared widget."""
        self._defaults.clear()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise _unavailable(f"dbutils.widgets.{name}", "text, dropdown, combobox, multiselect, get, getArgument, getAll, remove")


# -- files ------------------------------------------------------------------------------------


class FileInfo(NamedTuple):
    """One entry of ``dbutils.fs.ls`` (Databricks' ``FileInfo``): folders end with ``/``."""

    path: str
    name: str
    size: int
    modificationTime: int
    """Milliseconds since the epoch (0 when the store does not say)."""

    def isDir(self) -> bool:
        """True for a folder."""
        return self.name.endswith("/")

    def isFile(self) -> bool:
        """True for a file."""
        return not self.isDir()


@dataclass(frozen=True)
class _Location:
    """A ``dbutils.fs`` path: its filesystem, the path inside it, and how paths inside show.

    ``base`` is the shown form of the store's root: a child at inner path ``p`` is shown as
    ``base + p`` (local paths, ``file:`` paths) or, for Azure, ``base`` + ``p`` without its
    container (the URL's ``container@account`` names it).
    """

    fs: pafs.FileSystem
    inner: str
    shown: str
    base: str = ""
    container: str = ""

    def show(self, inner: str) -> str:
        if self.container:
            return self.base + inner[len(self.container):].lstrip("/")
        return self.base + inner


class FileSystem:
    """``dbutils.fs`` on local paths and ``abfss://`` URLs."""

    def __init__(self, root: Path, lake: Lake | None) -> None:
        self._root = root
        self._lake = lake

    # path resolution ---------------------------------------------------------------------

    def _locate(self, call: str, path: str) -> _Location:
        text = str(path)
        scheme = text.split(":", 1)[0].lower() if ":" in text else ""
        if scheme in AZURE_SCHEMES:
            return self._azure(call, text)
        if scheme == "dbfs":
            raise _error(
                f"dbutils.fs.{call}('{text}')",
                "dbfs:/ paths do not exist outside Databricks; use a local path or an abfss:// URL",
            )
        if scheme == "file":
            local = "/" + text[len("file:"):].lstrip("/")
            return _Location(pafs.LocalFileSystem(), local, text, base="file:")
        if "://" in text:
            raise _error(f"dbutils.fs.{call}('{text}')", "only local paths and abfss:// URLs are supported")
        local = str(Path(text) if Path(text).is_absolute() else (self._root / text).resolve())
        return _Location(pafs.LocalFileSystem(), local, text)

    def _azure(self, call: str, url: str) -> _Location:
        parts = urlsplit(url)
        lake = self._lake
        options: dict[str, str] = {}
        if lake is not None and not lake.is_local and urlsplit(lake.root).netloc.rpartition("@")[2] == parts.netloc.rpartition("@")[2]:
            options = dict(lake.storage_options)  # the lake's account: the project's credentials
        try:
            fs, inner = azure_filesystem(url, options)
        except StorageError as exc:
            raise _error(f"dbutils.fs.{call}('{url}')", exc.message) from exc
        return _Location(fs, inner, url, base=f"{parts.scheme}://{parts.netloc}/", container=inner.split("/", 1)[0])

    def _info(self, call: str, location: _Location) -> pafs.FileInfo:
        try:
            info = location.fs.get_file_info(location.inner)
        except OSError as exc:
            raise _error(f"dbutils.fs.{call}('{location.shown}')", str(exc).splitlines()[0]) from exc
        return info

    def _entry(self, location: _Location, info: pafs.FileInfo) -> FileInfo:
        is_dir = info.type == pafs.FileType.Directory
        name = posixpath.basename(info.path.rstrip("/")) + ("/" if is_dir else "")
        path = location.show(info.path) + ("/" if is_dir else "")
        mtime = info.mtime_ns // 1_000_000 if info.mtime_ns is not None else 0
        return FileInfo(path, name, 0 if is_dir else int(info.size or 0), mtime)

    def _guard(self, call: str) -> None:
        state = STATE.get()
        if state is not None and state.calling is not None:
            raise DefinitionError(
                f"{call_site()}: dbutils.fs.{call} in dataset function '{state.calling}': a dataset "
                "function must only build its query (move it to the top level of the file)"
            )

    # the API -----------------------------------------------------------------------------

    def ls(self, dir: str) -> list[FileInfo]:
        """The entries of a folder (or the file itself), sorted by path."""
        location = self._locate("ls", dir)
        info = self._info("ls", location)
        if info.type == pafs.FileType.NotFound:
            raise _error(f"dbutils.fs.ls('{dir}')", "no such file or folder")
        if info.type != pafs.FileType.Directory:
            return [self._entry(location, info)]
        try:
            entries = location.fs.get_file_info(pafs.FileSelector(location.inner, recursive=False))
        except OSError as exc:
            raise _error(f"dbutils.fs.ls('{dir}')", str(exc).splitlines()[0]) from exc
        return sorted((self._entry(location, e) for e in entries), key=lambda f: f.path)

    def head(self, file: str, maxBytes: int = 65536) -> str:
        """The first ``maxBytes`` bytes of a file, as text."""
        location = self._locate("head", file)
        if self._info("head", location).type != pafs.FileType.File:
            raise _error(f"dbutils.fs.head('{file}')", "no such file")
        with location.fs.open_input_stream(location.inner) as stream:
            data: bytes = stream.read(maxBytes)
        return data.decode("utf-8", errors="replace")

    def mkdirs(self, dir: str) -> bool:
        """Create a folder and its parents."""
        self._guard("mkdirs")
        location = self._locate("mkdirs", dir)
        location.fs.create_dir(location.inner, recursive=True)
        return True

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        """Write ``contents`` (UTF-8) to a file; an existing file needs ``overwrite=True``."""
        self._guard("put")
        location = self._locate("put", file)
        if self._info("put", location).type != pafs.FileType.NotFound and not overwrite:
            raise _error(f"dbutils.fs.put('{file}')", "the file exists; pass overwrite=True to replace it")
        parent = posixpath.dirname(location.inner)
        if parent:
            location.fs.create_dir(parent, recursive=True)
        with location.fs.open_output_stream(location.inner) as stream:
            stream.write(contents.encode("utf-8"))
        return True

    def cp(self, from_: str, to: str, recurse: bool = False) -> bool:
        """Copy a file, or a folder with ``recurse=True``, to ``to`` (across stores too)."""
        self._guard("cp")
        source, target = self._locate("cp", from_), self._locate("cp", to)
        kind = self._info("cp", source).type
        if kind == pafs.FileType.NotFound:
            raise _error(f"dbutils.fs.cp('{from_}')", "no such file or folder")
        if kind == pafs.FileType.Directory and not recurse:
            raise _error(f"dbutils.fs.cp('{from_}')", "it is a folder; pass recurse=True")
        if kind == pafs.FileType.File:
            parent = posixpath.dirname(target.inner)
            if parent:
                target.fs.create_dir(parent, recursive=True)
        pafs.copy_files(source.inner, target.inner, source_filesystem=source.fs, destination_filesystem=target.fs)
        return True

    def mv(self, from_: str, to: str, recurse: bool = False) -> bool:
        """Move a file, or a folder with ``recurse=True``."""
        self.cp(from_, to, recurse)
        return self.rm(from_, recurse=True)

    def rm(self, dir: str, recurse: bool = False) -> bool:
        """Delete a file, or a folder (non-empty only with ``recurse=True``); False if absent."""
        self._guard("rm")
        location = self._locate("rm", dir)
        kind = self._info("rm", location).type
        if kind == pafs.FileType.NotFound:
            return False
        if kind != pafs.FileType.Directory:
            location.fs.delete_file(location.inner)
            return True
        if not recurse and location.fs.get_file_info(pafs.FileSelector(location.inner)):
            raise _error(f"dbutils.fs.rm('{dir}')", "the folder is not empty; pass recurse=True")
        location.fs.delete_dir(location.inner)
        return True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise _unavailable(f"dbutils.fs.{name}", "ls, head, mkdirs, put, cp, mv, rm")


# -- notebook context -------------------------------------------------------------------------


class Option:
    """A Scala ``Option`` as the notebook context returns it: ``get()``, ``isDefined()`` ..."""

    def __init__(self, what: str, value: str | None) -> None:
        self._what = what
        self._value = value

    def get(self) -> str:
        """The value; an error when there is none."""
        if self._value is None:
            raise _unavailable(self._what, "the tag 'user'")
        return self._value

    def isDefined(self) -> bool:
        """True when there is a value."""
        return self._value is not None

    def isEmpty(self) -> bool:
        """True when there is no value."""
        return self._value is None

    def getOrElse(self, default: Any) -> Any:
        """The value, or ``default``."""
        return self._value if self._value is not None else default


class Tags:
    """``getContext().tags()``: only ``user`` is known locally."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def apply(self, key: str) -> str:
        """The tag's value; an error for a tag soundlake does not know."""
        return self.get(key).get()

    def get(self, key: str) -> Option:
        """The tag as an :class:`Option`."""
        return Option(f"notebook context tag '{key}'", self._values.get(key))

    def contains(self, key: str) -> bool:
        """True for a tag soundlake knows."""
        return key in self._values


class NotebookContext:
    """``dbutils.notebook.entry_point.getDbutils().notebook().getContext()``."""

    def __init__(self, user: str, path: str) -> None:
        self._user = user
        self._path = path

    def userName(self) -> Option:
        """The OS user running soundlake."""
        return Option("userName", self._user)

    def notebookPath(self) -> Option:
        """The absolute path of the pipeline file."""
        return Option("notebookPath", self._path)

    def tags(self) -> Tags:
        """``user`` only."""
        return Tags({"user": self._user})

    def toJson(self) -> str:
        """The known context as Databricks' JSON shape (``tags.user``, ``extraContext.notebook_path``)."""
        return json.dumps({"tags": {"user": self._user}, "extraContext": {"notebook_path": self._path}})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise _unavailable(f"getContext().{name}()", "userName(), notebookPath(), tags(), toJson()")


class _Chain:
    """One link of ``entry_point.getDbutils().notebook().getContext()``."""

    def __init__(self, context: NotebookContext) -> None:
        self._context = context

    def getDbutils(self) -> _Chain:
        return self

    def notebook(self) -> _Chain:
        return self

    def getContext(self) -> NotebookContext:
        return self._context

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise _unavailable(f"dbutils.notebook.entry_point...{name}", "getDbutils().notebook().getContext()")


class Notebook:
    """``dbutils.notebook``: the context chain only (``run`` and ``exit`` are refused)."""

    def __init__(self, context: NotebookContext) -> None:
        self.entry_point = _Chain(context)

    def getContext(self) -> NotebookContext:
        """The notebook context (the newer spelling)."""
        return self.entry_point.getContext()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise _unavailable(f"dbutils.notebook.{name}", "entry_point.getDbutils().notebook().getContext()")


# -- secrets ----------------------------------------------------------------------------------


class Secrets:
    """``dbutils.secrets``: there are no secret scopes locally; every call is an error with a hint."""

    def _refuse(self, call: str) -> DefinitionError:
        return DefinitionError(
            f"{call_site()}: {call}: Databricks secret scopes do not exist locally; put the value "
            "under 'configuration:' in soundlake.yml as ${env:NAME} (a .env file may hold it) and "
            "read it with spark.conf.get or dbutils.widgets.get"
        )

    def get(self, scope: str, key: str) -> str:
        """Refused (see the class)."""
        raise self._refuse(f"dbutils.secrets.get('{scope}', '{key}')")

    def getBytes(self, scope: str, key: str) -> bytes:
        """Refused (see the class)."""
        raise self._refuse(f"dbutils.secrets.getBytes('{scope}', '{key}')")

    def list(self, scope: str) -> Sequence[Any]:
        """Refused (see the class)."""
        raise self._refuse(f"dbutils.secrets.list('{scope}')")

    def listScopes(self) -> Sequence[Any]:
        """Refused (see the class)."""
        raise self._refuse("dbutils.secrets.listScopes()")


# -- dbutils ----------------------------------------------------------------------------------


def os_user() -> str:
    """The name of the user running soundlake."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no password entry (containers): the environment, else a placeholder
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


class DBUtils:
    """The ``dbutils`` object of one pipeline file.

    Args:
        configuration: The pipeline ``configuration`` (widget values).
        path: The pipeline file (``notebookPath``).
        root: The project root (relative ``dbutils.fs`` paths are under it).
        lake: The project's lake (credentials for ``abfss://`` paths on its account).
    """

    def __init__(self, configuration: Mapping[str, str], path: Path, root: Path, lake: Lake | None = None) -> None:
        self.widgets = Widgets(configuration)
        self.fs = FileSystem(root, lake)
        self.notebook = Notebook(NotebookContext(os_user(), Path(os.path.abspath(path)).as_posix()))
        self.secrets = Secrets()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise _unavailable(f"dbutils.{name}", "dbutils.widgets, fs, notebook (context) and secrets (errors)")
