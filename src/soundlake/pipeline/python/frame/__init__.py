"""A PySpark-compatible DataFrame API that builds Spark SQL (no engine code).

Python dataset functions run against it on engines without their own DataFrame API: each
call builds a sqlglot expression, and the flow runs the resulting Spark SQL on the engine
like any SQL flow.
"""
