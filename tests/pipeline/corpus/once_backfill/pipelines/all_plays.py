import dlt

dlt.create_streaming_table("all_plays", comment="archived plays (backfilled once) and live plays")


@dlt.append_flow(target="all_plays", once=True)
def backfill_archive():
    return spark.read.format("parquet").load(spark.conf.get("archive_path")).select("id", "user_id", "seconds")


@dlt.append_flow(target="all_plays")
def live_plays():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "parquet")
        .load(spark.conf.get("plays_path"))
        .select("id", "user_id", "seconds")
    )
