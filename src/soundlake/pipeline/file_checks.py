"""Definition-time checks of a flow's file reads (run by graph validation).

Every ``read_files`` / ``cloud_files`` input's options are checked against
``reader_options`` and its schema option parsed, and SQL ``input_file_name()`` is refused,
so a dry-run fails naming the definition's file and line before anything is read.
"""

from __future__ import annotations

from collections.abc import Sequence

from soundlake.pipeline import autoloader as al
from soundlake.pipeline.definitions import Flow, QueryFlow
from soundlake.pipeline.hidden_columns import refuse_input_file_name
from soundlake.pipeline.reader_options import check_options, normalise_key
from soundlake.pipeline.sql.query import FlowInput


def check_file_reads(flow: Flow, inputs: Sequence[FlowInput]) -> None:
    """Check the file inputs and the query text of ``flow``.

    Raises:
        DefinitionError: naming the flow's location and the offending option or function.
    """
    where = str(flow.location)
    for inp in inputs:
        if inp.kind != "files":
            continue
        options = dict(inp.options)
        if any(normalise_key(k) == "format" for k in options) or al.format_from_path(str(inp.path)):
            al.FileSourceOptions.parse(options, str(inp.path), where=where)
        else:  # the format is only known when the files are: check what can be checked
            check_options(options, "", path=str(inp.path), where=where)
    if isinstance(flow, QueryFlow) and flow.sql:
        refuse_input_file_name(flow.sql, where)
