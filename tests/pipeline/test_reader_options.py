"""File reading on the DuckDB engine: reader options, hidden _metadata, Hadoop globs (issue 14)."""

from __future__ import annotations

import pytest

from soundlake.core.errors import DefinitionError
from soundlake.lake import delta
from tests.pipeline.conftest import Lakehouse


def _table(lh: Lakehouse, read: str, select: str = "*") -> None:
    lh.sql(f"CREATE OR REFRESH STREAMING TABLE raw\nAS SELECT {select} FROM STREAM {read};\n")


def _dry_run_error(lh: Lakehouse) -> str:
    from soundlake.project.pipeline_ops import dry_run

    with pytest.raises(DefinitionError) as info:
        dry_run(lh.project)
    return str(info.value)


def test_full_schema_gives_declared_types_and_no_rescued_column(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in', format => 'csv', header => 'true', schema => 'id INT, name STRING')")
    lakehouse.text("in", "a.csv", "id,name\n1,x\n2,y\n")
    result = lakehouse.run()
    assert result.ok, result.errors
    schema = delta.table_schema(lakehouse.project.lake.uri("main", "silver", "raw"))
    assert schema is not None
    assert [(f.name, str(f.type)) for f in schema] == [("id", "int32"), ("name", "string")]
    assert lakehouse.rows("SELECT id, name FROM raw ORDER BY id") == [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]


def test_csv_header_defaults_to_false_as_in_spark(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in', format => 'csv')")
    lakehouse.text("in", "a.csv", "1,x\n2,y\n")
    assert lakehouse.run().ok
    assert lakehouse.rows("SELECT _c0, _c1 FROM raw ORDER BY _c0") == [{"_c0": 1, "_c1": "x"}, {"_c0": 2, "_c1": "y"}]


def test_csv_null_value_and_quote_are_applied(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in', format => 'csv', header => 'true', nullValue => 'NA', quote => \"'\")")
    lakehouse.text("in", "a.csv", "id,name\n1,NA\n2,NULL\n3,'a,b'\n")
    assert lakehouse.run().ok
    assert lakehouse.rows("SELECT id, name FROM raw ORDER BY id") == [
        {"id": 1, "name": None}, {"id": 2, "name": "NULL"}, {"id": 3, "name": "a,b"},
    ]


@pytest.mark.parametrize("option", ["dateFormat => 'dd/MM/yyyy'", "mode => 'FAILFAST'", "heder => 'true'"])
def test_unsupported_option_fails_dry_run_naming_option_and_line(lakehouse: Lakehouse, option: str) -> None:
    _table(lakehouse, f"read_files('${{data}}/in', format => 'csv', {option})")
    lakehouse.text("in", "a.csv", "1\n")
    message = _dry_run_error(lakehouse)
    assert option.split(" ")[0] in message and "p.sql:1" in message and "\n" not in message


def test_option_at_its_spark_default_and_no_effect_options_are_accepted(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in', format => 'csv', mode => 'permissive', "
                      "`cloudFiles.useNotifications` => 'true', HEADER => 'true')")
    lakehouse.text("in", "a.csv", "id\n1\n")
    assert lakehouse.run().ok
    assert lakehouse.rows("SELECT id FROM raw") == [{"id": 1}]


def test_python_reader_refuses_an_ignored_option_at_definition() -> None:
    from soundlake.pipeline.python.frame.session import PipelineSession

    reader = PipelineSession().readStream.format("cloudFiles").option("cloudFiles.format", "csv")
    with pytest.raises(DefinitionError, match="timestampFormat"):
        reader.option("timestampFormat", "dd/MM/yyyy HH:mm").load("/data/in")


def test_python_reader_schema_is_applied() -> None:
    from soundlake.pipeline.autoloader import FileSourceOptions

    options = FileSourceOptions.parse({"format": "csv", "schema": "struct<id:int,name:string>"}, "/data/in")
    assert options.schema is not None and str(options.schema.field("id").type) == "int32"
    assert options.rescued_column is None


def test_metadata_is_not_expanded_by_star(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in', format => 'json')", select="*, _metadata.file_name AS source")
    lakehouse.text("in", "a.json", '{"id": 1}\n')
    assert lakehouse.run().ok
    schema = delta.table_schema(lakehouse.project.lake.uri("main", "silver", "raw"))
    assert schema is not None and "_metadata" not in schema.names
    assert lakehouse.rows("SELECT id, source FROM raw") == [{"id": 1, "source": "a.json"}]


def test_input_file_name_is_refused(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in', format => 'json')", select="*, input_file_name() AS f")
    assert "_metadata.file_path" in _dry_run_error(lakehouse)


def test_glob_selects_files_as_hadoop_does(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in/{a,b}[0-9].json', format => 'json')")
    for name, i in (("a1.json", 1), ("b2.json", 2), ("c3.json", 3), ("a10.json", 10), ("sub/a4.json", 4)):
        lakehouse.text("in", name, f'{{"id": {i}}}\n')
    assert lakehouse.run().ok
    assert lakehouse.rows("SELECT id FROM raw ORDER BY id") == [{"id": 1}, {"id": 2}]


def test_glob_star_matches_directories_and_their_files(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in/2024-*', format => 'json')")
    lakehouse.text("in", "2024-01/a.json", '{"id": 1}\n')
    lakehouse.text("in", "2024-02/x/b.json", '{"id": 2}\n')
    lakehouse.text("in", "2023-12/c.json", '{"id": 3}\n')
    assert lakehouse.run().ok
    assert lakehouse.rows("SELECT id FROM raw ORDER BY id") == [{"id": 1}, {"id": 2}]


def test_path_matching_nothing_on_first_run_is_an_error(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in/*.csv', format => 'csv')")
    lakehouse.text("in", "a.json", '{"id": 1}\n')
    result = lakehouse.run()
    assert not result.ok
    message = result.errors["main.silver.raw"]
    assert "*.csv" in message and "no files match" in message


def test_hive_partition_folder_is_refused_not_dropped(lakehouse: Lakehouse) -> None:
    _table(lakehouse, "read_files('${data}/in', format => 'csv', header => 'true')")
    lakehouse.text("in", "flag=true/a.csv", "id\n1\n")
    result = lakehouse.run()
    assert not result.ok
    assert "flag" in result.errors["main.silver.raw"]
