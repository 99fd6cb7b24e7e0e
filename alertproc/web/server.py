"""``alertproc serve``: the web app's routes. Every page reads through the application object
(the published copy of the database: it never blocks the scheduled job) and every change goes
through its writer (waiting at most ``lock_wait`` seconds for a running job). Pages are
rendered by jinja2 with autoescaping from ``reports/web/``; no page runs script.

Starlette does the routing, requests and responses; uvicorn is the server process.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote

import jinja2
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..app.alertproc import Alertproc
from ..config import SHIPPED_REPORTS
from ..errors import AlertprocError, ConfigError, LockedError
from ..markup import keep_words
from ..period import parse_day
from . import guard

PAGES = SHIPPED_REPORTS / "web"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROWS_SHOWN = 500  # rows of a list or query result on a page; the download has them all
TRIAGE = {"ack": "acknowledged", "suppress": "suppressed", "reopen": "reopened"}
FILTERS = ("status", "severity", "rule", "gstin", "asp", "since", "until")


class Denied(Exception):
    """A request without the right: 401/403, or a redirect to the login page."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


class Web:
    """The app's state: the application object, sessions, the login throttle, the templates."""

    def __init__(self, app: Alertproc, secure_cookies: bool) -> None:
        self.app = app
        self.secure_cookies = secure_cookies
        self.sessions = guard.Sessions()
        self.throttle = guard.Throttle()
        self.pages = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PAGES)), autoescape=True,
                                        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.pages.filters["words"] = keep_words  # as in the report: no date or address split over two lines
        # One DuckDB read connection is shared: reads take turns; a write (triage, users) has a
        # lock of its own, so a write waiting for a running job never holds the readers up.
        self.reading = threading.Lock()
        self.writing = threading.Lock()

    async def read(self, call: Callable, *args, **kwargs):
        def locked():
            with self.reading:
                return call(*args, **kwargs)
        return await run_in_threadpool(locked)

    async def write(self, call: Callable, *args, **kwargs):
        def locked():
            with self.writing:
                return call(*args, **kwargs)
        return await run_in_threadpool(locked)

    async def download(self, name: str, media_type: str, write: Callable[[Path], object]) -> Response:
        """The file ``write(path)`` makes in a private temporary folder, sent as ``name``; the
        folder is removed once the file is sent, or at once when writing fails."""
        folder = Path(tempfile.mkdtemp(prefix="alertproc-web-"))
        out = folder / name
        try:
            await self.read(write, out)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(out, media_type=media_type, filename=name,
                            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))

    # --- who is asking -------------------------------------------------------------------

    async def user(self, request: Request, needed: str = "viewer") -> tuple[guard.Session, str]:
        """The request's session and the user's current role; Denied without one or the right."""
        session = self.sessions.get(request.cookies.get(guard.SESSION_COOKIE))
        if session is None:
            raise Denied(401, "log in first")
        role = await self.read(self.app.role_of, session.username, session.logged_in_at)
        if role is None:  # removed, or given a new password or role, since logging in
            self.sessions.end(request.cookies.get(guard.SESSION_COOKIE))
            raise Denied(401, "log in again: your account was changed or removed")
        if not guard.allows(role, needed):
            raise Denied(403, f"{needed}s only: you are {role}")
        return session, role

    async def form(self, request: Request, session: guard.Session | None, expected: str | None = None) -> dict:
        """The posted form's fields; Denied (403) unless it carries the right CSRF token."""
        fields = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"),
                                                keep_blank_values=True).items()}
        if not guard.same(fields.get("csrf_token"), expected or (session.csrf if session else None)):
            raise Denied(403, "this form is stale or was not sent by alertproc (no valid csrf_token): reload the page")
        return fields

    def page(self, request: Request, template: str, session: guard.Session | None, role: str | None,
             status: int = 200, **context) -> HTMLResponse:
        html = self.pages.get_template(template).render(
            user=session.username if session else None, role=role, csrf=session.csrf if session else "",
            path=request.url.path, can=lambda needed: guard.allows(role, needed), **context)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def _filters(request: Request) -> dict:
    given = {name: (request.query_params.get(name) or "").strip() or None for name in FILTERS}
    given["status"] = given["status"] or "open"
    return given


def _findings(web: Web, request: Request) -> tuple[list[dict], int]:
    """The first ROWS_SHOWN findings the request's filters select, and how many they select."""
    given = _filters(request)
    return web.app.findings_page(ROWS_SHOWN, given["status"], given["rule"], severity=given["severity"],
                                 gstin=given["gstin"], asp=given["asp"], since=given["since"], until=given["until"])


def _address(request: Request) -> str:
    """The client's address for the audit log (behind a proxy: see ``serve --proxy``)."""
    return request.client.host if request.client else "unknown"


def _new_password(fields: dict) -> str:
    if fields.get("password", "") != fields.get("password2", ""):
        raise ConfigError("the two passwords differ: type the same one twice")
    return fields.get("password", "")


def _next(target: str | None) -> str:
    """Where to go after logging in: a path of this site only (never //host or a URL)."""
    return target if target and re.fullmatch(r"/(?![/\\])[\w\-./?=&%]*", target) else "/"


def _cookie(response: Response, web: Web, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", secure=web.secure_cookies,
                        path="/")


def routes(web: Web) -> list[Route]:
    async def login_page(request: Request) -> Response:
        form_token = guard.token()
        response = web.page(request, "login.html.j2", None, None, login_csrf=form_token, failed=None,
                            next=_next(request.query_params.get("next")))
        _cookie(response, web, guard.LOGIN_COOKIE, form_token, 600)
        return response

    async def login(request: Request) -> Response:
        fields = await web.form(request, None, request.cookies.get(guard.LOGIN_COOKIE))
        name, address = fields.get("username", ""), _address(request)
        keys = (f"user:{name.lower()}", f"address:{address}")
        wait = web.throttle.wait(*keys)
        if wait:
            return web.page(request, "login.html.j2", None, None, status=429, login_csrf=fields["csrf_token"],
                            failed=f"Too many wrong passwords: try again in {wait} s.", next=_next(fields.get("next")))
        role = await web.read(web.app.login, name, fields.get("password", ""))
        if role is None:
            web.throttle.failed(*keys)
            return web.page(request, "login.html.j2", None, None, status=401, login_csrf=fields["csrf_token"],
                            failed="Wrong user name or password.", next=_next(fields.get("next")))
        web.throttle.succeeded(*keys)
        key, _ = web.sessions.start(name)
        response = RedirectResponse(_next(fields.get("next")), status_code=303)
        _cookie(response, web, guard.SESSION_COOKIE, key, guard.MAX_SECONDS)
        response.delete_cookie(guard.LOGIN_COOKIE, path="/")
        return response

    async def logout(request: Request) -> Response:
        session, _ = await web.user(request)
        await web.form(request, session)
        web.sessions.end(request.cookies.get(guard.SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(guard.SESSION_COOKIE, path="/")
        return response

    async def overview(request: Request) -> Response:
        session, role = await web.user(request)
        return web.page(request, "overview.html.j2", session, role, **(await web.read(web.app.overview)))

    async def findings(request: Request) -> Response:
        session, role = await web.user(request)
        rows, total = await web.read(_findings, web, request)
        return web.page(request, "findings.html.j2", session, role, findings=rows, total=total,
                        filters=_filters(request), states=Alertproc.TRIAGE_STATES)

    async def finding(request: Request) -> Response:
        session, role = await web.user(request)
        found = await web.read(web.app.finding, request.path_params["finding_id"])
        approved = request.query_params.get("approved")
        return web.page(request, "finding.html.j2", session, role, f=found,
                        approved=approved if approved and approved.isdigit() else None)

    async def triage(request: Request) -> Response:
        session, _ = await web.user(request, "auditor")
        fields = await web.form(request, session)
        if request.path_params["action"] not in TRIAGE:
            return Response("no such action: ack, suppress or reopen", status_code=404)
        finding_id, action = request.path_params["finding_id"], TRIAGE[request.path_params["action"]]
        until = parse_day(fields["until"], "until") if fields.get("until") else None
        await web.write(web.app.triage_from, session.username, _address(request), finding_id, action,
                        fields.get("note") or None, until)
        return RedirectResponse(f"/findings/{quote(finding_id)}", status_code=303)

    async def approve(request: Request) -> Response:
        session, _ = await web.user(request, "admin")
        fields = await web.form(request, session)
        finding_id = request.path_params["finding_id"]
        made = await web.write(web.app.approve_from, session.username, _address(request), finding_id,
                               fields.get("note") or "", fields.get("from") or None, fields.get("until") or None)
        return RedirectResponse(f"/findings/{quote(finding_id)}?approved={made[0].approval_id}", status_code=303)

    async def evidence_mail(request: Request) -> Response:
        session, role = await web.user(request)
        finding_id, sha = request.path_params["finding_id"], request.path_params["sha256"]
        raw, text = await web.read(web.app.evidence_mail, finding_id, sha)
        if request.query_params.get("raw"):  # the .eml as archived; named by its hash, never by the mail
            return Response(raw, media_type="application/octet-stream",
                            headers={"content-disposition": f'attachment; filename="{sha[:64]}.eml"'})
        return web.page(request, "mail.html.j2", session, role, finding_id=finding_id, sha256=sha, text=text)

    async def api_findings(request: Request) -> Response:
        await web.user(request)
        given = _filters(request)
        text = await web.read(web.app.findings_json, given["status"], given["rule"], severity=given["severity"],
                              gstin=given["gstin"], asp=given["asp"], since=given["since"], until=given["until"])
        return Response(text, media_type="application/json", headers={"cache-control": "no-store"})

    async def sql(request: Request) -> Response:
        session, role = await web.user(request)
        query, canned = request.query_params.get("q"), request.query_params.get("query")
        params = {k[2:]: v for k, v in request.query_params.items() if k.startswith("p.") and v}
        wanted = request.query_params.get("format")
        result, error = None, None
        if query or canned:
            try:
                if wanted == "xlsx":
                    return await web.download("query.xlsx", XLSX,
                                              lambda out: _query_xlsx(web.app, query, canned, params, out))
                result = await web.read(_run_query, web.app, query, canned, params)
            except (AlertprocError, Exception) as exc:  # noqa: BLE001 - a query's error is shown to its author
                error = str(exc).strip().splitlines()[0][:500]
        if result is not None and wanted == "csv":
            return Response(result[1], media_type="text/csv",
                            headers={"content-disposition": 'attachment; filename="query.csv"'})
        return web.page(request, "sql.html.j2", session, role, q=query or "", canned=canned or "", params=params,
                        queries=await web.read(web.app.queries), result=result and _table(result[0]), error=error)

    async def reports(request: Request) -> Response:
        session, role = await web.user(request)
        folder = Path(web.app.settings.report_dir)
        files = sorted((p.name for p in folder.glob("alertproc-*.html")), reverse=True) if folder.is_dir() else []
        return web.page(request, "reports.html.j2", session, role, files=files, made=request.query_params.get("made"))

    async def make_report(request: Request) -> Response:
        session, _ = await web.user(request, "auditor")
        fields = await web.form(request, session)
        path = await web.read(web.app.report, fields.get("week") or None, fields.get("since") or None,
                              fields.get("until") or None)
        return RedirectResponse(f"/reports?made={quote(path.name)}", status_code=303)

    async def report_file(request: Request) -> Response:
        await web.user(request)
        name = request.path_params["name"]
        path = Path(web.app.settings.report_dir) / name
        if not re.fullmatch(r"alertproc-[\w.-]+\.html", name) or not path.is_file():
            return Response("no such report", status_code=404)
        return FileResponse(path, media_type="text/html", headers={"cache-control": "no-store"})

    async def audit(request: Request) -> Response:
        session, role = await web.user(request, "admin")
        return web.page(request, "audit.html.j2", session, role, users=await web.read(web.app.users),
                        log=await web.read(web.app.audit_log), roles=Alertproc.ROLES,
                        done=request.query_params.get("done"))

    async def add_user(request: Request) -> Response:
        session, _ = await web.user(request, "admin")
        fields = await web.form(request, session)
        name = fields.get("username", "").strip()
        await web.write(web.app.add_user, name, fields.get("role", ""), _new_password(fields), session.username,
                        _address(request))
        return RedirectResponse(f"/audit?done={quote(f'added {name}')}", status_code=303)

    async def change_user(request: Request) -> Response:
        """An admin's change to a user: role, password or removal. Never their own role or
        account (an admin cannot lock the team out from the browser; `alertproc user` can)."""
        session, _ = await web.user(request, "admin")
        fields = await web.form(request, session)
        name, change = request.path_params["username"], request.path_params["change"]
        if change not in ("role", "password", "remove"):
            return Response("no such change: role, password or remove", status_code=404)
        if name == session.username and change != "password":
            raise ConfigError("you cannot change your own role or remove yourself here: ask another admin, "
                              "or use `alertproc user` on the server")
        if change == "role":
            await web.write(web.app.set_role, name, fields.get("role", ""), session.username, _address(request))
        elif change == "password":
            await web.write(web.app.set_password, name, _new_password(fields), None, session.username,
                            _address(request))
        else:
            if fields.get("confirm") != name:
                raise ConfigError(f"type the user name ({name}) to confirm the removal")
            await web.write(web.app.remove_user, name, session.username, _address(request))
        done = f"removed {name}" if change == "remove" else f"{change} of {name} changed"
        response = RedirectResponse(f"/audit?done={quote(done)}", status_code=303)
        if name == session.username:  # a new password ended this session too: start one with it
            key, _ = web.sessions.start(name)
            _cookie(response, web, guard.SESSION_COOKIE, key, guard.MAX_SECONDS)
        return response

    async def gstin(request: Request) -> Response:
        session, role = await web.user(request)
        found = await web.read(web.app.gstin, request.path_params["gstin"], request.query_params.get("since") or None,
                               request.query_params.get("until") or None)
        return web.page(request, "gstin.html.j2", session, role, **found, timelines=_timelines(found))

    async def asp(request: Request) -> Response:
        session, role = await web.user(request)
        found = await web.read(web.app.asp, request.path_params["pair_key"], request.query_params.get("since") or None,
                               request.query_params.get("until") or None)
        return web.page(request, "asp.html.j2", session, role, **found)

    async def evidence_pack(request: Request) -> Response:
        await web.user(request, "auditor")
        finding = request.path_params.get("finding_id")
        params = request.query_params
        return await web.download(
            f"evidence-{finding[:12]}.zip" if finding else "evidence.zip", "application/zip",
            lambda out: web.app.evidence(out, params.get("week") or None, params.get("since") or None,
                                         params.get("until") or None, finding))

    async def findings_xlsx(request: Request) -> Response:
        await web.user(request)
        since, until = request.query_params.get("since") or None, request.query_params.get("until") or None
        return await web.download("findings.xlsx", XLSX, lambda out: web.app.export("findings", out, "xlsx", since, until))

    async def stylesheet(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "report.css":  # the report's own (a templates_dir's over the shipped one): one style
            path = web.app.report_stylesheet()
        elif name == "app.css":
            path = PAGES / name
        else:
            return Response("no such file", status_code=404)
        return FileResponse(path, media_type="text/css", headers={"cache-control": "max-age=3600"})

    return [
        Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview), Route("/findings", findings),
        Route("/findings/{finding_id:str}/evidence.zip", evidence_pack),
        Route("/findings/{finding_id:str}", finding),
        Route("/findings/{finding_id:str}/approve", approve, methods=["POST"]),
        Route("/findings/{finding_id:str}/{action:str}", triage, methods=["POST"]),
        Route("/findings/{finding_id:str}/mail/{sha256:str}", evidence_mail),
        Route("/api/findings", api_findings), Route("/sql", sql),
        Route("/reports", reports, methods=["GET"]), Route("/reports", make_report, methods=["POST"]),
        Route("/reports/{name:str}", report_file), Route("/audit", audit),
        Route("/users", add_user, methods=["POST"]),
        Route("/users/{username:str}/{change:str}", change_user, methods=["POST"]),
        Route("/gstins/{gstin:str}", gstin), Route("/asps/{pair_key:str}", asp),
        Route("/evidence.zip", evidence_pack),
        Route("/export/findings.xlsx", findings_xlsx),
        Route("/static/{name:str}", stylesheet),
    ]


LANES = ("consent", "refresh", "revocation", "access successful", "access failed", "access revoked", "token")
CHART_WIDTH, CHART_LEFT, LANE_HEIGHT = 760, 130, 16


def _timelines(found: dict) -> list[dict]:
    """Per ASP, the SVG geometry of its events in the period: a lane per kind, x by time; a
    consent is drawn as a bar to the end of its validity."""
    period = found["period"]
    start, span = period.since.timestamp(), (period.until - period.since).total_seconds()

    def x(at: float) -> float:
        return round(CHART_LEFT + (min(max(at, start), start + span) - start) / span * (CHART_WIDTH - CHART_LEFT), 1)

    charts: dict[str, dict] = {}
    for event in found["events"]:
        chart = charts.setdefault(event["pair_key"] or event["asp_name"] or "?",
                                  {"asp_name": event["asp_name"], "pair_key": event["pair_key"], "points": []})
        chart["points"].append({**event, "x": x(float(event["at_s"])),
                                "x2": x(float(event["until_s"])) if event["until_s"] else None})
    for chart in charts.values():
        chart["lanes"] = sorted({p["lane"] for p in chart["points"]},
                                key=lambda lane: LANES.index(lane) if lane in LANES else len(LANES))
        for point in chart["points"]:
            point["y"] = 10 + LANE_HEIGHT * chart["lanes"].index(point["lane"])
        chart["height"] = 14 + LANE_HEIGHT * len(chart["lanes"])
    return list(charts.values())


def _run_query(app: Alertproc, query: str | None, canned: str | None, params: dict) -> tuple[list, str]:
    """(column names and the first rows, the whole result as CSV): the sandbox of `alertproc sql`."""
    relation = app.query(canned, params) if canned else app.sql(query)
    if relation is None:
        raise ConfigError("that statement returns no rows; the SQL page runs queries")
    text, _ = app.save_rows(relation, "csv")
    return list(csv.reader(io.StringIO(text))), text


def _query_xlsx(app: Alertproc, query: str | None, canned: str | None, params: dict, out: Path) -> None:
    """A query's whole result as an XLSX file, neutralised like the exports."""
    relation = app.query(canned, params) if canned else app.sql(query)
    if relation is None:
        raise ConfigError("that statement returns no rows; the SQL page runs queries")
    app.save_rows(relation, "xlsx", out)


def _table(rows: list[list[str]]) -> dict:
    return {"columns": rows[0] if rows else [], "rows": rows[1:ROWS_SHOWN + 1], "total": max(len(rows) - 1, 0)}


def build(app: Alertproc, secure_cookies: bool = True) -> Starlette:
    """The ASGI application over ``app``."""
    web = Web(app, secure_cookies)

    async def denied(request: Request, exc: Denied) -> Response:
        if exc.status == 401 and not request.url.path.startswith("/api/"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return web.page(request, "error.html.j2", None, None, status=exc.status, message=str(exc))

    async def refused(request: Request, exc: AlertprocError) -> Response:
        status = 503 if isinstance(exc, LockedError) else 400
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=status)
        return web.page(request, "error.html.j2", None, None, status=status, message=str(exc))

    async def headers(scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in guard.HEADERS.items()]
            await send(message)
        await inner(scope, receive, with_headers)

    inner = Starlette(routes=routes(web), exception_handlers={Denied: denied, AlertprocError: refused})
    return headers


def serve(app: Alertproc, host: str, port: int, secure_cookies: bool = True, proxies: tuple[str, ...] = ()) -> None:
    """Run the web app until stopped (uvicorn, one process). X-Forwarded-For is believed only
    when the request comes from one of ``proxies``: anyone else could write it."""
    import uvicorn
    uvicorn.run(build(app, secure_cookies), host=host, port=port, log_level="info", server_header=False,
                proxy_headers=bool(proxies), forwarded_allow_ips=list(proxies) or None)

