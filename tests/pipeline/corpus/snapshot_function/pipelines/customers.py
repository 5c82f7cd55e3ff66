# Databricks notebook source
import dlt
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
snapshot_root = spark.conf.get("snapshot_root")

# COMMAND ----------


def next_snapshot_and_version(latest_snapshot_version):
    """The first export after the latest processed one, or None when there is none."""
    versions = sorted(
        int(f.name.rstrip("/").split("_")[-1])
        for f in dbutils.fs.ls(snapshot_root)
        if f.name.startswith("snapshot_")
    )
    newer = [v for v in versions if latest_snapshot_version is None or v > latest_snapshot_version]
    if not newer:
        return None
    version = newer[0]
    snapshot = spark.read.format("parquet").load(f"{snapshot_root}/snapshot_{version}")
    return snapshot.select("customer_id", "name", "city"), version


# COMMAND ----------

dlt.create_streaming_table("customers", comment="current customers (SCD1)")
dlt.apply_changes_from_snapshot(
    target="customers",
    source=next_snapshot_and_version,
    keys=["customer_id"],
    stored_as_scd_type=1,
)

dlt.create_streaming_table("customers_history", comment="customer history (SCD2)")
dlt.create_auto_cdc_from_snapshot_flow(
    target="customers_history",
    source=next_snapshot_and_version,
    keys=["customer_id"],
    stored_as_scd_type=2,
    track_history_except_column_list=["name"],
)
