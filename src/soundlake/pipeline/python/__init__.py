"""Python front end: the ``pyspark.pipelines`` / DLT decorators and the file loader."""

from __future__ import annotations

from soundlake.pipeline.python.loader import load_python_file

__all__ = ["load_python_file"]
