"""Snapshot functions of AUTO CDC FROM SNAPSHOT: ``f(latest_version) -> (DataFrame, version) | None``.

At definition time the function is only checked (callable with one argument); it runs at
update time, once per snapshot, with the latest processed version (None before the first).
:func:`snapshot_reader` wraps it so the pipeline layer gets the snapshot as Spark SQL and
its version, and errors as one line naming the flow, the file and the line.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from soundlake.core.errors import DefinitionError, FlowError, SoundlakeError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.python.frame import column as dataframe_column
from soundlake.pipeline.python.frame import dataframe as df_module
from soundlake.pipeline.python.state import STATE, LoadState


@dataclass(frozen=True)
class Snapshot:
    """One snapshot a function returned: its query as Spark SQL and its version.

    ``catalog`` and ``schema`` are the defaults unqualified table names in ``sql`` resolve against.
    """

    sql: str
    version: int
    catalog: str
    schema: str


SnapshotReader = Callable[[str, "int | None"], "Snapshot | None"]
"""``reader(flow_name, latest_version)``: the next snapshot, or None when there is none."""


def check_signature(function: Callable[..., Any], location: SourceLocation) -> None:
    """Refuse a snapshot function that cannot be called with one argument (the latest version).

    Raises:
        DefinitionError: naming the file and line of the definition.
    """
    try:
        inspect.signature(function).bind(None)
    except TypeError as exc:
        name = getattr(function, "__name__", type(function).__name__)
        raise DefinitionError(
            f"{location}: snapshot function '{name}' must take one argument (the latest snapshot version): {exc}"
        ) from exc
    except ValueError:  # builtins without a signature: called as they are
        return


def snapshot_reader(function: Callable[..., Any], location: SourceLocation, state: LoadState) -> SnapshotReader:
    """Wrap ``function`` to run at update time with the pipeline's local DataFrame session."""
    path_text = state.path_text
    name = getattr(function, "__name__", "snapshot function")

    def where(exc: BaseException) -> str:
        line = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == path_text and frame.lineno is not None:
                line = frame.lineno
        return f"{location.file}:{line}" if line is not None else str(location)

    def read(flow: str, latest: int | None) -> Snapshot | None:
        token = STATE.set(state)
        df_module.reset_aliases()
        try:
            with dataframe_column.recording():
                result = function(latest)
            if result is None:
                return None
            if not (isinstance(result, tuple) and len(result) == 2):
                raise FlowError(
                    f"flow '{flow}': snapshot function '{name}' ({location}) returned {type(result).__name__}; "
                    "it must return (DataFrame, version) or None"
                )
            frame, version = result
            if isinstance(version, bool) or not isinstance(version, int):
                raise FlowError(
                    f"flow '{flow}': snapshot function '{name}' ({location}) returned version {version!r} "
                    f"({type(version).__name__}); soundlake supports integer snapshot versions"
                )
            if not isinstance(frame, df_module.DataFrame):
                raise FlowError(
                    f"flow '{flow}': snapshot function '{name}' ({location}) returned "
                    f"{type(frame).__name__} for version {version}; it must return a DataFrame"
                )
            return Snapshot(frame.to_sql(), version, state.context.catalog, state.context.schema)
        except FlowError:
            raise
        except SoundlakeError as exc:
            raise FlowError(f"flow '{flow}': snapshot function '{name}' failed at {where(exc)}: {exc}") from exc
        except Exception as exc:
            raise FlowError(
                f"flow '{flow}': snapshot function '{name}' failed at {where(exc)}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            STATE.reset(token)

    return read
