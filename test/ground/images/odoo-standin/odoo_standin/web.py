"""The HTTP application: which database a request is for, and the routes the
chart and its users touch, with Odoo 18's answers.

Database selection (odoo/http.py): the session's database if dbfilter still
accepts it, else the only database that db_list(force=True) returns (the
databases owned by db_user that match dbfilter), else none ("nodb"). A
request for a database needs its registry: while that database is loading
(an install at start) the request waits, like Odoo's registry lock makes it
wait; a registry that fails to load makes the request fail with 500.

Routes: /web/health, /web/login, /web/session/logout, /, /web, /odoo,
/web/database/{selector,manager,<operation>}, /web/webclient/version_info,
/websocket, and <module>/static/<file> of any module on the addons paths.
Anything else is 404.
"""

import datetime
import json
import logging
import mimetypes
import os
import threading
import time
import urllib.parse

import psycopg2

from . import modules, pages, pg, release, schema, sessions, websocket
from .config import config
from .exceptions import AccessDenied
from .loading import Registry

_logger = logging.getLogger("odoo.http")
_users_logger = logging.getLogger("odoo.addons.base.models.res_users")
_db_logger = logging.getLogger("odoo.service.db")

CSP_FRAME = "frame-ancestors 'self'"
CREDENTIAL_FAILURES = {}  # (db, ip) -> (count, last failure), as Odoo keeps per registry
_failures_lock = threading.Lock()

DATABASE_OPERATIONS = {
    "create": "Database creation error: %s",
    "duplicate": "Database duplication error: %s",
    "drop": "Database deletion error: %s",
    "backup": "Database backup error: %s",
    "restore": "Database restore error: %s",
    "change_password": "Master password update error: %s",
}


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type="text/html; charset=utf-8", upgrade=False):
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        if content_type and not any(name.lower() == "content-type" for name, _ in self.headers):
            self.headers.insert(0, ("Content-Type", content_type))
        self.upgrade = upgrade


class HttpError(Exception):
    def __init__(self, status, description=None, headers=()):
        super().__init__(description or status)
        self.response = Response(status, pages.http_error(status, description), headers)


def redirect(location, code=303, local=True):
    if local:
        parts = urllib.parse.urlsplit(location)
        location = "/" + urllib.parse.urlunsplit(("", "", parts.path, parts.query, parts.fragment)).lstrip("/\\")
    return Response(code, pages.redirecting(location), [("Location", location)])


class Context:
    """What a route gets: the request, its session and the chosen database."""

    def __init__(self, request, session, db, listener):
        self.request = request
        self.session = session
        self.db = db
        self.listener = listener
        self.save_session = True


def pick_database(session, host):
    if session.get("db") and pg.db_filter([session["db"]], host):
        return session["db"]
    dbs = pg.db_list(force=True, host=host)
    return dbs[0] if len(dbs) == 1 else None


def handle(request, listener):
    thread = threading.current_thread()
    thread.query_count, thread.query_time, thread.perf_t0 = 0, 0.0, time.time()
    if hasattr(thread, "dbname"):
        del thread.dbname
    try:
        static = serve_static(request)
        if static is not None:
            return static
        session = sessions.get(request.cookies.get("session_id"))
        db = pick_database(session, request.host)
        if session.get("db") != db:
            if session.get("db"):
                _logger.warning("Logged into database %r, but dbfilter rejects it; logging session out.", session["db"])
                session.logout()
            session["db"] = db
        ctx = Context(request, session, db, listener)
        response = serve_db(ctx) if db else route(ctx)
        finish_session(ctx, response)
        return response
    except HttpError as error:
        return error.response
    except Exception:
        _logger.error("Exception during request handling.", exc_info=True)
        return Response(500, pages.http_error(500))


def serve_db(ctx):
    threading.current_thread().dbname = ctx.db
    try:
        registry = Registry.get(ctx.db)
        # Odoo's check_signaling opens a cursor: an unreachable or dropped
        # database sends the request down the no-database path.
        pg.connect(ctx.db).close()
    except (psycopg2.OperationalError, psycopg2.ProgrammingError) as error:
        _logger.warning("Database or registry unusable, trying without", exc_info=error)
        ctx.db = None
        ctx.session.logout()
        del threading.current_thread().dbname
        return route(ctx)
    if not registry.initialized:
        # Odoo 18 finds no ir.http model in an uninitialized database.
        raise KeyError("ir.http")
    ctx.registry = registry
    return route(ctx)


def finish_session(ctx, response):
    if not ctx.save_session:
        return
    session = ctx.session
    if session.is_dirty:
        sessions.save(session)
    if ctx.request.cookies.get("session_id") != session.sid:
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=sessions.MAX_INACTIVITY)
        response.headers.append(
            (
                "Set-Cookie",
                f"session_id={session.sid}; Expires={expires.strftime('%a, %d %b %Y %H:%M:%S GMT')};"
                f" Max-Age={sessions.MAX_INACTIVITY}; HttpOnly; Path=/",
            )
        )


ROUTES = {}


def route_for(*paths):
    def register(handler):
        for path in paths:
            ROUTES[path] = handler
        return handler

    return register


def route(ctx):
    path = ctx.request.path
    handler = ROUTES.get(path)
    if handler is None and (path == "/odoo" or path.startswith("/odoo/")):
        handler = webclient
    if handler is None:
        raise HttpError(404)
    return handler(ctx)


def serve_static(request):
    """<module>/static/<path>, from any module on the addons paths."""
    parts = request.path.lstrip("/").split("/", 2)
    if len(parts) != 3 or parts[1] != "static" or request.method not in ("GET", "HEAD"):
        return None
    module_dir = modules.module_path(parts[0])
    if not module_dir:
        return None
    static_dir = os.path.realpath(os.path.join(module_dir, "static"))
    target = os.path.realpath(os.path.join(static_dir, parts[2]))
    if not target.startswith(static_dir + os.sep) or not os.path.isfile(target):
        raise HttpError(404)
    with open(target, "rb") as handle:
        body = handle.read()
    content_type = mimetypes.guess_type(target)[0] or "application/octet-stream"
    return Response(200, body, [("Cache-Control", "public, max-age=604800")], content_type)


@route_for("/web/health")
def health(ctx):
    ctx.save_session = False
    info, status = {"status": "pass"}, 200
    if ctx.request.params.get("db_server_status"):
        if pg.server_reachable():
            info["db_server_status"] = True
        else:
            info["db_server_status"] = False
            info["status"] = "fail"
            status = 500
    return Response(status, json.dumps(info).encode(), [("Cache-Control", "no-store")], "application/json")


def require_csrf(ctx):
    token = ctx.request.params.get("csrf_token")
    secret = database_secret(ctx.db)
    if not sessions.validate_csrf(ctx.session, secret, token):
        if token is not None:
            _logger.warning("CSRF validation failed on path '%s'", ctx.request.path)
        else:
            _logger.warning(
                "No CSRF validation token provided for path %r\n\nOdoo URLs are CSRF-protected by default "
                "(when accessed with unsafe\nHTTP methods).",
                ctx.request.path,
            )
        raise HttpError(400, "Session expired (invalid CSRF token)")


def database_secret(db):
    conn = pg.connect(db)
    try:
        with conn.cursor() as cr:
            return schema.get_param(cr, "database.secret")
    finally:
        conn.close()


@route_for("/web/login")
def login(ctx):
    if not ctx.db:
        return redirect("/web/database/selector")
    request, session = ctx.request, ctx.session
    target = request.params.get("redirect")
    if request.method == "GET" and target and session.get("uid"):
        return redirect(target)
    error = None
    if request.method == "POST":
        require_csrf(ctx)
        try:
            uid = authenticate(ctx, request.params.get("login", ""), request.params.get("password", ""))
        except AccessDenied as denied:
            error = "Wrong login/password" if denied.args == AccessDenied().args else denied.args[0]
        else:
            session.set(uid=uid, login=request.params.get("login"), db=ctx.db)
            sessions.rotate(session)
            return redirect(target or "/odoo")
    body = pages.login(
        sessions.csrf_token(session, database_secret(ctx.db)),
        login_value=request.params.get("login", ""),
        redirect=target,
        error=error,
        list_db=config["list_db"],
    )
    return Response(
        200,
        body,
        [("Cache-Control", "no-cache"), ("X-Frame-Options", "SAMEORIGIN"), ("Content-Security-Policy", CSP_FRAME)],
    )


def authenticate(ctx, login_name, password):
    """res.users._login and authenticate of Odoo 18: active user, password
    hash, login cooldown per source address, res_users_log, and web.base.url
    updated from the request's root URL when an administrator logs in."""
    db, ip = ctx.db, ctx.request.remote_addr
    conn = pg.connect(db)
    try:
        with conn.cursor() as cr:
            cooldown_failures = int(schema.get_param(cr, "base.login_cooldown_after_failure", "5") or 0)
            cooldown_seconds = int(schema.get_param(cr, "base.login_cooldown_duration", "60") or 0)
            with _failures_lock:
                failures, last_failure = CREDENTIAL_FAILURES.get((db, ip), (0, None))
            if cooldown_failures and failures >= cooldown_failures and time.time() - last_failure < cooldown_seconds:
                _users_logger.warning(
                    "Login attempt ignored for %s (user %r) on %s: %d failures since last success, last failure at %s. "
                    "You can configure the number of login failures before a user is put on cooldown as well as the "
                    "duration in the System Parameters. Disable this feature by setting "
                    '"base.login_cooldown_after_failure" to 0.',
                    ip, login_name, db, failures, datetime.datetime.fromtimestamp(last_failure),
                )
                raise AccessDenied("Too many login failures, please wait a bit before trying again.")
            cr.execute("SELECT id, password FROM res_users WHERE login = %s AND active ORDER BY id LIMIT 1", (login_name,))
            row = cr.fetchone()
            valid, replacement = schema.verify_password(password, row[1]) if row and password else (False, None)
            if not valid:
                with _failures_lock:
                    CREDENTIAL_FAILURES[(db, ip)] = (failures + 1, time.time())
                _users_logger.info("Login failed for db:%s login:%s from %s", db, login_name, ip)
                raise AccessDenied()
            uid = row[0]
            with _failures_lock:
                CREDENTIAL_FAILURES.pop((db, ip), None)
            if replacement:
                cr.execute("UPDATE res_users SET password = %s WHERE id = %s", (replacement, uid))
            now = schema.utcnow()
            cr.execute("INSERT INTO res_users_log (create_uid, create_date, write_uid, write_date) VALUES (%s, %s, %s, %s)", (uid, now, uid, now))
            _users_logger.info("Login successful for db:%s login:%s from %s", db, login_name, ip)
            if is_system(cr, uid) and not schema.get_param(cr, "web.base.url.freeze"):
                schema.set_param(cr, "web.base.url", ctx.request.url_root.rstrip("/"))
        conn.commit()
        return uid
    finally:
        conn.close()


def is_system(cr, uid):
    cr.execute(
        "SELECT 1 FROM res_groups_users_rel rel JOIN ir_model_data data"
        " ON data.res_id = rel.gid AND data.model = 'res.groups' AND data.module = 'base' AND data.name = 'group_system'"
        " WHERE rel.uid = %s",
        (uid,),
    )
    return bool(cr.fetchall())


def logged_in_user(ctx):
    uid = ctx.session.get("uid")
    if not uid or not ctx.db:
        return None
    conn = pg.connect(ctx.db)
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT login FROM res_users WHERE id = %s AND active", (uid,))
            row = cr.fetchone()
    finally:
        conn.close()
    if row is None:
        ctx.session.logout(keep_db=True)
        return None
    return row[0]


@route_for("/")
def index(ctx):
    query = ctx.request.query_string
    return redirect("/odoo" + (f"?{query}" if query else ""))


@route_for("/web")
def webclient(ctx):
    if not ctx.db:
        return redirect("/web/database/selector")
    user = logged_in_user(ctx)
    if user is None:
        return redirect("/web/login?" + urllib.parse.urlencode({"redirect": ctx.request.full_path}))
    return Response(200, pages.webclient(user, ctx.db), [("X-Frame-Options", "DENY")])


@route_for("/web/session/logout")
def logout(ctx):
    ctx.session.logout(keep_db=True)
    return redirect(ctx.request.params.get("redirect") or "/odoo")


@route_for("/web/database/selector", "/web/database/manager")
def database_manager(ctx):
    databases = pg.db_list() if config["list_db"] else ([ctx.db] if ctx.db else [])
    return Response(200, pages.database_manager(config["list_db"], databases))


def database_operation(ctx):
    """Odoo checks the master password, then refuses every database
    management function when list_db is False; the stand-in implements none."""
    operation = ctx.request.path.rsplit("/", 1)[-1]
    if ctx.request.method != "POST":
        raise HttpError(405)
    try:
        if not verify_master_password(ctx.request.params.get("master_pwd", "")):
            raise AccessDenied()
        if not config["list_db"]:
            _db_logger.error("Database management functions blocked, admin disabled database listing")
            raise AccessDenied()
        raise NotImplementedError("the k8s-dev-sandbox Odoo stand-in does not implement database management")
    except (AccessDenied, NotImplementedError) as error:
        message = DATABASE_OPERATIONS[operation] % (str(error) or repr(error))
        databases = pg.db_list() if config["list_db"] else []
        return Response(200, pages.database_manager(config["list_db"], databases, error=message))


for _operation in DATABASE_OPERATIONS:
    ROUTES[f"/web/database/{_operation}"] = database_operation


def verify_master_password(password):
    stored = config["admin_passwd"]
    if not stored or not password:
        return False
    valid, _ = schema.verify_password(password, stored)
    return valid


@route_for("/web/webclient/version_info")
def version_info(ctx):
    try:
        call_id = json.loads(ctx.request.body or b"{}").get("id")
    except ValueError:
        call_id = None
    result = {
        "server_version": release.VERSION,
        "server_version_info": list(release.VERSION_INFO),
        "server_serie": release.SERIE,
        "protocol_version": release.PROTOCOL_VERSION,
    }
    return Response(200, json.dumps({"jsonrpc": "2.0", "id": call_id, "result": result}).encode(), content_type="application/json")


@route_for("/websocket")
def open_websocket(ctx):
    ctx.save_session = False
    if not ctx.db or "bus" not in ctx.registry.loaded_modules:
        raise HttpError(404)
    if not ctx.listener.serves_websocket:
        # Odoo 18 with workers > 0: the HTTP workers cannot hold a websocket.
        raise RuntimeError("Couldn't bind the websocket. Is the connection opened on the evented port (8072)?")
    try:
        accept = websocket.check_handshake(ctx.request.headers)
    except websocket.HandshakeError as error:
        raise HttpError(error.status, str(error), error.headers) from None
    return Response(
        101,
        b"",
        [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)],
        content_type=None,
        upgrade=True,
    )
