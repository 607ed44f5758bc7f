"""Running the server: Odoo 18's odoo/service/server.py as far as the chart
can tell.

workers = 0 (threaded): the HTTP port serves everything, /websocket
included; it listens before the databases given with -d/db_name are loaded,
and requests for a database wait until its load ends.

workers > 0 (prefork): the HTTP port is bound before the databases load but
answers nothing until they are loaded (Odoo's workers start after the
preload); then the gevent port opens and serves everything, /websocket
included, while /websocket on the HTTP port fails with 500 as in Odoo. The
stand-in does this with threads in one process, not with worker processes.

--stop-after-init: load (install, update, test), then exit with the number of
databases whose tests failed (255 when a database failed to load). With tests
enabled the HTTP port is opened anyway, as Odoo does (for HttpCase).

SIGTERM/SIGINT: graceful stop; a second one forces the exit. SIGHUP: restart.
"""

import logging
import os
import signal
import sys
import threading
import time

from . import pg, testing, websocket
from .config import config
from .httpd import Listener
from .loading import Registry

_logger = logging.getLogger("odoo.service.server")
_result_logger = logging.getLogger("odoo.tests.result")


class Server:
    def __init__(self):
        self.prefork = bool(config["workers"])
        self.listeners = []
        self.quit_signals_received = 0
        self.restart_requested = False
        self.interface = config["http_interface"] or "0.0.0.0"

    def signal_handler(self, sig, frame):
        if sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.restart_requested = sig == signal.SIGHUP
            self.quit_signals_received += 1
            if self.quit_signals_received > 1:
                sys.stderr.write("Forced shutdown.\n")
                os._exit(0)
            raise KeyboardInterrupt()

    def listen(self, port, serves_websocket, accepting, label):
        listener = Listener(self.interface, port, serves_websocket, accepting)
        listener.start()
        self.listeners.append(listener)
        _logger.info("%s running on %s:%s", label, self.interface, port)
        return listener

    def run(self, preload, stop):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.signal_handler)
        if self.prefork and config["test_enable"]:
            _logger.warning("Unit testing in workers mode could fail; use --workers 0.")
        if "reload" in config["dev_mode"]:
            _logger.info("AutoReload watcher running with watchdog")

        wants_http = config["test_enable"] or (config["http_enable"] and not stop)
        http_listener = None
        with Registry.lock:
            if wants_http or (self.prefork and config["http_enable"]):
                http_listener = self.listen(
                    config["http_port"], not self.prefork, accepting=not self.prefork, label="HTTP service (werkzeug)"
                )
            rc = preload_registries(preload)

        if stop:
            if config["test_enable"] and not self.prefork:
                for db, registry in sorted(Registry.registries.items()):
                    report = registry.assertion_report
                    log = _result_logger.error if not report.wasSuccessful() else _result_logger.warning if not report.testsRun else _result_logger.info
                    log("%s when loading database %r", report, db)
            self.stop()
            return rc

        if self.prefork and http_listener is not None:
            http_listener.accepting.set()
            self.listen(config["gevent_port"], True, accepting=True, label="Evented Service (longpolling)")
        try:
            while self.quit_signals_received == 0:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        self.stop()
        if self.restart_requested:
            _logger.info("Restarting")
            os.execv(sys.executable, [sys.executable, *sys.argv])
        return 0

    def stop(self):
        _logger.info("Initiating shutdown")
        _logger.info("Hit CTRL-C again or send a second signal to force the shutdown.")
        websocket.close_all()
        for listener in self.listeners:
            listener.stop()
        logging.shutdown()


def preload_registries(dbnames):
    rc = 0
    for dbname in dbnames:
        try:
            threading.current_thread().dbname = dbname
            update_module = bool(config["init"] or config["update"])
            registry = Registry.new(dbname, update_module=update_module)
            report = registry.assertion_report
            if config["test_enable"]:
                started, queries_at = time.time(), pg.sql_counter
                module_names = registry.updated_modules if update_module else sorted(registry.loaded_modules)
                _logger.info("Starting post tests")
                tests_before = report.testsRun
                result = testing.run_suite(testing.make_suite(module_names, "post_install"))
                report.update(result)
                _logger.info(
                    "%d post-tests in %.2fs, %s queries",
                    report.testsRun - tests_before, time.time() - started, pg.sql_counter - queries_at,
                )
                report.log_stats()
            if not report.wasSuccessful():
                rc += 1
        except Exception:
            _logger.critical("Failed to initialize database `%s`.", dbname, exc_info=True)
            return -1
    return rc


def start(preload, stop):
    rc = Server().run(preload, stop)
    return rc if rc else 0
