"""Gold DimUser in the seed's Python style: a staging table, then an SCD2 AUTO CDC flow.

Only the import line differs from the Databricks notebook
(``from pyspark import pipelines as dp`` there).
"""

from soundlake import pipelines as dp

expectations = {"user_id_not_null": "user_id IS NOT NULL"}


@dp.table(name="spotify_catalog.gold.dimuser_stg", comment="Staging over silver users")
@dp.expect_all_or_drop(expectations)
def dimuser_stg():
    return spark.readStream.table("spotify_catalog.silver.dimuser")  # noqa: F821


dp.create_streaming_table(
    "spotify_catalog.gold.dim_user",
    comment="Users with plan history (SCD2)",
    table_properties={"pipelines.reset.allowed": "false"},  # a full refresh keeps the history
)

dp.create_auto_cdc_flow(
    target="spotify_catalog.gold.dim_user",
    source="spotify_catalog.gold.dimuser_stg",
    keys=["user_id"],
    sequence_by="updated_at",
    apply_as_deletes="_deleted",  # source deletes (ingest deletes: true)
    except_column_list=["_deleted"],
    stored_as_scd_type=2,
)
