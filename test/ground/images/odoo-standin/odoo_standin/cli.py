"""`odoo [command] [options]`: Odoo 18's odoo/cli/command.py and
odoo/cli/server.py.

The default command is `server`; other Odoo commands are refused by name.
Before anything runs: a warning when running as root, the configuration
parsed (usage errors exit 2), logging set up, the refusal of the `postgres`
role (Odoo 18 checks db_user, or PGUSER when db_user is unset), the report
of the configuration; then each database named by -d/db_name is created
when missing (and `base` installed into it), and the server starts.
"""

import atexit
import logging
import os
import sys

import psycopg2.errors

from . import log, modules, pg, release, server
from .config import config
from .loading import setup_addons_import

_logger = logging.getLogger("odoo")

ODOO_COMMANDS = {
    "cloc", "db", "deploy", "genproxytoken", "neutralize", "obfuscate", "populate", "scaffold", "shell",
    "start", "tsconfig", "upgrade_code",
}


def check_root_user():
    if os.name == "posix" and os.getuid() == 0:
        sys.stderr.write("Running as user 'root' is a security risk.\n")


def check_postgres_user():
    if (config["db_user"] or os.environ.get("PGUSER")) == "postgres":
        sys.stderr.write("Using the database user 'postgres' is a security risk, aborting.")
        sys.exit(1)


def refuse_what_is_not_implemented():
    flags = config.not_implemented_requests()
    if flags:
        _logger.error("The k8s-dev-sandbox Odoo stand-in does not implement %s (see its README)", ", ".join(flags))
        sys.exit(1)


def report_configuration():
    _logger.info("Odoo version %s (%s)", release.VERSION, release.STANDIN)
    if os.path.isfile(config["config"]):
        _logger.info("Using configuration file at %s", config["config"])
    _logger.info("addons paths: %s", modules.addons_paths())
    if config["upgrade_path"]:
        _logger.info("upgrade path: %s", config["upgrade_path"])
    host = config["db_host"] or os.environ.get("PGHOST", "default")
    port = config["db_port"] or os.environ.get("PGPORT", "default")
    user = config["db_user"] or os.environ.get("PGUSER", "default")
    _logger.info("database: %s@%s:%s", user, host, port)


def setup_pid_file():
    if config["pidfile"]:
        pid = os.getpid()
        with open(config["pidfile"], "w") as handle:
            handle.write(str(pid))

        def remove():
            if os.getpid() == pid:
                try:
                    os.unlink(config["pidfile"])
                except OSError:
                    pass

        atexit.register(remove)


def server_main(args):
    check_root_user()
    config.parse(args)
    log.setup(config)
    check_postgres_user()
    refuse_what_is_not_implemented()
    report_configuration()
    setup_addons_import()

    preload = []
    if config["db_name"]:
        preload = config["db_name"].split(",")
        for db_name in preload:
            try:
                pg.create_empty_database(db_name)
                config["init"]["base"] = True
            except psycopg2.errors.InsufficientPrivilege as error:
                # Odoo logs this at INFO on purpose: restricted roles are normal.
                _logger.info("Could not determine if database %s exists, skipping auto-creation: %s", db_name, error)
            except pg.DatabaseExists:
                pass

    setup_pid_file()
    return server.start(preload, config["stop_after_init"])


def main(argv):
    args = list(argv[1:])
    command = "server"
    if args and not args[0].startswith("-"):
        command, args = args[0], args[1:]
    if command == "help":
        print("Odoo stand-in commands:\n    help           Display the list of available commands\n    server         Start the odoo server (default command)")
        return 0
    if command == "server":
        return server_main(args)
    if command in ODOO_COMMANDS:
        sys.exit(f"The k8s-dev-sandbox Odoo stand-in does not implement the {command!r} command (see its README)")
    sys.exit(f"Unknown command {command!r}")
