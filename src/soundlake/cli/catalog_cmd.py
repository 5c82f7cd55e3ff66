"""``soundlake catalog``, ``describe``, ``restore``, ``maintain`` and ``lineage``: the catalog."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from soundlake.cli.common import check_format, console, format_option, open_project, print_json
from soundlake.core.text import plural
from soundlake.lake.maintenance import Maintained
from soundlake.project.catalog_ops import (
    CatalogEntry,
    TableInfo,
    catalog_entries,
    describe_table,
    restore_table,
)
from soundlake.project.lineage_ops import lineage_edges
from soundlake.project.maintain_ops import as_rows
from soundlake.project.maintain_ops import maintain as maintain_tables


def register(app: typer.Typer) -> None:
    """Add ``catalog``, ``describe``, ``restore``, ``maintain`` and ``lineage`` to ``app``."""

    @app.command("catalog")
    def catalog(
        pattern: str | None = typer.Argument(None, help="Glob over table names: gold.*, *dim_*, bronze.*"),
        fmt: str = format_option("table (a tree) or json"),
    ) -> None:
        """Catalogs, schemas and tables (streaming tables, views, quarantine, event log, bronze)."""
        check_format(fmt)
        entries = catalog_entries(open_project(), pattern)
        if fmt == "json":
            for entry in entries:
                print_json(entry)
            return
        if not entries:
            console.print(f"no table matches '{pattern}'" if pattern else "the catalog is empty")
            return
        console.print(_tree(entries))

    @app.command("describe")
    def describe(
        table: str = typer.Argument(..., help="Table name: catalog.schema.table, schema.table or table."),
        fmt: str = format_option(),
    ) -> None:
        """One table: kind, columns, expectations, properties, size, version, last update, lineage."""
        check_format(fmt)
        info = describe_table(open_project(), table)
        if fmt == "json":
            print_json(info.as_dict())
            return
        _print_info(info)


    @app.command("restore")
    def restore(
        table: str = typer.Argument(..., help="Table name: catalog.schema.table, schema.table or table."),
        version: int | None = typer.Option(None, "--version", min=0, help="The Delta version to restore."),
        timestamp: str | None = typer.Option(
            None, "--timestamp", help="Restore the last version committed at or before this time (UTC)."
        ),
        force: bool = typer.Option(False, "--force", help="Restore a table a pipeline writes (see the message)."),
    ) -> None:
        """Write a Delta RESTORE commit: the table's rows become those of an earlier version."""
        done = restore_table(open_project(), table, version=version, timestamp=timestamp, force=force)
        if not done.changed:
            console.print(Text(f"nothing to restore: {done.table} is at version {done.restored_version}"))
            return
        console.print(Text(
            f"restored {done.table} to version {done.restored_version} (new version {done.new_version}: "
            f"{plural(done.removed_files, 'file')} removed, {plural(done.restored_files, 'file')} restored)"
        ))
        if done.consequence:
            console.print(Text(f"note: {done.consequence}"))


    @app.command("maintain")
    def maintain(
        tables: list[str] | None = typer.Argument(None, help="Tables to maintain (default: every Delta table)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be rewritten and deleted; change nothing."),
        fmt: str = format_option(),
    ) -> None:
        """OPTIMIZE (compaction or Z-order) and VACUUM, as the tables' properties ask."""
        check_format(fmt)
        done = maintain_tables(open_project(), tables or (), dry_run=dry_run)
        if fmt == "json":
            for row in as_rows(done):
                print_json(row)
            return
        console.print(_maintained_table(done, dry_run=dry_run))

    @app.command("lineage")
    def lineage(
        name: str = typer.Argument(..., help="A dataset (gold.dim_user) or one of its columns (gold.dim_user.user_name)."),
        downstream: bool = typer.Option(False, "--downstream", help="What is computed from it (default: --upstream)."),
        upstream: bool = typer.Option(False, "--upstream", help="What it is computed from, down to the source database."),
        fmt: str = format_option("text, json or dot"),
    ) -> None:
        """Column-level lineage through every flow, down to the source database's columns."""
        check_format(fmt, ("text", "json", "dot", "table"))
        if downstream and upstream:
            raise typer.BadParameter("give --upstream or --downstream, not both")
        edges = lineage_edges(open_project(), name, downstream=downstream)
        if fmt == "json":
            for edge in edges:
                print_json(edge)
        elif fmt == "dot":
            typer.echo("digraph lineage {\n  rankdir=LR;")
            for edge in edges:
                typer.echo(f"  {json.dumps(edge.source)} -> {json.dumps(edge.column)} [label={json.dumps(edge.flow)}];")
            typer.echo("}")
        elif not edges:
            console.print(Text(f"{name}: no {'downstream' if downstream else 'upstream'} columns"))
        else:
            for edge in edges:
                arrow = f"{edge.source}  ->  {edge.column}" if downstream else f"{edge.column}  <-  {edge.source}"
                console.print(Text(f"{arrow}   ({edge.flow})"))


def _maintained_table(done: list[Maintained], *, dry_run: bool) -> Table:
    table = Table(title="maintenance (dry run: nothing changed)" if dry_run else "maintenance")
    for column in ("table", "files", "optimize", "vacuum", "kept versions", "note"):
        table.add_column(column)
    for item in done:
        files = f"{item.files_before}" if dry_run else f"{item.files_before} -> {item.files_after}"
        optimize = f"{item.optimized}: {plural(item.rewritten_files, 'file')}" if item.optimized else "-"
        table.add_row(item.table, files, optimize, plural(len(item.vacuumed), "file"),
                      str(item.kept_versions or "-"), item.skipped)
    return table


def _tree(entries: list[CatalogEntry]) -> Tree:
    root = Tree(Text("catalog"))
    nodes: dict[str, Tree] = {}
    for entry in entries:
        parts = entry.name.split(".")
        parent = root
        for depth in range(len(parts) - 1):
            key = ".".join(parts[: depth + 1])
            if key not in nodes:
                nodes[key] = parent.add(Text(parts[depth]))
            parent = nodes[key]
        parent.add(Text(f"{parts[-1]}  ({entry.kind})"))
    return root


def _print_info(info: TableInfo) -> None:
    console.print(Text(f"{info.name}  ({info.kind})"))
    facts = [
        ("comment", info.comment),
        ("location", info.location or "not stored (computed when read)"),
        ("defined at", info.defined_at),
        ("rows", None if info.rows is None else f"{info.rows:,}"),
        ("files", None if info.files is None else f"{plural(info.files, 'file')}, {info.size_bytes or 0:,} bytes"),
        ("Delta version", info.version),
        ("partitioned by", ", ".join(info.partitioned_by) or None),
        ("clustered by", ", ".join(info.clustered_by) or None),
        ("last update", " ".join(f"{k}={v}" for k, v in info.last_update.items() if v) or None),
        ("written by", ", ".join(info.written_by) or None),
        ("read by", ", ".join(info.read_by) or None),
    ]
    for label, value in facts:
        if value is not None and value != "":
            console.print(Text(f"  {label}: {value}"))
    if info.columns:
        columns = Table("column", "type", "nullable", "comment", title="columns", title_justify="left")
        for c in info.columns:
            columns.add_row(c.name, c.data_type, "yes" if c.nullable else "no", c.comment or "")
        console.print(columns)
    if info.expectations:
        rules = Table("expectation", "condition", "on violation", title="expectations", title_justify="left")
        for rule in info.expectations:
            rules.add_row(rule["name"], rule["condition"], rule["action"])
        console.print(rules)
    if info.properties:
        props = Table("property", "value", title="table properties", title_justify="left")
        for key, value in sorted(info.properties.items()):
            props.add_row(key, value)
        console.print(props)
