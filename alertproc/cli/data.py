"""``alertproc sql``, ``export`` and ``rules``: the commands for people who work with the data."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import pipeline
from ..storage import store
from ..audit.canned import load_queries, run as run_canned
from .common import EXIT_FAILURE, EXIT_USAGE, cli, loaded_config, printable, settings_options
from ..errors import ConfigError
from ..outputs.export import export as export_rows
from ..outputs.files import check_data_file, check_target, code_and_config, neutralised, protected_paths, replacing
from ..period import choose_period
from ..audit.rulestest import run_rule_tests
from ..audit.layers import is_shipped, rules_of, sub_dirs


def origin(path: Path, overrides: Path | None) -> str:
    """Where a rule or format comes from, for ``list``: shipped, or the user's file and what it replaces."""
    where = "shipped" if is_shipped(path) else str(path)
    return where + (f", overrides {'shipped ' + overrides.name if is_shipped(overrides) else overrides}"
                    if overrides else "")


def write_relation(relation, fmt: str, out: Path | None, protected: list[Path] = (),
                   keep_formulas: bool = False) -> None:
    """Print or save a query result as a table, CSV, JSON or Markdown (see alertproc.outputs.files)."""
    if relation is None:
        click.echo("ok")
        return
    frame = relation.df()
    if fmt == "table" and frame.empty:
        text = printable(f"(no rows; columns: {', '.join(map(str, frame.columns))})\n")
    elif fmt == "table":
        text = printable(frame.to_string(index=False, max_colwidth=80) + "\n")
    elif fmt == "csv":
        if not keep_formulas:  # column names too: `select 1 as "=cmd|..."` names a header cell
            frame = frame.map(neutralised).rename(columns=lambda name: neutralised(str(name)))
        text = frame.to_csv(index=False)
    elif fmt == "markdown":
        text = printable(frame.to_markdown(index=False) + "\n")
    else:
        text = frame.to_json(orient="records", date_format="iso") + "\n"
    if out:
        with replacing(out, list(protected)) as temporary:
            temporary.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(frame)} rows to {out}", err=True)
    else:
        click.echo(text, nl=False)


def repl(con, fmt: str) -> None:
    """A small read-only SQL prompt: statements end with ';', an empty line or Ctrl-D quits."""
    click.echo("read-only SQL on the alertproc database; end statements with ';', Ctrl-D to quit", err=True)
    buffer = ""
    while True:
        try:
            line = input("alertproc> " if not buffer else "      ...> ")
        except EOFError:
            click.echo("", err=True)
            return
        buffer += line + "\n"
        if buffer.strip().endswith(";"):
            try:
                write_relation(con.sql(buffer), fmt, None)
            except store.duckdb.Error as exc:
                click.echo(f"error: {exc}", err=True)
            buffer = ""


@cli.command()
@click.argument("query", required=False)
@click.option("-f", "--file", "query_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the query from a .sql file.")
@click.option("--query", "-q", "canned_name", help="Run a canned query from rules/queries/ by name.")
@click.option("--param", "-p", "params", multiple=True, help="A canned query parameter, name=value (repeatable).")
@click.option("--list", "list_queries", is_flag=True, help="List the canned queries and their parameters.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "markdown"]), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the result to a file.")
@click.option("--allow-files", is_flag=True, help="Let the query read and write files (COPY, read_csv, ...) "
                                                   "and load extensions; off by default.")
@click.option("--keep-formulas", is_flag=True, help="--format csv: write text starting with = + - @ as it is "
                                                     "(a spreadsheet may run it as a formula).")
@settings_options
def sql(settings, query: str | None, query_file: Path | None, canned_name: str | None, params: tuple[str, ...],
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
      alertproc sql --query asp-activity -p gstin=27AAPFU0939F1ZV -p since=2026-07-01 -p until=2026-09-30
      alertproc sql -f my-question.sql --format markdown
    """
    canned = load_queries(sub_dirs(settings, "queries"))
    if list_queries:
        for item in canned.values():
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
    if canned_name and canned_name not in canned:
        raise ConfigError(f"no canned query '{canned_name}' (see `alertproc sql --list`)")
    protected = protected_paths(settings.db, settings.archive) + code_and_config(settings, loaded_config().path)
    if out:
        check_target(out, protected)
        check_data_file(out, fmt)
    con = store.connect(settings.db, read_only=True, sandboxed=not allow_files)
    try:
        if canned_name:
            relation = run_canned(con, canned[canned_name], values)
        elif query or query_file:
            relation = con.sql(query if query else query_file.read_text(encoding="utf-8"))
        elif sys.stdin.isatty():
            repl(con, fmt)
            return
        else:
            relation = con.sql(sys.stdin.read())
        write_relation(relation, fmt, out, protected, keep_formulas)
    except store.duckdb.Error as exc:
        raise store.DatabaseError(str(exc).strip()) from exc
    finally:
        con.close()


@cli.command("export")
@click.argument("what", type=click.Choice(["findings", "events", "lake"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json", "parquet"]),
              help="File format for findings and events [default: csv].")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output file; for `lake`, a folder.")
@click.option("--since", help="First day (IST), e.g. 2026-11-01; use with --until.")
@click.option("--until", help="Last day (IST), inclusive.")
@click.option("--keep-formulas", is_flag=True, help="CSV/XLSX: write text starting with = + - @ as it is "
                                                     "(by default it gets a leading ' so no spreadsheet runs it).")
@settings_options
def export_(settings, what: str, fmt: str | None, out: Path, since: str | None, until: str | None,
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
      alertproc export events --format parquet --out events.parquet --since 2026-10-01 --until 2026-12-31
      alertproc export lake --out /data/gst-lake
    """
    if what == "lake":
        if fmt or since or until:
            raise ConfigError("export lake writes everything the lake lacks as Parquet: drop --format, --since and --until")
        written = pipeline.export_lake_job(settings, out)
        click.echo(f"lake {written.lake}: " + ", ".join(
            f"{table} +{written.rows[table]} rows in {written.files[table]} new file(s)" for table in written.rows))
        return
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name, e.g. {out / (what + '.' + (fmt or 'csv'))}")
    period = choose_period(None, since, until) if (since or until) else None
    con = store.connect(settings.db, read_only=True)
    try:
        rows = export_rows(con, what, fmt or "csv", out, period, keep_formulas=keep_formulas,
                           protected=protected_paths(settings.db, settings.archive))
    finally:
        con.close()
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
def rules_list(settings) -> None:
    """List every rule: id, severity, title and file. Broken rule files are reported.

    \b
    Example:
      alertproc rules list --rules ./my-rules
    """
    found, problems = rules_of(settings)
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
def rules_test(settings, tests_dir: Path | None) -> None:
    """Run every rule's fixture scenarios (events in, expected findings out).

    Scenario files live in rules/tests/ (format: rules/tests/README.md). Exit 1 if any
    scenario fails.

    \b
    Example:
      alertproc rules test
    """
    found, problems = rules_of(settings)
    results = run_rule_tests(found, [tests_dir] if tests_dir else sub_dirs(settings, "tests"), settings.disabled_rules)
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


