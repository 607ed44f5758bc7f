"""Odoo 18's log output, so tools that read Odoo logs read the stand-in's:

    2025-01-01 12:00:00,000 4242 INFO dbname odoo.modules.loading: message <perf>

- times are UTC (odoo/__init__.py sets TZ=UTC);
- `dbname` is the database the current thread works on, `?` when none;
- `perf` is empty for ordinary lines (hence the trailing space) and
  "<queries> <query seconds> <other seconds>" on werkzeug request lines;
- level 25 ("runbot") is displayed as INFO;
- levels per logger come from ':INFO', then --log-level's shorthand, then
  --log-handler entries, as in odoo/netsvc.py.
"""

import logging
import logging.handlers
import os
import sys
import threading
import time

RUNBOT = 25
logging.addLevelName(RUNBOT, "INFO")

FORMAT = "%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s %(perf_info)s"

DEFAULT_LOG_CONFIGURATION = ["odoo.http.rpc.request:INFO", "odoo.http.rpc.response:INFO", ":INFO"]
PSEUDOCONFIG_MAPPER = {
    "debug_rpc_answer": ["odoo:DEBUG", "odoo.sql_db:INFO", "odoo.http.rpc:DEBUG"],
    "debug_rpc": ["odoo:DEBUG", "odoo.sql_db:INFO", "odoo.http.rpc.request:DEBUG"],
    "debug": ["odoo:DEBUG", "odoo.sql_db:INFO"],
    "debug_sql": ["odoo.sql_db:DEBUG"],
    "info": [],
    "runbot": ["odoo:RUNBOT", "werkzeug:WARNING"],
    "warn": ["odoo:WARNING", "werkzeug:WARNING"],
    "error": ["odoo:ERROR", "werkzeug:ERROR"],
    "critical": ["odoo:CRITICAL", "werkzeug:CRITICAL"],
}

_base_record_factory = logging.getLogRecordFactory()


def _odoo_record(*args, **kwargs):
    record = _base_record_factory(*args, **kwargs)
    record.pid = os.getpid()
    record.dbname = getattr(threading.current_thread(), "dbname", "?")
    record.perf_info = ""
    return record


class PerfFilter(logging.Filter):
    """Adds the request's query count and timings to werkzeug's lines."""

    def filter(self, record):
        thread = threading.current_thread()
        if hasattr(thread, "query_count"):
            remaining = time.time() - thread.perf_t0 - thread.query_time
            record.perf_info = f"{thread.query_count} {thread.query_time:.3f} {remaining:.3f}"
            del thread.query_count
        else:
            record.perf_info = "- - -"
        return True


def level_of(name):
    if name == "RUNBOT":
        return RUNBOT
    value = getattr(logging, name, None)
    return value if isinstance(value, int) else logging.INFO


def setup(config):
    os.environ["TZ"] = "UTC"
    time.tzset()
    logging.setLogRecordFactory(_odoo_record)
    logging.captureWarnings(True)

    if config["logfile"]:
        os.makedirs(os.path.dirname(config["logfile"]) or ".", exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(config["logfile"])
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    logging.getLogger("werkzeug").addFilter(PerfFilter())

    items = DEFAULT_LOG_CONFIGURATION + PSEUDOCONFIG_MAPPER.get(config["log_level"], []) + list(config["log_handler"])
    for item in items:
        name, _, level = item.strip().partition(":")
        logging.getLogger(name).setLevel(level_of(level))
