"""Legacy Delta Live Tables API for old code: ``import soundlake.dlt as dlt``.

The same functions as :mod:`soundlake.pipelines` (``dlt.table``, ``dlt.view``,
``dlt.apply_changes``, ``dlt.read``, ``dlt.read_stream``, ``dlt.expect*`` ...). soundlake
does not install a top-level ``dlt`` module: that name belongs to dlthub's package.
"""

from __future__ import annotations

from soundlake.pipelines import *
from soundlake.pipelines import __all__ as _all

__all__ = list(_all)
