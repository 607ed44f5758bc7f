"""PostgreSQL access the way Odoo 18 does it (odoo/sql_db.py, odoo/service/db.py).

Connection settings: every db_host/db_port/db_user/db_password/db_sslmode that
is set (truthy) is passed to libpq explicitly, so PG* variables cannot replace
it; one that is unset is left out, and libpq falls back to PGHOST, PGPASSWORD,
~/.pgpass and its defaults exactly as it does under Odoo.
"""

import logging
import os
import re
import threading
import time

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from .config import config

_logger = logging.getLogger("odoo.sql_db")
_counter_lock = threading.Lock()
sql_counter = 0


class DatabaseExists(Warning):
    pass


class CountingCursor(psycopg2.extensions.cursor):
    """Counts queries per thread (for werkzeug's perf columns) and in total
    (for the "N queries" of module loading lines)."""

    def execute(self, query, params=None):
        global sql_counter
        thread = threading.current_thread()
        started = time.time()
        try:
            return super().execute(query, params)
        finally:
            if hasattr(thread, "query_count"):
                thread.query_count += 1
                thread.query_time += time.time() - started
            with _counter_lock:
                sql_counter += 1


def connection_info(dbname):
    app_name = os.environ.get("ODOO_PGAPPNAME", "odoo-{pid}").replace("{pid}", str(os.getpid()))[:63]
    info = {"database": dbname, "application_name": app_name}
    for key in ("host", "port", "user", "password", "sslmode"):
        value = config["db_" + key]
        if value:
            info[key] = value
    return info


def connect(dbname, autocommit=False):
    conn = psycopg2.connect(cursor_factory=CountingCursor, **connection_info(dbname))
    conn.autocommit = autocommit
    return conn


def list_dbs(force=False):
    """Databases owned by the connected role, like Odoo's list_dbs."""
    from .exceptions import AccessDenied

    if not config["list_db"] and not force:
        raise AccessDenied()
    if not config["dbfilter"] and config["db_name"]:
        # Odoo: with -d/db_name and no dbfilter, the list is db_name itself.
        return sorted(name.strip() for name in config["db_name"].split(","))
    templates = tuple({"postgres", config["db_template"]})
    conn = connect("postgres")
    try:
        with conn.cursor() as cr:
            try:
                cr.execute(
                    "SELECT datname FROM pg_database"
                    " WHERE datdba = (SELECT usesysid FROM pg_user WHERE usename = current_user)"
                    " AND NOT datistemplate AND datallowconn AND datname NOT IN %s ORDER BY datname",
                    (templates,),
                )
                return [name for (name,) in cr.fetchall()]
            except Exception:
                _logger.exception("Listing databases failed:")
                return []
    finally:
        conn.close()


def db_filter(dbs, host=""):
    """Odoo's dbfilter: a regular expression matched at the start of each name,
    where %h is the request's host (without www.) and %d its first label."""
    if config["dbfilter"]:
        host = (host or "").partition(":")[0]
        if host.startswith("www."):
            host = host[4:]
        domain = host.partition(".")[0]
        pattern = re.compile(config["dbfilter"].replace("%h", re.escape(host)).replace("%d", re.escape(domain)))
        return [db for db in dbs if pattern.match(db)]
    if config["db_name"]:
        exposed = {name.strip() for name in config["db_name"].split(",")}
        return sorted(exposed.intersection(dbs))
    return list(dbs)


def db_list(force=False, host=""):
    try:
        dbs = list_dbs(force)
    except psycopg2.OperationalError:
        return []
    return db_filter(dbs, host)


def exists(dbname):
    conn = connect("postgres")
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            return bool(cr.fetchall())
    finally:
        conn.close()


def create_empty_database(name):
    """Odoo's _create_empty_database: DatabaseExists when it is there, else
    CREATE DATABASE ... ENCODING 'unicode' [LC_COLLATE 'C'] TEMPLATE <db_template>
    and the pg_trgm extension (a warning when the role may not create it)."""
    template = config["db_template"]
    conn = connect("postgres")
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT datname FROM pg_database WHERE datname = %s", (name,))
            if cr.fetchall():
                raise DatabaseExists(f"database {name!r} already exists!")
        conn.rollback()
        conn.autocommit = True
        # 'C' collation is only safe with template0, but gives more useful indexes.
        collate = sql.SQL("LC_COLLATE 'C'" if template == "template0" else "")
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'unicode' {} TEMPLATE {}").format(
                    sql.Identifier(name), collate, sql.Identifier(template)
                )
            )
    finally:
        conn.close()
    try:
        conn = connect(name, autocommit=True)
        try:
            with conn.cursor() as cr:
                cr.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                if config["unaccent"]:
                    cr.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
                    cr.execute("ALTER FUNCTION unaccent(text) IMMUTABLE")
        finally:
            conn.close()
    except psycopg2.Error as error:
        logging.getLogger("odoo.service.db").warning("Unable to create PostgreSQL extensions : %s", error)


def server_reachable():
    """What /web/health?db_server_status=1 checks: a cursor on `postgres`."""
    try:
        conn = connect("postgres")
        conn.cursor().close()
        conn.close()
        return True
    except psycopg2.Error:
        return False
