"""Helpers shared by the pipeline files: they import dlt and the runtime themselves."""

import dlt
from databricks.sdk.runtime import dbutils, spark
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def plays_path() -> str:
    return spark.conf.get("plays_path")


def raw_plays() -> DataFrame:
    return spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet").load(plays_path())


def known_users(df: DataFrame) -> DataFrame:
    return df.where(F.col("user_id").isNotNull())


def define_plan_table(plan: str) -> None:
    """One materialized view per plan: called by the pipeline file in a loop."""

    @dlt.table(name=f"{plan.lower()}_plays", comment=f"plays on the {plan} plan, from {dbutils.widgets.get('plays_path')}")
    def per_plan() -> DataFrame:
        return dlt.read("plays").where(F.col("plan") == plan).select("id", "seconds")
