"""The state of the Python pipeline file being loaded (definitions are recorded into it)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import Dataset, Flow, Registry, SourceLocation

if TYPE_CHECKING:
    from soundlake.pipeline.loader import LoadContext


@dataclass
class PendingQuery:
    """A decorated dataset or append-flow function, called once its file has loaded."""

    kind: str  # table | materialized_view | temporary_view | append_flow
    function: Callable[..., Any]
    target: TableName
    location: SourceLocation
    flow_name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadState:
    """One Python file being loaded."""

    registry: Registry
    context: LoadContext
    path_text: str
    display_name: str
    session: Any
    pending: list[PendingQuery] = field(default_factory=list)
    calling: str | None = None
    """The dataset function being called (its name), or None at the file's top level."""
    built: list[tuple[Dataset | None, Flow]] = field(default_factory=list)
    """The definitions of this file's dataset functions called so far (not yet in ``registry``)."""

    def definitions(self) -> Registry:
        """Every definition loaded so far: earlier files, this file's, and the functions called."""
        return Registry(
            datasets=[*self.registry.datasets, *(d for d, _ in self.built if d is not None)],
            flows=[*self.registry.flows, *(f for _, f in self.built)],
            catalog=self.registry.catalog, schema=self.registry.schema,
        )

    def session_conf(self) -> dict[str, str]:
        """What ``spark.conf.set`` has set so far in this file (applies to the next definitions)."""
        return dict(getattr(self.session.conf, "assigned", {}))


STATE: ContextVar[LoadState | None] = ContextVar("soundlake_pipeline_load_state", default=None)


def current_state(what: str) -> LoadState:
    """The file being loaded, or a DefinitionError when ``what`` is used outside a load."""
    state = STATE.get()
    if state is None:
        raise DefinitionError(
            f"{what} can only be used in a pipeline file that soundlake loads "
            "(list it under 'libraries' in soundlake.yml)"
        )
    return state
