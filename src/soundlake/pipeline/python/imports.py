"""Databricks module names in pipeline files, without shadowing installed packages.

A pipeline file written for Databricks imports ``dlt`` (the classic DLT module),
``databricks.sdk.runtime`` (``dbutils``, ``spark``), ``pyspark.dbutils`` and
``pyspark.sql.SparkSession``. Locally ``dlt`` is usually dlthub's package and
``databricks-sdk`` may be installed: those must keep working for everyone else.

So these names are not put into ``sys.modules``. While a file loads (and while its
functions run again on the Spark engine), :func:`import_scope` installs an
``__import__`` that answers them with soundlake's modules **only for import statements in
the pipeline's own code**: the pipeline file and the modules in its folder (helpers),
never for installed packages (``site-packages``). Every other import, and every import
after the scope ends, goes to Python's own ``__import__``. The scope is per thread (a
context variable); the hook is installed once for all active scopes and removed when the
last one ends.

:func:`session_class` builds the ``SparkSession`` class pipeline code sees:
``SparkSession.builder...getOrCreate()``, ``SparkSession.active()`` and
``getActiveSession()`` return the pipeline's ``spark``.
"""

from __future__ import annotations

import builtins
import os
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

_Import = Callable[..., types.ModuleType]


@dataclass(frozen=True)
class ImportScope:
    """What pipeline code in ``folder`` imports differently while a file loads.

    Attributes:
        folder: The pipeline file's folder (absolute); code in it (and below it, outside
            ``site-packages``) is pipeline code.
        modules: Module name -> module, for ``from name import x`` and ``import name``
            of a top-level name.
        packages: Dotted name -> the top-level package ``import a.b.c`` binds to ``a``.
        overlays: Real module name -> attributes that ``from name import attr`` gives
            instead of the real module's (the rest comes from the real module).
        bound: Names of the pipeline's own modules (helpers) that imported a Databricks or
            PySpark name in this scope: they hold this load's ``spark`` and API, so the
            loader drops them from ``sys.modules`` when the scope ends.
    """

    folder: str
    modules: Mapping[str, types.ModuleType] = field(default_factory=dict)
    packages: Mapping[str, types.ModuleType] = field(default_factory=dict)
    overlays: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)

    def note(self, name: str, namespace: Mapping[str, Any]) -> None:
        """Remember the importing module when ``name`` is a Databricks or PySpark name."""
        root = name.split(".")[0]
        if root in ("pyspark", "dlt", "databricks") or name in self.modules or name in self.overlays:
            importer = namespace.get("__name__")
            if isinstance(importer, str):
                self.bound.add(importer)

    def covers(self, namespace: Mapping[str, Any] | None) -> bool:
        """True when the importing module (its globals) is pipeline code."""
        file = namespace.get("__file__") if namespace is not None else None
        if not isinstance(file, str):
            return False
        path = os.path.abspath(file)
        if not path.startswith(self.folder + os.sep):
            return False
        parts = path.split(os.sep)
        return "site-packages" not in parts and "dist-packages" not in parts

    def resolve(self, name: str, fromlist: Sequence[str] | None, real: Callable[[], types.ModuleType]) -> types.ModuleType:
        """The module an ``import`` of ``name`` gives pipeline code (``real()``: Python's answer)."""
        if fromlist:
            if name in self.modules:
                return self.modules[name]
            overrides = self.overlays.get(name)
            if overrides and ("*" in fromlist or any(n in overrides for n in fromlist)):
                return Overlay(real(), overrides)
        elif name in self.packages:
            return self.packages[name]
        return real()


class Overlay(types.ModuleType):
    """A real module with a few attributes replaced (``pyspark.sql`` with our SparkSession)."""

    def __init__(self, module: types.ModuleType, overrides: Mapping[str, Any]) -> None:
        super().__init__(module.__name__, module.__doc__)
        self.__dict__.update(overrides)
        self.__dict__["_overlaid"] = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_overlaid"], name)


_SCOPE: ContextVar[ImportScope | None] = ContextVar("soundlake_pipeline_import_scope", default=None)
_LOCK = threading.Lock()
_ACTIVE = 0
_ORIGINAL: _Import = builtins.__import__


def _import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> types.ModuleType:
    original = _ORIGINAL
    scope = _SCOPE.get()
    if scope is None or level != 0 or not scope.covers(globals):
        return original(name, globals, locals, fromlist, level)
    scope.note(name, globals or {})
    return scope.resolve(name, fromlist, lambda: original(name, globals, locals, fromlist, level))


@contextmanager
def import_scope(scope: ImportScope) -> Iterator[None]:
    """Pipeline code imports through ``scope`` inside this block (this thread only)."""
    global _ACTIVE, _ORIGINAL
    with _LOCK:
        if _ACTIVE == 0 and builtins.__import__ is not _import:
            _ORIGINAL = builtins.__import__
            builtins.__import__ = _import
        _ACTIVE += 1
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)
        with _LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0 and builtins.__import__ is _import:
                builtins.__import__ = _ORIGINAL


# -- SparkSession ----------------------------------------------------------------------------


class SessionBuilder:
    """``SparkSession.builder``: every setter chains; ``getOrCreate()`` is the pipeline's session.

    Settings given with ``config`` are applied with ``spark.conf.set`` (as Spark applies
    runtime settings to an existing session).
    """

    def __init__(self, session: Any) -> None:
        self._session = session
        self._conf: dict[str, Any] = {}

    def appName(self, name: str) -> SessionBuilder:
        return self

    def master(self, master: str) -> SessionBuilder:
        return self

    def remote(self, url: str) -> SessionBuilder:
        return self

    def enableHiveSupport(self) -> SessionBuilder:
        return self

    def config(
        self, key: str | None = None, value: Any = None, conf: Any = None, *, map: Mapping[str, Any] | None = None
    ) -> SessionBuilder:
        if key is not None:
            self._conf[key] = value
        for pairs in (map or {}).items(), (conf.getAll() if conf is not None else ()):
            for k, v in pairs:
                self._conf[k] = v
        return self

    def getOrCreate(self) -> Any:
        for key, value in self._conf.items():
            self._session.conf.set(key, value)
        return self._session

    create = getOrCreate


class _SessionType(type):
    """The metaclass of :func:`session_class`'s classes: ``builder`` is a class property."""

    _session: Any
    _real: type | None

    @property
    def builder(cls) -> SessionBuilder:
        return SessionBuilder(cls._session)

    def __instancecheck__(cls, instance: Any) -> bool:
        return instance is cls._session or (cls._real is not None and isinstance(instance, cls._real))

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._session


def session_class(session: Any, real: type | None = None) -> type:
    """A ``SparkSession`` class whose sessions are ``session``.

    ``real`` (the real ``pyspark.sql.SparkSession`` on the Spark engine) keeps
    ``isinstance(x, SparkSession)`` true for real sessions.
    """

    class SparkSession(metaclass=_SessionType):
        """The pipeline's session (``builder.getOrCreate()``, ``active()``, ``getActiveSession()``)."""

        _session = session
        _real = real

        @classmethod
        def active(cls) -> Any:
            return cls._session

        @classmethod
        def getActiveSession(cls) -> Any:
            return cls._session

    SparkSession.__module__ = "pyspark.sql.session"
    return SparkSession


def module(name: str, **attributes: Any) -> types.ModuleType:
    """A new module named ``name`` holding ``attributes``."""
    made = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(made, key, value)
    return made
