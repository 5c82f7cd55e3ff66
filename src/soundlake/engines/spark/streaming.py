"""File streams on Structured Streaming: ``availableNow`` micro-batches into ``foreachBatch``.

The stream is a ``binaryFile`` source over the folder (only path, size and modification
time are read; ``content`` is never selected, so files are not loaded). Spark's
checkpoint (offsets and the file-source log) decides which files are new and replays a
micro-batch with the same files after a crash. Each micro-batch is handed to the
pipeline's callback with its file list and a lazy Spark read of those files with the
schema soundlake's Auto Loader tracks (``FileStream.schema``), shaped like soundlake's
reader: data columns, a NULL rescued-data column, ``_metadata``.

Why not a ``parquet`` stream source: OSS Structured Streaming has no rescued-data column,
no schema evolution and fails on a type mismatch, and the file list of a micro-batch
would have to be recovered from its rows (a file with no rows would vanish). soundlake
keeps its own Auto Loader logic for those (docs/databricks.md) and uses Spark's rows
only when every file of the micro-batch fits the tracked schema.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from soundlake.core.errors import EngineError
from soundlake.core.sql_text import spark_identifier
from soundlake.engines.base import (
    FileStream,
    FileStreamBatch,
    FileStreamCallback,
    NativeRelation,
    StreamedFile,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

BINARY_FILE_SCHEMA = "path STRING, modificationTime TIMESTAMP, length BIGINT, content BINARY"
#: Reader options passed on to Spark (lower-case soundlake/Auto Loader name -> Spark name).
READER_OPTIONS = {
    "pathglobfilter": "pathGlobFilter",
    "header": "header",
    "sep": "sep",
    "delimiter": "sep",
}
MAX_FILE_AGE = "36500d"
_FILE_SCHEME = re.compile(r"^file:(//)?")


def plain_path(uri: str) -> str:
    """Spark's file URI as soundlake names the file (``file:/x`` -> ``/x``; URLs kept)."""
    return _FILE_SCHEME.sub("", uri)


def run_file_stream(spark: SparkSession, stream: FileStream, on_batch: FileStreamCallback) -> int:
    """Run ``stream`` with ``trigger(availableNow=True)``; see ``Engine.run_file_stream``.

    Raises:
        EngineError: when Spark fails outside the callback.
        Exception: whatever ``on_batch`` raised, unchanged.
    """
    from pyspark.sql import functions as F

    # maxFileAge: Spark would skip a late file whose modification time is more than 7 days
    # older than the newest file seen (a backfill, a copy keeping times); never skip.
    options = {"recursiveFileLookup": "true", "maxFileAge": MAX_FILE_AGE}
    glob = _option(stream, "pathGlobFilter")
    if glob:
        options["pathGlobFilter"] = glob
    source = (
        spark.readStream.format("binaryFile")
        .schema(BINARY_FILE_SCHEMA)
        .options(**options)
        .load(stream.root)
        .select("path", "length", F.unix_micros("modificationTime").alias("mtime_us"))
    )
    failures: list[BaseException] = []
    ran = [0]

    def each(frame: DataFrame, batch_id: int) -> None:
        try:
            rows = sorted(frame.collect(), key=lambda r: str(r["path"]))
            if not rows:
                return
            files = tuple(
                StreamedFile(
                    plain_path(r["path"]), int(r["length"] or 0), int(r["mtime_us"] or 0) * 1000
                )
                for r in rows
            )
            native = NativeRelation(
                read_rows(spark, stream, [r["path"] for r in rows]), description=stream.root
            )
            on_batch(FileStreamBatch(int(batch_id), files, native))
            ran[0] += 1
        except BaseException as exc:  # the callback's error wins over Spark's wrapper
            failures.append(exc)
            raise

    try:
        query = (
            source.writeStream.foreachBatch(each)
            .trigger(availableNow=True)
            .option("checkpointLocation", stream.checkpoint)
            .start()
        )
        query.awaitTermination()
    except Exception as exc:
        if failures:
            raise failures[0] from None
        raise EngineError(f"the file stream over {stream.root} failed: {_short(exc)}") from exc
    if failures:
        raise failures[0]
    return ran[0]


def read_rows(spark: SparkSession, stream: FileStream, paths: list[str]) -> DataFrame:
    """A lazy read of ``paths`` with the stream's schema, shaped like soundlake's reader."""
    from pyspark.sql import functions as F

    from soundlake.engines.spark.engine import _spark_schema

    schema = _spark_schema(stream.schema)
    if schema is None:
        raise EngineError(f"the schema of {stream.root} has no Spark equivalent: {stream.schema}")
    reader = spark.read.format(stream.format).schema(schema)
    for key in ("header", "sep"):
        value = _option(stream, key)
        if value is not None:
            reader = reader.option(key, value)
    frame = reader.load(paths)
    columns: list[Any] = [F.col(spark_identifier(name)) for name in stream.schema.names]
    if stream.rescued_column:
        columns.append(F.lit(None).cast("string").alias(stream.rescued_column))
    if stream.with_metadata:
        meta = F.col("_metadata")
        ingested = (
            F.lit(stream.ingestion_time).cast("timestamp")
            if stream.ingestion_time
            else F.current_timestamp()
        )
        columns.append(
            F.struct(
                F.regexp_replace(meta["file_path"], _FILE_SCHEME.pattern, "").alias("file_path"),
                meta["file_name"].alias("file_name"),
                meta["file_size"].alias("file_size"),
                meta["file_modification_time"].alias("file_modification_time"),
                ingested.alias("ingestion_time"),
            ).alias("_metadata")
        )
    return frame.select(*columns)


def _option(stream: FileStream, spark_name: str) -> str | None:
    for key, value in stream.options.items():
        if READER_OPTIONS.get(str(key).lower().removeprefix("cloudfiles.")) == spark_name:
            return str(value)
    return None


def _short(exc: BaseException) -> str:
    return str(exc).split("\n\tat ")[0][:2000]
