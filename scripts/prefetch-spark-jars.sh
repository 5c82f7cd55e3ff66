#!/usr/bin/env bash
# Download Delta Lake's jars (and their dependencies) from Maven Central into soundlake's
# Ivy cache by starting one tiny local Spark session. Run once after
# `pip install -e '.[spark]'` (CI: from .ci/run) so Spark tests do not wait on the network.
# The cache is $SOUNDLAKE_SPARK_IVY_DIR (default ~/.cache/soundlake/ivy).
set -euo pipefail
python3 - <<'PY'
import tempfile

from soundlake.engines.spark.session import delta_maven_coordinates, ivy_dir, spark_session

with tempfile.TemporaryDirectory() as tmp:
    spark = spark_session("local[1]", {}, app_name="soundlake-prefetch", warehouse_dir=f"{tmp}/wh")
    spark.range(1).write.format("delta").save(f"{tmp}/probe")
    assert spark.read.format("delta").load(f"{tmp}/probe").count() == 1
    spark.stop()
print(f"prefetched {delta_maven_coordinates()} into {ivy_dir()}")
PY
