"""Regenerate the Spark function registry and docs/spark-functions.md from the conformance suite.

Usage: python scripts/spark_functions.py   (needs the spark extra; takes a few minutes)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from soundlake.engines.duckdb.engine import DuckDBEngine
    from soundlake.engines.spark.session import spark_session
    from soundlake.pipeline.sql.functions import REGISTRY
    from tests.conformance.registry import build, docs_table, dumps

    with tempfile.TemporaryDirectory() as tmp:
        spark = spark_session("local[1]", {"spark.sql.shuffle.partitions": "1", "spark.ui.enabled": "false"},
                              app_name="soundlake-conformance", warehouse_dir=str(Path(tmp) / "warehouse"))
        spark.sparkContext.setLogLevel("OFF")
        engine = DuckDBEngine()
        try:
            document = build(spark, engine, Path(tmp))
        finally:
            engine.close()
            spark.stop()
    REGISTRY.write_text(dumps(document), encoding="utf-8")
    (ROOT / "docs" / "spark-functions.md").write_text(docs_table(document), encoding="utf-8")
    counts = {s: sum(1 for f in document["functions"].values() if f["status"] == s) for s in ("equal", "limited", "refused")}
    print(f"wrote {REGISTRY.relative_to(ROOT)} and docs/spark-functions.md: {counts}")


if __name__ == "__main__":
    main()
