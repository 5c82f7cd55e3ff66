# Databricks notebook source
# MAGIC %md
# MAGIC # Transform
# MAGIC Per-user totals and premium users from `plays`.

# COMMAND ----------

# MAGIC %pip install simplejson

# COMMAND ----------

from pyspark import pipelines as dp
from pyspark.sql import functions as F

# COMMAND ----------

@dp.materialized_view(comment="plays per known user")
@dp.expect_or_drop("known_user", "user_id IS NOT NULL")
def per_user():
    return (
        spark.read.table("plays")
        .groupBy("user_id")
        .agg(F.count("*").alias("plays"), F.sum("seconds").alias("seconds"))
    )

# COMMAND ----------

# MAGIC %python
# MAGIC @dp.materialized_view(name="premium_users")
# MAGIC def premium():
# MAGIC     return spark.read.table("plays").where(F.col("plan") == "Premium").select("user_id").distinct()
