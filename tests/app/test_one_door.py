"""One door (issue #29): every CLI command is a call on the application object, docs/api.md's
table lists them, and both faces behave alike — reading commands read (they work while another
process holds the run lock), and a failing mailbox never stops the others."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import textwrap

import click
import pytest

import alertproc
from alertproc.app.alertproc import Alertproc
from alertproc.cli import cli
from alertproc.config import imap_settings
from alertproc.errors import LockedError
from helpers import POLICY, ROOT, SAMPLE, app_of

TABLE = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def documented() -> dict[str, set[str]]:
    """docs/api.md's table: method name -> the CLI command paths it serves."""
    rows = {}
    for call, cli_cell in re.findall(r"^\| `(\w+)\(.*?\| ([^|]*) \|$", TABLE, re.M):
        rows[call] = set(re.findall(r"`([a-z][a-z -]*)`", cli_cell)) if "—" not in cli_cell else set()
    return rows


def commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    """Every command path of the CLI (a group that runs on its own, like `evidence`, counts too)."""
    found = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                found[path] = command
            found.update(commands(command, path + " "))
        else:
            found[path] = command
    return found


def calls_on_the_app(command: click.Command) -> set[str]:
    """The methods a command's function calls on the application object (``app.x()`` or ``Alertproc.x()``),
    its helpers in the same module included when it passes them the object."""
    function = inspect.unwrap(command.callback)
    module = sys.modules[function.__module__]
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    helpers = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
               and any(isinstance(a, ast.Name) and a.id == "app" for a in node.args)}
    for helper in helpers:
        tree.body.extend(ast.parse(textwrap.dedent(inspect.getsource(getattr(module, helper)))).body)
    return {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("app", "Alertproc")}


def public_methods() -> set[str]:
    """The object's methods, those it has from its parts in alertproc.app (Desk) included."""
    parts = [cls for cls in Alertproc.__mro__ if cls.__module__.startswith("alertproc.app")]
    return {name for cls in parts for name in vars(cls)
            if not name.startswith("_") and callable(getattr(Alertproc, name)) and not name.isupper()}


def test_every_method_is_in_the_table_and_every_command_too():
    table = documented()
    assert set(table) - {"open"} == public_methods()
    served = set().union(*table.values())
    assert set(commands()) <= served, f"commands missing from docs/api.md: {set(commands()) - served}"
    assert served <= set(commands()), f"docs/api.md names commands that do not exist: {served - set(commands())}"


@pytest.mark.parametrize("path", sorted(commands()))
def test_each_command_makes_its_calls_on_the_object(path):
    made = calls_on_the_app(commands()[path])
    meant = {method for method, paths in documented().items() if path in paths}
    assert made, f"`alertproc {path}` makes no call on the application object"
    assert made <= public_methods(), f"`alertproc {path}` calls {made - public_methods()}, not methods of Alertproc"
    assert meant <= made, f"docs/api.md says `alertproc {path}` calls {meant - made}; it does not"


def test_a_command_cannot_go_around_the_door():
    """The CLI imports nothing of alertproc but the foundation and the app (tests/app/test_architecture.py
    holds every module to its family); here: no command reads the config or opens the database itself."""
    source = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "alertproc" / "cli").glob("*.py"))
    assert "store.connect" not in source and "load_config(" in source  # the shared options load it once
    assert source.count("load_config(") == 1


LOCK_HOLDER = """
import sys, time
from alertproc.storage import lock
with lock.exclusive(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def loaded(tmp_path):
    with alertproc.open(tmp_path / "a.duckdb", archive=str(tmp_path / "archive"), report_dir=str(tmp_path / "out"),
                        policy=POLICY) as app:
        app.import_mail(SAMPLE / "mail", "eml")
        app.detect()
    return tmp_path


def test_reading_calls_read_while_another_process_holds_the_run_lock(loaded, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(loaded / "a.duckdb")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with alertproc.open(loaded / "a.duckdb", archive=str(loaded / "archive"), report_dir=str(loaded / "out"),
                            policy=POLICY, lock_wait=0) as app:
            assert app.findings("all") and app.status()["findings"]
            assert app.sql("select count(*) from events").fetchall()[0][0] > 300
            assert app.report(week="2026-W47").is_file()
            assert app.export("findings", tmp_path / "f.csv") > 0
            with pytest.raises(LockedError):
                app.detect()
            with pytest.raises(LockedError):
                app.triage(app.findings("all")[0]["finding_id"], "acknowledged", note="x")
    finally:
        holder.kill()
        holder.wait()


def test_a_failing_mailbox_never_stops_the_others_in_the_api(dovecot, tmp_path, settings):
    from helpers.dovecot import PASSWORD, USER
    from helpers.imap import append, scenario
    append(dovecot, [m for m in scenario() if m[0].endswith("refresh")][:5])
    good = imap_settings({"host": "127.0.0.1", "port": dovecot.port, "tls": "none", "username": USER,
                          "password_env": "P", "name": "good"}, "test")
    gone = imap_settings({"host": "127.0.0.1", "port": 9, "tls": "none", "username": USER, "password_env": "P",
                          "name": "gone"}, "test")
    app = app_of(settings, {"P": PASSWORD}, accounts=(gone, good))
    fetched = app.fetch()
    assert list(fetched.done) == ["good"] and fetched.done["good"].imported.new == 5
    assert list(fetched.failed) == ["gone"] and "127.0.0.1" in fetched.reasons()["gone"]
    summary = app.run(week="2026-W47")
    assert summary.failed.keys() == {"gone"} and [r.account for r in summary.fetched] == [good.account]
    status = app.sql("select status from runs where command = 'run'").fetchall()
    assert status == [("partial",)]
