"""``alertproc sql``, ``export`` and ``rules``: the commands for people who work with the data."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import duckdb

from ..app.alertproc import Alertproc
from ..config import is_shipped
from ..errors import ConfigError, DatabaseError
from .common import DAY, EXIT_FAILURE, EXIT_USAGE, cli, settings_options


def origin(path: Path, overrides: Path | None) -> str:
    """Where a rule or format comes from, for ``list``: shipped, or the user's file and what it replaces."""
    where = "shipped" if is_shipped(path) else str(path)
    return where + (f", overrides {'shipped ' + overrides.name if is_shipped(overrides) else overrides}"
                    if overrides else "")


def show_rows(app: Alertproc, relation, fmt: str, out: Path | None, keep_formulas: bool = False) -> None:
    """Print a query's result, or save it to ``out``."""
    if relation is None:
        click.echo("ok")
        return
    text, rows = app.save_rows(relation, fmt, out, keep_formulas)
    if out:
        click.echo(f"wrote {rows} rows to {out}", err=True)
    else:
        click.echo(text, nl=False)


PROMPT_HELP = """end a statement with ';' (it may span lines); Ctrl-C drops the statement being typed,
Ctrl-D (or .quit) leaves.
  .tables          the tables and views (docs/schema.md describes them)
  .schema NAME     the columns of one
  .queries         the canned queries (run them with `alertproc sql -q NAME`)
  help             this text"""


def repl(app: Alertproc, fmt: str, allow_files: bool) -> None:
    """A small read-only SQL prompt: statements end with ';'; a few dot commands, as in the
    duckdb shell; Ctrl-C drops the statement being typed, Ctrl-D or .quit leaves."""
    click.echo("read-only SQL on the alertproc database; `help` for help, Ctrl-D to quit", err=True)
    buffer = ""
    while True:
        try:
            line = input("alertproc> " if not buffer else "      ...> ")
        except EOFError:
            click.echo("", err=True)
            return
        except KeyboardInterrupt:
            click.echo("\n(statement dropped; Ctrl-D or .quit leaves)", err=True)
            buffer = ""
            continue
        if not buffer and _dot_command(app, line.strip(), fmt):
            if line.strip().rstrip(";") in (".quit", ".exit", "quit", "exit"):
                return
            continue
        buffer += line + "\n"
        if buffer.strip().endswith(";"):
            try:
                show_rows(app, app.sql(buffer, allow_files=allow_files), fmt, None)
            except duckdb.Error as exc:
                click.echo(f"error: {str(exc).strip()}", err=True)
            except KeyboardInterrupt:
                click.echo("(cancelled)", err=True)
            buffer = ""


def _dot_command(app: Alertproc, line: str, fmt: str) -> bool:
    """Answer a prompt command that is not SQL; False when ``line`` is SQL."""
    word, _, rest = line.rstrip(";").partition(" ")
    if word in (".quit", ".exit", "quit", "exit"):
        return True
    if word in ("help", ".help", "?"):
        click.echo(PROMPT_HELP)
    elif word == ".tables":
        show_rows(app, app.sql("select table_name as name, lower(table_type) as kind from information_schema.tables "
                               "where table_schema = 'main' order by table_type, table_name"), fmt, None)
    elif word == ".schema" and rest.strip():
        show_rows(app, app.sql("select column_name, data_type from information_schema.columns "
                               "where table_schema = 'main' and table_name = $name order by ordinal_position",
                               {"name": rest.strip()}), fmt, None)
    elif word == ".queries":
        for item in app.queries().values():
            click.echo(f"{item.name}: {item.description}")
    elif word.startswith("."):
        click.echo(f"unknown command {word}; `help` lists the commands", err=True)
    else:
        return False
    return True


@cli.command()
@click.argument("query", required=False)
@click.option("-f", "--file", "query_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the query from a .sql file.")
@click.option("--query", "-q", "canned_name", help="Run a canned query from rules/queries/ by name.")
@click.option("--param", "-p", "params", multiple=True, help="A canned query parameter, name=value (repeatable).")
@click.option("--list", "list_queries", is_flag=True, help="List the canned queries and their parameters.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "markdown", "xlsx"]), default="table",
              show_default=True, help="xlsx needs --out.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the result to a file.")
@click.option("--allow-files", is_flag=True, help="Let the query read and write files (COPY, read_csv, ...) "
                                                   "and load extensions; off by default.")
@click.option("--keep-formulas", is_flag=True, help="--format csv or xlsx: write text starting with = + - @ as it is "
                                                     "(a spreadsheet may run it as a formula).")
@settings_options
def sql(app: Alertproc, query: str | None, query_file: Path | None, canned_name: str | None, params: tuple[str, ...],
        list_queries: bool, fmt: str, out: Path | None, allow_files: bool, keep_formulas: bool) -> None:
    """Query the database read-only: SQL text, a .sql file, a canned query, or a prompt.

    Tables and views are documented in docs/schema.md; canned queries live in
    rules/queries/ (add your own) and are described in docs/queries.md. Without a query,
    SQL is read from standard input, or from a prompt on a terminal. A query sees the
    database only: no files, no network, no extensions to install, unless --allow-files.

    \b
    Example:
      alertproc sql "select rule_id, count(*) from findings group by 1"
      alertproc sql --format csv --out refreshes.csv "select * from refreshes"
      alertproc sql --query asp-activity -p gstin=27AAPFU0939F1ZV -p since=01-07-2026 -p until=30-09-2026
      alertproc sql -f my-question.sql --format markdown
      alertproc sql --query weekly-trend --format xlsx --out trend.xlsx
    """
    if list_queries:
        for item in app.queries().values():
            click.echo(f"{item.name}: {item.description}")
            click.echo(f"    params: {', '.join(item.params) or 'none'}  ({item.path})")
        return
    values = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep:
            raise ConfigError(f"--param '{param}' must look like name=value")
        if name.strip() in values:
            raise ConfigError(f"--param {name.strip()} is given twice; give each parameter once")
        values[name.strip()] = value
    if fmt == "xlsx" and not out:
        raise ConfigError("--format xlsx writes a file: add --out NAME.xlsx")
    if out:
        app.check_output(out, fmt)
    try:
        if canned_name:
            relation = app.query(canned_name, values, allow_files=allow_files)
        elif query or query_file:
            relation = app.sql(query if query else query_file.read_text(encoding="utf-8"), allow_files=allow_files)
        elif sys.stdin.isatty():
            repl(app, fmt, allow_files)
            return
        else:
            relation = app.sql(sys.stdin.read(), allow_files=allow_files)
        show_rows(app, relation, fmt, out, keep_formulas)
    except duckdb.Error as exc:
        raise DatabaseError(str(exc).strip()) from exc


@cli.command("export")
@click.argument("what", type=click.Choice(["findings", "events", "lake"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json", "parquet"]),
              help="File format for findings and events [default: csv].")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output file; for `lake`, a folder.")
@click.option("--since", type=DAY, help="First day (IST), e.g. 01-11-2026; use with --until.")
@click.option("--until", type=DAY, help="Last day (IST), inclusive.")
@click.option("--keep-formulas", is_flag=True, help="CSV/XLSX: write text starting with = + - @ as it is "
                                                     "(by default it gets a leading ' so no spreadsheet runs it).")
@settings_options
def export_(app: Alertproc, what: str, fmt: str | None, out: Path, since, until,
            keep_formulas: bool) -> None:
    """Export findings or events as CSV, XLSX, JSON lines or Parquet, or everything as a lake.

    Times are given in UTC and, in *_ist columns, in IST. CSV, JSON and Parquet are written
    by DuckDB directly and XLSX is streamed, so a million events do not fill memory.

    `export lake` adds events, messages and findings to a folder of Hive-partitioned Parquet
    (events/month=2026-11/...) that Spark, Trino or DuckDB read. Only rows the lake lacks are
    written, as new files; existing files are never rewritten. See docs/scale.md.

    \b
    Example:
      alertproc export findings --format xlsx --out findings.xlsx
      alertproc export events --format parquet --out events.parquet --since 01-10-2026 --until 31-12-2026
      alertproc export lake --out /data/gst-lake
    """
    if what == "lake":
        if fmt or since or until:
            raise ConfigError("export lake writes everything the lake lacks as Parquet: drop --format, --since and --until")
        written = app.export_lake(out)
        click.echo(f"lake {written.lake}: " + ", ".join(
            f"{table} +{written.rows[table]} rows in {written.files[table]} new file(s)" for table in written.rows))
        return
    rows = app.export(what, out, fmt or "csv", since, until, keep_formulas=keep_formulas)
    click.echo(f"wrote {rows} {what} to {out}")


@cli.group()
def rules() -> None:
    """List the detection rules, or run their fixture scenarios.

    \b
    Example:
      alertproc rules list
      alertproc rules test --rules ./rules
    """


@rules.command("list")
@settings_options
def rules_list(app: Alertproc) -> None:
    """List every rule: id, severity, title and file. Broken rule files are reported.

    \b
    Example:
      alertproc rules list --rules ./my-rules
    """
    found, problems = app.rules()
    width = max((len(r.id) for r in found), default=10)
    for rule in found:
        click.echo(f"{rule.id:<{width}}  {rule.severity:<6}  {rule.title}  ({origin(rule.path, rule.overrides)})")
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(EXIT_USAGE)


@rules.command("test")
@click.option("--tests", "tests_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of scenario files [default: <rules>/tests].")
@settings_options
def rules_test(app: Alertproc, tests_dir: Path | None) -> None:
    """Run every rule's fixture scenarios (events in, expected findings out).

    Scenario files live in rules/tests/ (format: rules/tests/README.md). Exit 1 if any
    scenario fails.

    \b
    Example:
      alertproc rules test
    """
    results, found, problems = app.test_rules(tests_dir)
    for result in results:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.rule_id}: {result.name}")
        if not result.ok:
            click.echo(f"     {result.where}: {result.message}")
    tested = {r.rule_id for r in results}
    for rule in found:
        if rule.id not in tested:
            click.echo(f"warning: rule {rule.id} has no scenarios ({rule.path})", err=True)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    failed = sum(not r.ok for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed or problems:
        sys.exit(EXIT_FAILURE)


