from pyspark import pipelines as dp
from pyspark.sql import functions as F


@dp.materialized_view(name="per_user")
@dp.expect_or_drop("known_user", "user_id IS NOT NULL")
def per_user():
    return spark.read.table("plays").groupBy("user_id").agg(F.count("*").alias("plays"), F.sum("seconds").alias("seconds"))
