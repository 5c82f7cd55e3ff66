"""Loading tutorial-format SQL scripts: upsert by key, errors that name file and line."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from soundlake.core.errors import SourceError
from soundlake.demo.loadsql import load_sql_files, parse_file
from soundlake.source.db import content_hash, read_rows, table_counts


def _tutorial_files(tutorial_dir: Path) -> list[Path]:
    return [tutorial_dir / "spotify_initial_load.sql", tutorial_dir / "spotify_incremental_load.sql"]


def test_both_tutorial_files_load_with_upsert_semantics(db_url: str, tutorial_dir: Path) -> None:
    result = load_sql_files(db_url, _tutorial_files(tutorial_dir))
    assert table_counts(db_url) == {"DimUser": 500, "DimArtist": 500, "DimTrack": 500, "DimDate": 365,
                                    "FactStream": 1000}
    assert result.rows == {"DimUser": 570, "DimArtist": 550, "DimTrack": 550, "DimDate": 365, "FactStream": 1300}
    assert result.ignored_statements == 10  # 5 DROP + 5 CREATE
    user = read_rows(db_url, "DimUser", [379])[379]
    assert user["subscription_type"] == "Premium"
    assert user["updated_at"] == datetime(2025, 10, 7, 19, 49, 56)
    # user 44 appears twice in the incremental file: the later row wins
    user44 = read_rows(db_url, "DimUser", [44])[44]
    assert (user44["user_name"], user44["subscription_type"]) == ("Michael Wood", "Premium")
    assert user44["start_date"] == date(2024, 5, 5)


def test_sqlite_and_postgres_hold_identical_rows(sqlite_url: str, pg_url: str, tutorial_dir: Path) -> None:
    for url in (sqlite_url, pg_url):
        load_sql_files(url, _tutorial_files(tutorial_dir))
    assert content_hash(sqlite_url) == content_hash(pg_url)


def test_initial_file_alone_and_quotes(sqlite_url: str, tutorial_dir: Path) -> None:
    load_sql_files(sqlite_url, [tutorial_dir / "spotify_initial_load.sql"])
    assert read_rows(sqlite_url, "DimUser", [379])[379]["subscription_type"] == "Family"
    assert read_rows(sqlite_url, "DimUser", [39])[39]["country"] == "Lao People's Democratic Republic"


def test_drop_in_a_script_never_drops_existing_rows(sqlite_url: str, tmp_path: Path) -> None:
    first = tmp_path / "a.sql"
    first.write_text("INSERT INTO DimArtist (artist_id, artist_name) VALUES (1, 'A');\n")
    second = tmp_path / "b.sql"
    second.write_text("DROP TABLE IF EXISTS DimArtist;\nCREATE TABLE DimArtist (artist_id INT PRIMARY KEY);\n"
                      "INSERT INTO DimArtist (artist_id, artist_name) VALUES (2, 'B');\n")
    load_sql_files(sqlite_url, [first])
    load_sql_files(sqlite_url, [second])
    assert sorted(read_rows(sqlite_url, "DimArtist")) == [1, 2]


def test_tokenizer_handles_dialect_variants(sqlite_url: str, tmp_path: Path) -> None:
    script = tmp_path / "variants.sql"
    script.write_text(
        "/* block\n comment; with semicolon */\n"
        "INSERT INTO [dbo].[DimArtist] ([artist_id], [artist_name], genre) VALUES\n"
        "  (1, N'Sigur R''os; live', 'Rock'),  -- trailing comment\n"
        "  (2, 'Two', NULL);\n"
        "GO\n"
        'insert into "DimArtist" (artist_id, artist_name) values (1, \'Replaced\');\n'
    )
    result = load_sql_files(sqlite_url, [script])
    rows = read_rows(sqlite_url, "DimArtist")
    # an upsert replaces the columns it names and keeps the others
    assert rows[1]["artist_name"] == "Replaced" and rows[1]["genre"] == "Rock"
    assert rows[2]["genre"] is None
    assert rows[2]["artist_name"] == "Two"
    assert result.rows["DimArtist"] == 3


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("\n\nUPDATE DimUser SET user_name = 'x';\n", 3, "unsupported statement 'UPDATE'"),
        ("INSERT INTO Nope (a) VALUES (1);", 1, "unknown table 'Nope'"),
        ("INSERT INTO DimUser (user_id, shoe) VALUES (1, 2);", 1, "unknown column 'shoe'"),
        ("\nINSERT INTO DimUser (user_id, start_date) VALUES (1, 'not a date');", 2, "DimUser.start_date"),
        ("INSERT INTO DimUser (user_id, user_name) VALUES (1);", 1, "1 values for 2 columns"),
        ("INSERT INTO DimUser (user_name) VALUES ('x');", 1, "lacks the key column user_id"),
        ("INSERT INTO DimUser (user_id) VALUES (NULL);", 1, "NULL primary key"),
        ("INSERT INTO DimUser (user_id) VALUES ('abc');", 1, "DimUser.user_id"),
        ("INSERT INTO DimUser (user_id, user_name) VALUES (1, 'open);", 1, "unterminated string"),
    ],
    ids=["update", "unknown-table", "unknown-column", "bad-date", "too-few-values", "no-key", "null-key",
         "bad-int", "unterminated"],
)
def test_bad_statements_name_file_and_line(sqlite_url: str, tmp_path: Path, text: str, line: int,
                                           message: str) -> None:
    script = tmp_path / "bad.sql"
    script.write_text(text)
    with pytest.raises(SourceError) as info:
        load_sql_files(sqlite_url, [script])
    assert f"{script}:{line}:" in str(info.value)
    assert message in str(info.value)


def test_a_bad_file_loads_nothing(sqlite_url: str, tmp_path: Path, tutorial_dir: Path) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text("INSERT INTO DimUser (user_id) VALUES (1);\nDELETE FROM DimUser;\n")
    with pytest.raises(SourceError, match="bad.sql:2"):
        load_sql_files(sqlite_url, [tutorial_dir / "spotify_initial_load.sql", bad])
    assert sum(table_counts(sqlite_url).values()) == 0


def test_missing_file_is_a_source_error(sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read SQL file"):
        load_sql_files(sqlite_url, [tmp_path / "absent.sql"])


def test_parse_counts_statements(tutorial_dir: Path) -> None:
    batches, ignored = parse_file(tutorial_dir / "spotify_incremental_load.sql")
    assert ignored == 0
    assert sum(len(b.rows) for b in batches) == 470
