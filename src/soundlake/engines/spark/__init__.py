"""Spark engine: PySpark with delta-spark."""
