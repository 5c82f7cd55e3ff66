# Databricks notebook source
import json
import os

import dlt
from pyspark.sql import functions as F


@dlt.table(comment="every play")
def plays():
    return spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet").load(spark.conf.get("plays_path"))


# COMMAND ----------

dlt.create_sink("known_plays_export", "delta", {"path": spark.conf.get("export_path")})


@dlt.append_flow(name="export_known_plays", target="known_plays_export")
def export_known_plays():
    return dlt.read_stream("plays").where(F.col("user_id").isNotNull()).select("id", "user_id", "seconds")


# COMMAND ----------

FEED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exports", "feed")


@dlt.foreach_batch_sink(name="premium_feed")
def premium_feed(df, batch_id):
    os.makedirs(FEED, exist_ok=True)
    rows = sorted((row.asDict() for row in df.collect()), key=lambda r: r["id"])
    with open(os.path.join(FEED, f"batch-{batch_id}.json"), "w") as out:
        json.dump({"batch_id": batch_id, "count": df.count(), "rows": rows}, out)


@dlt.append_flow(target="premium_feed")
def feed_premium_plays():
    return spark.readStream.table("plays").where("plan = 'Premium'").select("id", "seconds")
