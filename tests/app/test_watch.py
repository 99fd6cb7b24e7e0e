"""alertproc watch against a real Dovecot: IDLE wakes it, polling without IDLE, SIGTERM stops it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from alertproc.storage import store
from helpers import ROOT, wait_until
from helpers.dovecot import PASSWORD, Dovecot
from helpers.imap import ALERTS, FILED, append, contents


# An account whose server is not there (nothing listens on port 1).
GONE = ('[[imap]]\nname = "gone"\nhost = "127.0.0.1"\nport = 1\ntls = "none"\nusername = "x"\n'
        'password_env = "TEST_IMAP_PASSWORD"\n')


def start_watch(tmp_path):
    """`alertproc watch` on tmp_path's alertproc.toml, in a process of its own; and its environment."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TEST_IMAP_PASSWORD": PASSWORD}
    watcher = subprocess.Popen([sys.executable, "-m", "alertproc", "watch", "--policy", str(ROOT / "rules" / "policy.yaml")],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return watcher, env


def messages(workdir):
    try:
        con = store.connect(str(workdir / "alertproc.duckdb"), read_only=True)
    except Exception:  # being written, or not there yet
        return -1
    try:
        return con.execute("select count(*) from messages").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
def test_mail_appended_while_watching_is_processed_within_seconds_and_sigterm_stops_cleanly(tmp_path, idle):
    with Dovecot(idle=idle) as server:
        append(server, ALERTS[:5])
        (tmp_path / "alertproc.toml").write_text(server.imap_table(poll_seconds=1, idle_seconds=60))
        watcher, _ = start_watch(tmp_path)
        try:
            assert wait_until(lambda: len(contents(server, FILED)) == 5), "first cycle did not file the backlog"
            started = time.monotonic()
            append(server, ALERTS[5:8])
            assert wait_until(lambda: len(contents(server, FILED)) == 8, seconds=20)
            assert time.monotonic() - started < 15
            assert wait_until(lambda: messages(tmp_path) == 8)
        finally:
            watcher.send_signal(signal.SIGTERM)
            out, err = watcher.communicate(timeout=30)
        assert watcher.returncode == 0, err
        assert f"watching alice@127.0.0.1:{server.port} INBOX" in err and "cycle: 3 new, 3 filed" in err
        assert err.rstrip().endswith("stopped")
        assert "batch of 3 processed" in err
        assert contents(server, "INBOX") == []


def test_one_watch_listens_on_every_account_and_a_dead_one_does_not_stop_it(tmp_path):
    from helpers.dovecot import OTHER_USER
    with Dovecot() as server:
        append(server, ALERTS[:2])
        table = server.imap_table(poll_seconds=1, idle_seconds=60).replace("[imap]", "[[imap]]\nname = \"alice\"")
        table += table.replace('name = "alice"', 'name = "bob"').replace('username = "alice"', f'username = "{OTHER_USER}"')
        table += GONE
        (tmp_path / "alertproc.toml").write_text(table)
        watcher, _ = start_watch(tmp_path)
        try:
            assert wait_until(lambda: len(contents(server, FILED)) == 2), "first cycle did not file alice's backlog"
            append(server, ALERTS[2:5], user=OTHER_USER)
            assert wait_until(lambda: len(contents(server, FILED, OTHER_USER)) == 3, seconds=20)
            append(server, ALERTS[5:6])
            assert wait_until(lambda: len(contents(server, FILED)) == 3, seconds=20)
        finally:
            watcher.send_signal(signal.SIGTERM)
            out, err = watcher.communicate(timeout=30)
        assert watcher.returncode == 0, err
        assert "gone: cannot reach 127.0.0.1:1" in err and err.rstrip().endswith("stopped")


def test_a_listener_survives_its_session_being_kicked_while_idling(tmp_path):
    """A server restart, `doveadm kick` or a NAT time-out drops the IDLE connection: imaplib's abort
    from idle_done() ended the listener thread and watch processed nothing more."""
    with Dovecot() as server:
        (tmp_path / "alertproc.toml").write_text(server.imap_table(poll_seconds=2, idle_seconds=60))
        watcher, _ = start_watch(tmp_path)
        try:
            assert wait_until(lambda: messages(tmp_path) == 0)  # the first cycle ran: the database exists
            time.sleep(3)  # the listener is idling now
            server.kick()
            time.sleep(1)
            append(server, ALERTS[:3])
            assert wait_until(lambda: len(contents(server, FILED)) == 3, seconds=30), "deaf after the kick"
        finally:
            watcher.send_signal(signal.SIGTERM)
            out, err = watcher.communicate(timeout=30)
        assert watcher.returncode == 0, err


def test_status_names_an_account_watch_has_not_heard_from(tmp_path):
    """A listener that cannot reach its server never writes to the database, so a deaf account
    looked like a quiet one (issue #28 item 2): status now says which one is not heard from."""
    with Dovecot() as server:
        table = server.imap_table(poll_seconds=1, idle_seconds=60).replace("[imap]", "[[imap]]\nname = \"alice\"")
        table += GONE + "poll_seconds = 1\n"
        (tmp_path / "alertproc.toml").write_text(table)
        watcher, env = start_watch(tmp_path)
        said = {}

        def status_says_gone_is_silent():
            done = subprocess.run([sys.executable, "-m", "alertproc", "status"], cwd=tmp_path, env=env,
                                  capture_output=True, text=True)
            said["out"] = done.stdout + done.stderr
            return done.returncode == 0 and "NOT HEARD FROM: gone" in done.stdout

        try:
            assert wait_until(status_says_gone_is_silent, seconds=60), said.get("out")
        finally:
            watcher.send_signal(signal.SIGTERM)
            watcher.communicate(timeout=30)
        out = said["out"]
        assert "watch: running (pid" in out and "NOT HEARD FROM: gone: never heard from — cannot reach 127.0.0.1:1" in out
        assert "  alice: last heard from " in out and "NOT HEARD FROM: alice" not in out
        stopped = subprocess.run([sys.executable, "-m", "alertproc", "status", "--json"], cwd=tmp_path, env=env,
                                 capture_output=True, text=True)
        watch = __import__("json").loads(stopped.stdout)["watch"]
        assert watch["running"] is False and watch["stopped_at"] and not any(a["silent"] for a in watch["accounts"].values())
