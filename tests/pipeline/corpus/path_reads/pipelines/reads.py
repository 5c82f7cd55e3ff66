from pyspark import pipelines as dp
from pyspark.sql import functions as F


@dp.materialized_view()
def scores_by_path():
    # a dot in a path is part of the path, not a name part
    return spark.read.format("delta").load("data/scores.v1").where(F.col("score") > 2.0)


@dp.materialized_view()
def plan_names():
    # `plan_labels` is a table of the catalog that no flow of this pipeline writes
    return spark.read.table("plan_labels").join(spark.read.parquet("data/plays").select("plan").distinct(), "plan")
