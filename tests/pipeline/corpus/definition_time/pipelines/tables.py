import dlt
from pyspark.sql import functions as F

data = spark.conf.get("data")

# the columns of a catalog table, minus the ones not published
config = spark.read.table("main.corpus.plan_config")
published = [c for c in config.columns if c not in ("note", "_rescued_data")]
kinds = dict(config.dtypes)
plans_configured = config.count()
first_plan = config.orderBy("plan").first()


@dlt.table
def plans():
    return spark.read.table("main.corpus.plan_config").select(*published)


@dlt.table
def config_summary():
    return spark.range(1).select(
        F.lit(plans_configured).alias("plans"),
        F.lit(first_plan.plan).alias("first_plan"),
        F.lit(kinds["min_seconds"]).alias("min_seconds_type"),
    )


@dlt.table
def plays():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "parquet")
        .load(f"{data}/plays")
        .select("id", "user_id", "seconds", "plan")
    )


# one table per enabled plan, from the configuration table's rows
for row in config.where(F.col("enabled")).collect():

    def define(plan: str = row.plan, min_seconds: int = row["min_seconds"]) -> None:
        @dlt.table(name=f"long_{plan.lower()}_plays")
        def long_plays():
            return dlt.read("plays").where((F.col("plan") == plan) & (F.col("seconds") >= min_seconds)).select("id", "seconds")

    define()


@dlt.table
def labels():
    return spark.read.csv(f"{data}/labels", header=True, inferSchema=True, sep=";").select("plan", "label")


@dlt.table
def devices():
    return spark.read.json(f"{data}/devices", multiLine=True).select("id", "device")
