# Databricks notebook source
import dlt
from databricks.sdk.runtime import dbutils
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.builder.getOrCreate()
dbutils.widgets.text("plays_path", "/Volumes/main/corpus/plays")
plays_path = dbutils.widgets.get("plays_path")
min_seconds = int(spark.conf.get("corpus.min_seconds"))

# COMMAND ----------


@dlt.table(comment="raw plays, not published", temporary=True)
def raw_plays():
    return spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet").load(plays_path)


@dlt.table(comment="plays of known users")
@dlt.expect_or_drop("known_user", "user_id IS NOT NULL")
def plays():
    return dlt.read_stream("raw_plays").select("id", "user_id", "seconds", "plan")


# COMMAND ----------

dlt.create_target_table("long_plays", comment="plays of at least min_seconds")


@dlt.append_flow(target="long_plays")
def long_from_plays():
    return dlt.read_stream("plays").where(F.col("seconds") >= min_seconds).select("id", "seconds")


@dlt.view
@dlt.expect_or_drop("premium", "plan = 'Premium'")
def premium_plays():
    return dlt.read("plays")


@dlt.table
def premium_count():
    return dlt.read("premium_plays").groupBy().count()


@dlt.table
def ids():
    return spark.range(3)


# COMMAND ----------

# values notebooks take from the workspace: the user, the files of a folder
user = dbutils.notebook.entry_point.getDbutils().notebook().getContext().userName().get()
files = [f.name for f in dbutils.fs.ls(plays_path)]
active = SparkSession.active()
active.conf.set("spark.sql.ansi.enabled", "false")  # applies to the definitions below


@dlt.table(comment=f"loaded by {user}")
def lenient():
    return active.sql("SELECT CAST('x' AS INT) AS x").withColumn("files", F.lit(len(files))).withColumn("owner", F.lit(user))
