"""What a careless user or an attacker can do with alertproc's inputs and outputs (issue #22):
each defect found by the black-box probe, as a test that failed on the code before its fix."""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from alertproc.cli import cli
from alertproc.errors import AlertprocError
from alertproc.storage import published
from helpers import POLICY_OPTION, ROOT, SAMPLE

HOSTILE_ASP = '=HYPERLINK("http://evil.example/x","Revoke")'


def sms_export(path: Path, asp: str) -> Path:
    body = (f"OTP consent for API access to GSTIN 27AAPFU0939F1ZV given to ASP {asp} via GSP Example GSP Ltd on "
            "03-11-2026 11:00:00, valid till 03-12-2026 11:00:00. -GSTN").replace("&", "&amp;").replace('"', "&quot;")
    path.write_text("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"1\">\n"
                    f'  <sms protocol="0" address="JD-GSTIND" date="1793683800000" type="1" body="{body}" />\n</smses>\n')
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder with a database holding the sample and a consent by a hostile ASP name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALERTPROC_DB", raising=False)
    runner = CliRunner()
    done = runner.invoke(cli, ["run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47", *POLICY_OPTION,
                               "--sms", str(sms_export(tmp_path / "sms.xml", HOSTILE_ASP))])
    assert done.exit_code == 0, done.output
    return tmp_path


class Done:
    """What the command line's ``main`` would show: its exit code and output, error line included."""

    def __init__(self, result):
        error = result.exception if isinstance(result.exception, AlertprocError) else None
        self.exit_code = error.exit_code if error else result.exit_code
        self.output = result.output + (f"alertproc: error: {error}" if error else "")


def invoke(*args) -> Done:
    return Done(CliRunner().invoke(cli, list(args)))


# --- 1. outputs never replace what alertproc keeps, nor anything but a regular file ----------

@pytest.mark.parametrize("command", [
    ["sql", "--out", "alertproc.duckdb", "select 1"],
    ["report", "--week", "2026-W47", "--out", "alertproc.duckdb"],
    ["export", "findings", "--out", "alertproc.duckdb"],
    ["export", "events", "--format", "xlsx", "--out", "alertproc.duckdb.lock"],
])
def test_an_output_never_replaces_the_database_or_its_lock(workdir, command):
    before = (workdir / "alertproc.duckdb").read_bytes()
    done = invoke(*command)
    assert done.exit_code == 2 and "which alertproc keeps" in done.output
    assert (workdir / "alertproc.duckdb").read_bytes() == before


def test_an_output_never_goes_into_the_archive(workdir):
    stored = next((workdir / "archive").rglob("*.eml"))
    done = invoke("sql", "--out", str(stored), "select 1")
    assert done.exit_code == 2 and stored.read_bytes().startswith(b"") and stored.stat().st_size > 10


def test_outputs_refuse_fifos_devices_and_symlinks(workdir):
    os.mkfifo(workdir / "pipe")
    victim = workdir / "victim.txt"
    victim.write_text("keep me")
    (workdir / "link.xlsx").symlink_to(victim)
    for out, why in ((workdir / "pipe", "not a regular file"), (Path("/dev/null"), "not a regular file"),
                     (workdir / "link.xlsx", "symbolic link")):
        for command in (["sql", "--out", str(out), "select 1"], ["report", "--week", "2026-W47", "--out", str(out)],
                        ["export", "findings", "--format", "xlsx", "--out", str(out)]):
            done = invoke(*command)
            assert done.exit_code == 2 and why in done.output, (command, done.output)
    assert victim.read_text() == "keep me" and (workdir / "pipe").is_fifo()


def test_a_regular_file_is_replaced_whole_and_no_temporary_file_stays(workdir):
    out = workdir / "findings.csv"
    out.write_text("old")
    assert invoke("export", "findings", "--out", str(out)).exit_code == 0
    assert out.read_text().startswith("finding_id,")
    ours = {p.name for p in published.files(workdir / "alertproc.duckdb")}
    assert sorted(p.name for p in workdir.iterdir() if p.name.startswith(".") and p.name not in ours) == []


# --- 2. formula injection ---------------------------------------------------------------

def test_xlsx_export_has_no_formula_cells(workdir):
    out = workdir / "events.xlsx"
    assert invoke("export", "events", "--format", "xlsx", "--out", str(out)).exit_code == 0
    with zipfile.ZipFile(out) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = sheet + (book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in book.namelist() else "")
    assert "<f>" not in sheet and "HYPERLINK" in strings  # the name is there, as text
    from openpyxl import load_workbook
    cells = [c.value for row in load_workbook(out, read_only=True).active.iter_rows() for c in row]
    assert "'" + HOSTILE_ASP in cells and HOSTILE_ASP not in cells


@pytest.mark.parametrize("command", [["export", "events"], ["sql", "--format", "csv", "select asp_name from events"]])
def test_csv_values_that_start_like_formulas_are_neutralised(workdir, command):
    out = workdir / "out.csv"
    assert invoke(*command, "--out", str(out)).exit_code == 0
    values = [v for row in csv.reader(out.open()) for v in row]
    assert "'" + HOSTILE_ASP in values
    assert not [v for v in values if v[:1] in ("=", "+", "@", "\t", "\r") or (v[:1] == "-" and not v[1:2].isdigit())]
    kept = invoke(*command, "--out", str(out), "--keep-formulas")
    assert kept.exit_code == 0 and HOSTILE_ASP in [v for row in csv.reader(out.open()) for v in row]


# --- 3. `alertproc sql` sees the database only ------------------------------------------------

@pytest.mark.parametrize("query", ["copy (select 'x') to 'evil.sql'", "select * from read_text('/etc/hostname')",
                                   "install httpfs", "attach 'other.duckdb'"])
def test_sql_cannot_touch_files_or_install_extensions(workdir, query):
    done = invoke("sql", query)
    assert done.exit_code != 0 and "disabled by config" in done.output
    assert not (workdir / "evil.sql").exists() and not (workdir / "other.duckdb").exists()


def test_sql_cannot_switch_the_sandbox_off(workdir):
    done = invoke("sql", "set enable_external_access = true")
    assert done.exit_code != 0 and "configuration has been locked" in done.output


def test_sql_allow_files_lets_a_user_copy_out(workdir):
    assert invoke("sql", "--allow-files", "copy (select 1 as a) to 'one.csv'").exit_code == 0
    assert (workdir / "one.csv").read_text().startswith("a")


# --- 8. crashes and wrong exit codes (the sql ones) ---------------------------------------------

def test_a_repeated_param_is_an_error_and_an_empty_result_says_so(workdir):
    twice = invoke("sql", "--query", "asp-activity", "-p", "gstin=A", "-p", "gstin=B")
    assert twice.exit_code == 2 and "given twice" in twice.output
    empty = invoke("sql", "select rule_id from findings where false")
    assert empty.exit_code == 0 and empty.output.strip() == "(no rows; columns: rule_id)"


# --- 4. local sources ---------------------------------------------------------------------

def maildir_with(tmp_path: Path) -> Path:
    import mailbox
    box = mailbox.Maildir(tmp_path / "md", create=True)
    for name in ("0001-consent.eml", "0002-access-changed.eml"):
        box.add((SAMPLE / "mail" / name).read_bytes())
    box.close()
    return tmp_path / "md"


def stored(workdir: Path) -> list[tuple]:
    from alertproc.storage import store
    con = store.connect(str(workdir / "alertproc.duckdb"), read_only=True)
    try:
        return con.execute("select source_ref, archive_path from messages order by 1").fetchall()
    finally:
        con.close()


def test_a_file_name_that_is_not_utf8_is_imported_and_shown_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "eml"
    folder.mkdir()
    os.link(SAMPLE / "mail" / "0001-consent.eml", os.fsencode(folder) + b"/caf\xe9-consent.eml")
    done = invoke("import", "eml", str(folder))
    assert done.exit_code == 0, done.output
    assert [ref for ref, _ in stored(tmp_path)] == ["caf\\xe9-consent.eml"]


def test_a_fifo_in_a_maildir_is_skipped_not_waited_for(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    root = maildir_with(tmp_path)
    os.mkfifo(root / "new" / "1700000000.fifo.host")
    done = invoke("import", "maildir", str(root))  # before the fix this never returned
    assert done.exit_code == 0 and "2 seen" in done.output
    assert "not a regular file" in caplog.text


def test_links_out_of_the_source_folder_are_not_followed(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "secret.eml"
    secret.write_bytes((SAMPLE / "mail" / "0002-access-changed.eml").read_bytes().replace(b"Subject:", b"X-Secret: 1\nSubject:"))
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "x.eml").symlink_to(secret)
    (folder / "inside.eml").symlink_to(SAMPLE / "mail" / "0001-consent.eml")  # outside too: not followed
    (folder / "real.eml").write_bytes((SAMPLE / "mail" / "0001-consent.eml").read_bytes())
    (folder / "alias.eml").symlink_to(folder / "real.eml")  # inside the folder: read
    done = invoke("import", "eml", str(folder))
    assert done.exit_code == 0, done.output
    assert "outside the source folder" in caplog.text
    assert not any(b"X-Secret" in p.read_bytes() for p in (tmp_path / "archive").rglob("*.eml"))
    assert [ref for ref, _ in stored(tmp_path)] == ["alias.eml"]  # real.eml has the same bytes: known


def test_an_mbox_without_from_lines_is_an_error_not_zero_messages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    box = tmp_path / "export.mbox"
    box.write_bytes((SAMPLE / "mail" / "0001-consent.eml").read_bytes())  # one message, no "From " line
    done = invoke("import", "mbox", str(box))
    assert done.exit_code == 1 and "no messages found" in done.output and "import eml" in done.output


def test_import_maildir_on_a_plain_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = invoke("import", "maildir", str(SAMPLE / "mail"))
    assert done.exit_code == 1 and "is not a Maildir" in done.output and "import eml" in done.output


def test_the_archive_and_database_are_readable_by_their_owner_only(workdir):
    for path in [workdir / "alertproc.duckdb", *(workdir / "archive").rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert (workdir / "archive").stat().st_mode & 0o777 == 0o700


# --- 5. resource exhaustion from small files --------------------------------------------------

def test_an_xlsx_zip_bomb_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bomb = tmp_path / "view-logs.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(40):
                member.write(b" " * 1_000_000)  # 40 MB of nothing, a few KB packed
    assert bomb.stat().st_size < 200_000
    done = invoke("import", "access-log", str(bomb), "--gstin", "27AAPFU0939F1ZV")
    assert done.exit_code == 1 and "refused: it would unpack to 40 MB" in done.output


@pytest.mark.parametrize("text, says", [
    ('a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
     'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ngstins: [*d,*d,*d,*d,*d,*d]\n',
     "aliases (*name) are not allowed"),
    ("gstins: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than 40 levels deep"),
    ("gstins:\n  - gstin: 27AAPFU0939F1ZV\n    label: Pune\n    label: Mumbai\n",
     "policy.yaml:4: not valid YAML: key 'label' appears twice"),
], ids=["alias-bomb", "deep-nesting", "duplicate-key"])
def test_hostile_yaml_is_refused_quickly_with_file_and_line(tmp_path, monkeypatch, text, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text(text)
    done = invoke("detect", "--policy", str(tmp_path / "policy.yaml"))
    assert done.exit_code == 2 and says in done.output, done.output


# --- 6. secrets ---------------------------------------------------------------------------

class EchoingServer:
    """An IMAP server that answers LOGIN by echoing the whole command line (some do)."""

    def __init__(self):
        import socket
        import threading
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.port = self.socket.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                stream.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
                stream.flush()
                for line in stream:
                    tag, _, rest = line.decode().strip().partition(" ")
                    if rest.upper().startswith("CAPABILITY"):
                        stream.write(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
                    elif rest.upper().startswith("LOGIN"):
                        stream.write(f"{tag} NO [AUTHENTICATIONFAILED] rejected: {rest}\r\n".encode())
                    else:
                        stream.write(f"{tag} BAD no\r\n".encode())
                        break
                    stream.flush()


def test_a_server_that_echoes_the_login_line_shows_no_password(tmp_path):
    import subprocess
    import sys
    password = "Pa55-very-SECRET-w0rd"
    server = EchoingServer()
    (tmp_path / "alertproc.toml").write_text(f'[imap]\nhost = "127.0.0.1"\nport = {server.port}\ntls = "none"\n'
                                              'username = "alice"\npassword_env = "IMAP_PW"\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "IMAP_PW": password}
    for args in (["run", *POLICY_OPTION], ["-v", "fetch"], ["doctor", *POLICY_OPTION]):
        done = subprocess.run([sys.executable, "-m", "alertproc", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and "AUTHENTICATIONFAILED" in done.stdout + done.stderr
        assert password not in done.stdout + done.stderr and "********" in done.stdout + done.stderr
    from alertproc.storage import store
    con = store.connect(str(tmp_path / "alertproc.duckdb"), read_only=True)
    try:
        errors = con.execute("select error from runs").fetchall()
    finally:
        con.close()
    assert errors and all(password not in (e or "") for (e,) in errors)


def test_a_report_far_outside_any_data_is_a_usage_error(workdir):
    done = invoke("report", "--since", "0001-01-01", "--until", "9999-12-31")
    assert done.exit_code == 2 and "between 01-01-1970 and 31-12-2999 (got 01-01-0001 to 31-12-9999)" in done.output
    wide = invoke("report", "--since", "1970-01-01", "--until", "2999-12-31", "--out", "all.html")
    assert wide.exit_code == 0 and (workdir / "all.html").is_file()


def test_an_access_log_with_a_quoted_newline_is_read_row_by_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "view-logs.csv"
    log.write_text('Date,ASP Name,GSP Name,Status,GSTIN\n03-11-2026 10:00:00,"Acme Tax\nCloud",Example GSP,Successful,'
                   '27AAPFU0939F1ZV\n04-11-2026 10:00:00,Beta,Example GSP,Failed,27AAPFU0939F1ZV\n')
    done = invoke("import", "access-log", str(log))
    assert done.exit_code == 0 and "rows: 2, 2 new events" in done.output, done.output


def test_a_nul_in_an_asp_name_does_not_break_the_xlsx_export(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("import", "sms", str(sms_export(tmp_path / "sms.xml", "Acme Tax"))).exit_code == 0
    from alertproc.storage import store
    con = store.connect(str(tmp_path / "alertproc.duckdb"))
    con.execute("update events set asp_name = 'Acme' || chr(0) || 'Tax'")  # as a CSV import can store it
    con.close()
    done = invoke("export", "events", "--format", "xlsx", "--out", "e.xlsx")
    assert done.exit_code == 0, done.output
    from openpyxl import load_workbook
    assert "Acme\ufffdTax" in [c.value for row in load_workbook(tmp_path / "e.xlsx").active.iter_rows() for c in row]


# --- 9. orphaned workers ---------------------------------------------------------------------

WORKERS = f"""
import sys, time, multiprocessing.forkserver as fs
sys.path.insert(0, {str(ROOT)!r})
from alertproc.mail import ingest
if __name__ == "__main__":
    assert ingest.start_workers()
    list(ingest._pool.map(abs, range(8)))
    print(fs._forkserver._forkserver_pid, *ingest._pool._processes, flush=True)
    time.sleep(120)
"""


def test_kill_9_of_alertproc_ends_its_workers_and_fork_server(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    if (os.cpu_count() or 1) < 2:
        pytest.skip("no worker pool on one core")
    script = tmp_path / "workers.py"
    script.write_text(WORKERS)
    # The killed process cannot remove its fork server's socket folder (pymp-*): it goes to tmp_path.
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    helpers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(helpers) >= 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()

    def alive(pid):
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False
    deadline = time.monotonic() + 10
    while [pid for pid in helpers if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in helpers if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"helpers outlived alertproc: {left}"
