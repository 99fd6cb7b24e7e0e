"""The web app at the HTTP level, served by uvicorn in its own process (#31): every security
rule (logins, sessions, CSRF, roles, throttling, cookies, CSP, the SQL sandbox, hostile mail
shown inert, the audit log) and the contract the browser tests and docs rely on."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from helpers import POLICY_OPTION, ROOT, SAMPLE, run_alertproc
from helpers.web_server import PASSWORDS, Server, csrf_of, login, sample_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    server = Server(sample_site(tmp_path_factory.mktemp("web")))
    yield server
    server.stop()


def open_finding(client, **filters) -> str:
    rows = client.get("/api/findings", params={"status": "open", **filters}).json()
    return rows[0]["finding_id"]


def test_anonymous_pages_lead_to_the_login_and_the_api_says_401(site):
    anonymous = site.client()
    for path in ("/", "/findings?status=open", "/sql?q=select+1", "/reports", "/audit"):
        answer = anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=/"), path
    assert anonymous.get("/api/findings").status_code == 401
    assert anonymous.post("/findings/x/ack", data={"note": "n"}).status_code in (303, 401)


def test_login_sets_a_strict_httponly_session_cookie_and_wrong_passwords_are_refused(site):
    client = site.client()
    wrong = login(client, "anil", "not the password")
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    unknown = login(client, "nobody", "whatever it is")
    assert unknown.status_code == 401
    answer = login(client, "anil", PASSWORDS["anil"])
    cookie = answer.headers["set-cookie"].lower()
    assert answer.status_code == 303 and "alertproc_session=" in cookie
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie
    assert "secure" not in cookie.replace("samesite", "")  # a loopback address: plain HTTP must work


def test_a_login_form_not_served_by_alertproc_is_refused(site):
    client = site.client()
    forged = client.post("/login", data={"username": "anil", "password": PASSWORDS["anil"], "csrf_token": "forged"})
    assert forged.status_code == 403


def test_every_post_needs_the_sessions_csrf_token(site):
    anil, other = site.client("anil"), site.client("asha")
    finding = open_finding(anil)
    assert anil.post(f"/findings/{finding}/ack", data={"note": "no token"}).status_code == 403
    others_token = csrf_of(other.get("/").text)
    assert anil.post(f"/findings/{finding}/ack", data={"note": "x", "csrf_token": others_token}).status_code == 403
    assert anil.post("/logout", data={}).status_code == 403
    assert open_finding(anil) == finding  # nothing changed


def test_roles_are_checked_on_every_request(site):
    vera, anil, asha = site.client("vera"), site.client("anil"), site.client("asha")
    finding = open_finding(vera, severity="medium")
    token = csrf_of(vera.get(f"/findings/{finding}").text)
    assert vera.post(f"/findings/{finding}/ack", data={"note": "viewer", "csrf_token": token}).status_code == 403
    assert vera.get("/audit").status_code == 403 and anil.get("/audit").status_code == 403
    assert asha.get("/audit").status_code == 200
    page = anil.get(f"/findings/{finding}").text
    done = anil.post(f"/findings/{finding}/ack", data={"note": "seen by anil", "csrf_token": csrf_of(page)})
    assert done.status_code == 303 and done.headers["location"] == f"/findings/{finding}"
    state = re.search(r'id="state">([^<]+)', anil.get(f"/findings/{finding}").text).group(1)
    assert state.strip() == "acknowledged"
    audit = asha.get("/audit").text
    assert "finding acknowledged" in audit and "127.0.0.1" in audit and finding in audit and "seen by anil" in audit
    acked = [f for f in vera.get("/api/findings", params={"status": "acknowledged"}).json() if f["finding_id"] == finding]
    assert acked and acked[0]["status"] == "acknowledged" and acked[0]["triage_by"] == "anil"


def user_command(folder, *args: str, password: str = "") -> subprocess.CompletedProcess:
    """`alertproc user ...` as a script runs it: the password on standard input."""
    return subprocess.run([sys.executable, "-m", "alertproc", "user", *args], cwd=folder, input=password + "\n",
                          text=True, capture_output=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "PYTHONPATH": str(ROOT)})


def test_a_removed_users_session_ends_at_once(site):
    assert user_command(site.folder, "add", "tmp", "--role", "viewer", password="short").returncode == 2
    assert user_command(site.folder, "add", "tmp", "--role", "viewer", password="temporary password").returncode == 0
    client = site.client()
    assert login(client, "tmp", "temporary password").status_code == 303
    assert client.get("/findings").status_code == 200
    assert user_command(site.folder, "remove", "tmp").returncode == 0
    assert client.get("/findings").status_code == 303 and client.get("/api/findings").status_code == 401


def test_admins_manage_users_in_the_browser_and_a_changed_password_ends_old_sessions(site):
    asha, anil = site.client("asha"), site.client("anil")
    token = csrf_of(asha.get("/audit").text)
    form = {"username": "maya", "role": "viewer", "password": "maya password 1", "password2": "maya password 1"}
    assert anil.post("/users", data={**form, "csrf_token": csrf_of(anil.get("/").text)}).status_code == 403
    assert asha.post("/users", data=form).status_code == 403  # no CSRF token
    differ = asha.post("/users", data={**form, "password2": "other password", "csrf_token": token})
    assert differ.status_code == 400 and "differ" in differ.text
    added = asha.post("/users", data={**form, "csrf_token": token})
    assert added.status_code == 303 and added.headers["location"].startswith("/audit?done=")
    maya = site.client()
    assert login(maya, "maya", "maya password 1").status_code == 303 and maya.get("/audit").status_code == 403
    assert asha.post("/users/maya/role", data={"role": "admin", "csrf_token": token}).status_code == 303
    assert maya.get("/audit").status_code == 303  # a new role: log in again, and get it
    assert login(maya, "maya", "maya password 1").status_code == 303 and maya.get("/audit").status_code == 200
    new = {"password": "maya password 2", "password2": "maya password 2", "csrf_token": token}
    assert asha.post("/users/maya/password", data=new).status_code == 303
    assert maya.get("/findings").status_code == 303  # the session of the old password ended
    assert login(maya, "maya", "maya password 1").status_code == 401
    assert login(maya, "maya", "maya password 2").status_code == 303
    own = asha.post("/users/asha/role", data={"role": "viewer", "csrf_token": token})
    assert own.status_code == 400 and "another admin" in own.text  # no locking the team out
    assert asha.post("/users/asha/remove", data={"confirm": "asha", "csrf_token": token}).status_code == 400
    unconfirmed = asha.post("/users/maya/remove", data={"confirm": "", "csrf_token": token})
    assert unconfirmed.status_code == 400 and maya.get("/findings").status_code == 200
    assert asha.post("/users/maya/remove", data={"confirm": "maya", "csrf_token": token}).status_code == 303
    assert maya.get("/findings").status_code == 303
    audit = asha.get("/audit").text
    for action in ("user add", "user role", "user passwd", "user remove"):
        assert f"<td>{action}</td>" in audit, action
    assert "maya password" not in audit
    assert asha.get("/findings").status_code == 200  # the admin's own session is untouched


def test_an_admin_changing_their_own_password_stays_logged_in_with_it(tmp_path):
    server = Server(sample_site(tmp_path))
    try:
        asha = server.client("asha")
        token = csrf_of(asha.get("/audit").text)
        new = {"password": "admin password 22", "password2": "admin password 22", "csrf_token": token}
        changed = asha.post("/users/asha/password", data=new)
        assert changed.status_code == 303
        asha.cookies.set("alertproc_session", changed.cookies["alertproc_session"])
        assert asha.get("/audit").status_code == 200
        assert login(server.client(), "asha", PASSWORDS["asha"]).status_code == 401
    finally:
        server.stop()


def test_behind_a_named_proxy_its_forwarded_address_is_the_clients(tmp_path):
    folder = sample_site(tmp_path)
    trusting, plain = Server(folder, "--proxy", "127.0.0.1"), None
    try:
        client = trusting.client()
        forwarded = {"x-forwarded-for": "203.0.113.7"}
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"username": "asha", "password": PASSWORDS["asha"], "csrf_token": token},
                    headers=forwarded)
        finding = open_finding(client)
        page = client.get(f"/findings/{finding}").text
        client.post(f"/findings/{finding}/ack", data={"note": "via proxy", "csrf_token": csrf_of(page)}, headers=forwarded)
        assert "203.0.113.7" in client.get("/audit").text
    finally:
        trusting.stop()
    plain = Server(folder)
    try:
        client = plain.client("asha")
        finding = open_finding(client)
        page = client.get(f"/findings/{finding}").text
        client.post(f"/findings/{finding}/ack", data={"note": "spoofed", "csrf_token": csrf_of(page)},
                    headers={"x-forwarded-for": "198.51.100.9"})
        audit = client.get("/audit").text
        assert "198.51.100.9" not in audit  # without --proxy nobody may name their own address
    finally:
        plain.stop()


def test_an_admin_approves_from_a_finding_and_the_next_detect_closes_it(tmp_path):
    server = Server(sample_site(tmp_path))
    try:
        asha, anil = server.client("asha"), server.client("anil")
        quickfile = next(f for f in asha.get("/api/findings", params={"rule": "unexpected_asp"}).json()
                         if f["asp_name"] == "QuickFile GST Services" and f["gstin"] == "07AAPFU0939F1ZX")
        page = asha.get(f"/findings/{quickfile['finding_id']}").text
        assert 'action="/findings/' + quickfile["finding_id"] + '/approve"' in page
        assert "/approve" not in anil.get(f"/findings/{quickfile['finding_id']}").text  # admins only
        refused = anil.post(f"/findings/{quickfile['finding_id']}/approve",
                            data={"note": "x", "csrf_token": csrf_of(page)})
        assert refused.status_code == 403
        done = asha.post(f"/findings/{quickfile['finding_id']}/approve",
                         data={"note": "e-invoicing pilot", "csrf_token": csrf_of(page)})
        assert done.status_code == 303 and "approved=1" in done.headers["location"]
        assert "approval decision #1" in asha.get(done.headers["location"]).text
        other = next(f for f in asha.get("/api/findings", params={"rule": "spoofed_alert"}).json())
        assert asha.post(f"/findings/{other['finding_id']}/approve",
                         data={"note": "x", "csrf_token": csrf_of(page)}).status_code == 400
        detected = subprocess.run([sys.executable, "-m", "alertproc", "detect", "--policy", POLICY_OPTION[1]],
                                  cwd=tmp_path, capture_output=True, text=True,
                                  env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
        assert detected.returncode in (0, 3), detected.stderr
        closed = next(f for f in asha.get("/api/findings", params={"status": "all", "rule": "unexpected_asp"}).json()
                      if f["finding_id"] == quickfile["finding_id"])
        assert closed["status"] == "acknowledged" and "e-invoicing pilot" in closed["triage_note"]
        assert closed["triage_by"] == "asha"
        audit = re.sub(r"<span class=\"w\">([^<]*)</span>", r"\1", asha.get("/audit").text)
        assert "<td>approve</td>" in audit and "e-invoicing pilot" in audit
    finally:
        server.stop()


def test_every_response_carries_a_csp_without_script_and_no_page_has_script(site):
    asha = site.client("asha")
    finding = open_finding(asha)
    for path in ("/login", "/", "/findings", f"/findings/{finding}", "/sql?q=select+1", "/reports", "/audit",
                 "/api/findings", "/static/app.css", "/static/report.css"):
        answer = asha.get(path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in answer.text.lower(), path


@pytest.mark.parametrize("query", [
    "select * from read_text('/etc/passwd')",
    "attach '/tmp/other.duckdb' as other",
    "copy (select 1) to '/tmp/out.csv'",
    "install httpfs",
    "set enable_external_access = true",
])
def test_the_sql_page_is_the_sandbox_of_alertproc_sql(site, query):
    answer = site.client("vera").get("/sql", params={"q": query})
    assert answer.status_code == 200
    assert 'role="alert"' in answer.text and "<table class=\"result\">" not in answer.text


def test_a_canned_query_runs_with_its_parameters_and_downloads_as_neutralised_csv(site):
    vera = site.client("vera")
    page = vera.get("/sql", params={"query": "asp-activity", "p.gstin": "27AAPFU0939F1ZV", "p.since": "01-11-2026",
                                    "p.until": "30-11-2026"})
    assert page.status_code == 200 and "Acme Tax Cloud Pvt Ltd" in page.text and "token_refreshed" in page.text
    csv = vera.get("/sql", params={"q": "select '=cmd|calc' as evil, 1 as n", "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1].startswith("'=cmd")


def test_a_query_result_downloads_as_neutralised_xlsx_with_every_row(site):
    import io
    from openpyxl import load_workbook
    vera = site.client("vera")
    page = vera.get("/sql", params={"q": "select range as n from range(600)"}).text
    assert "the first 500 shown" in page and "format=xlsx" in page
    link = re.search(r'href="(/sql\?[^"]*format=xlsx)"', page).group(1).replace("&amp;", "&")
    book = vera.get(link)
    assert book.status_code == 200 and book.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="query.xlsx"' in book.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(book.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == ("n",) and len(rows) == 601 and rows[-1] == (599,)
    evil = vera.get("/sql", params={"q": "select '=cmd|calc' as \"=HYPERLINK()\"", "format": "xlsx"})
    cells = list(load_workbook(io.BytesIO(evil.content), read_only=True).active.iter_rows(values_only=True))
    assert cells == [("'=HYPERLINK()",), ("'=cmd|calc",)]
    refused = vera.get("/sql", params={"q": "select * from read_text('/etc/passwd')", "format": "xlsx"})
    assert refused.status_code == 200 and 'role="alert"' in refused.text  # the sandbox holds for downloads too


def test_a_mail_whose_text_holds_markup_and_script_is_shown_inert(site):
    asha = site.client("asha")
    finding = next(f for f in asha.get("/api/findings", params={"status": "all", "rule": "spoofed_alert"}).json()
                   if "23:40" in f["occurred_ist"])
    page = asha.get(f"/findings/{finding['finding_id']}").text
    mail = re.search(r'href="(/findings/[0-9a-f]+/mail/[0-9a-f]+)"', page).group(1)
    shown = asha.get(mail)
    assert shown.status_code == 200 and "<script" not in shown.text and "<img" not in shown.text
    assert "&lt;script&gt;document.title" in shown.text
    raw = asha.get(mail + "?raw=1")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert re.fullmatch(r'attachment; filename="[0-9a-f]{64}\.eml"', raw.headers["content-disposition"])
    assert b"<script>document.title='pwned'</script>" in raw.content
    other = mail.rsplit("/", 1)[0] + "/" + "0" * 64
    assert asha.get(other).status_code == 400  # only a finding's own evidence is reachable


def test_repeated_wrong_passwords_are_throttled_with_a_growing_delay(tmp_path):
    server = Server(sample_site(tmp_path))
    try:
        client = server.client()
        answers = [login(client, "anil", f"wrong {n}").status_code for n in range(5)]
        assert answers == [401] * 5
        throttled = login(client, "anil", PASSWORDS["anil"])  # even the right one waits now
        assert throttled.status_code == 429 and "try again in" in throttled.text
        other_user = login(client, "vera", PASSWORDS["vera"])  # the address is throttled too
        assert other_user.status_code == 429
    finally:
        server.stop()


def test_the_scheduled_run_completes_while_the_app_serves_a_logged_in_user(site):
    asha = site.client("asha")
    before = len(asha.get("/api/findings", params={"status": "all"}).json())
    done = run_alertproc("run", "--source", str(SAMPLE / "mail"), "--sms", str(SAMPLE / "sms-backup.xml"),
                         "--week", "2026-W47", *POLICY_OPTION, cwd=site.folder, env={"ALERTPROC_LOCK_WAIT": "30"})
    assert done.returncode == 0, done.stderr
    assert asha.get("/findings").status_code == 200
    assert len(asha.get("/api/findings", params={"status": "all"}).json()) >= before
    runs = asha.get("/").text
    assert "run" in runs and "ok" in runs


def test_gstin_and_asp_pages_show_each_asp_once_approved_or_not_with_a_timeline(site):
    vera = site.client("vera")
    page = vera.get("/gstins/27AAPFU0939F1ZV", params={"since": "01-11-2026", "until": "30-11-2026"}).text
    asps = re.findall(r'<a href="/asps/([A-Z0-9]+)">([^<]+)</a>', page)
    assert ("ACMETAXCLOUD", "Acme Tax Cloud Pvt Ltd") in asps and len({key for key, _ in asps}) == len(asps)
    assert '<span class="bad">no</span>' in page and '<span class="ok">yes</span>' in page  # Unknown Vendor, Acme
    assert page.count("<figure class=\"timeline\">") >= 2 and 'class="validity"' in page  # a consent's validity
    acme = vera.get("/asps/ACMETAXCLOUD").text
    gstins = re.findall(r'<a href="/gstins/([0-9A-Z]{15})">', acme)
    assert {"27AAPFU0939F1ZV", "29AAPFU0939F1ZR", "07AAPFU0939F1ZX"} <= set(gstins)
    # every GSTIN ever, counts of the period asked for (mail and SMS twins once, as the GSTIN page)
    def pune_refreshes(since, until):
        shown = vera.get("/asps/ACMETAXCLOUD", params={"since": since, "until": until}).text
        return int(re.findall(r'<td class="num">(\d+)</td>', shown.split('href="/gstins/27AAPFU0939F1ZV"')[1])[0])
    on_gstin_page = re.search(r'<a href="/asps/ACMETAXCLOUD">[^<]+</a></td>.*?<td class="num">(\d+)</td>', page, re.S)
    assert pune_refreshes("01-01-2025", "31-12-2026") == int(on_gstin_page.group(1))  # all of it, as the GSTIN page
    assert 0 < pune_refreshes("01-11-2026", "30-11-2026") < int(on_gstin_page.group(1))
    long_ago = vera.get("/asps/ACMETAXCLOUD", params={"since": "01-01-2025", "until": "31-01-2025"}).text
    assert set(re.findall(r'<a href="/gstins/([0-9A-Z]{15})">', long_ago)) == set(gstins)
    assert set(re.findall(r'<td class="num">(\d+)</td>', long_ago)) == {"0"}


def test_evidence_packs_for_auditors_and_the_findings_xlsx_download(site):
    import io
    import zipfile
    from openpyxl import load_workbook
    vera, anil = site.client("vera"), site.client("anil")
    finding = open_finding(anil, rule="spoofed_alert")
    assert vera.get(f"/findings/{finding}/evidence.zip").status_code == 403
    pack = anil.get(f"/findings/{finding}/evidence.zip")
    assert pack.status_code == 200 and pack.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(pack.content)).namelist()
    assert "manifest.json" in names and "SHA256SUMS" in names and any(n.startswith("mail/") for n in names)
    week = anil.get("/evidence.zip", params={"week": "2026-W47"})
    assert week.status_code == 200 and "report.html" in " ".join(zipfile.ZipFile(io.BytesIO(week.content)).namelist())
    book = vera.get("/export/findings.xlsx")
    assert book.status_code == 200
    header = next(load_workbook(io.BytesIO(book.content), read_only=True).active.iter_rows(values_only=True))
    assert "triage_status" in header and "occurred_at_ist" in header
