"""Odoo 18's configuration: the same options, the same sources and the same
precedence (command line > configuration file > defaults), the same casts and
the same failures.

Facts from Odoo 18.0's odoo/tools/config.py that this module reproduces:
- options are parsed with optparse; an unknown option or a bad command-line
  value ends with optparse's usage + "error: ..." on stderr and exit status 2;
- the file is $ODOO_RC (or -c/--config, or ~/.odoorc), read with
  RawConfigParser; only -c is checked for readability, a missing or unreadable
  ODOO_RC is silently ignored, a malformed file is an uncaught parser error;
- in the file, True/true and False/false become booleans, everything else
  stays a string; some keys are then cast with optparse's type checker (so
  `http_port = abc` or `log_level = loud` raise OptionValueError, uncaught);
- keys the chart cannot know about are kept as they are, never rejected;
- --addons-path is checked (exists, holds at least one module); addons_path
  from the file is only normalized.
"""

import configparser
import optparse
import os
import sys
from os.path import abspath, expanduser, expandvars, normcase, realpath

from . import release

LOG_LEVELS = [
    "info", "debug_rpc", "warn", "test", "critical", "runbot",
    "debug_sql", "error", "debug", "debug_rpc_answer", "notset",
]
SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
MANIFEST_NAMES = ("__manifest__.py", "__openerp__.py")

# Keys whose command-line value wins when given, else whose file value is cast
# (Odoo 18 keeps two such lists; they differ only in which keys they hold).
CLI_OR_CAST_KEYS = [
    "gevent_port", "http_interface", "http_port", "http_enable", "x_sendfile",
    "db_name", "db_user", "db_password", "db_host", "db_replica_host", "db_sslmode",
    "db_port", "db_replica_port", "db_template", "logfile", "pidfile", "smtp_port",
    "email_from", "smtp_server", "smtp_user", "smtp_password", "from_filter",
    "smtp_ssl_certificate_filename", "smtp_ssl_private_key_filename",
    "db_maxconn", "db_maxconn_gevent", "import_partial", "addons_path", "upgrade_path",
    "syslog", "without_demo", "screencasts", "screenshots",
    "dbfilter", "log_level", "log_db", "log_db_level", "geoip_city_db", "geoip_country_db",
    "dev_mode", "shell_interface",
    "language", "translate_out", "translate_in", "overwrite_existing_translations",
    "smtp_ssl", "load_language", "stop_after_init", "list_db", "proxy_mode",
    "test_file", "test_tags", "osv_memory_count_limit", "transient_age_limit",
    "max_cron_threads", "unaccent", "data_dir", "server_wide_modules",
    "workers", "limit_memory_hard", "limit_memory_hard_gevent", "limit_memory_soft",
    "limit_memory_soft_gevent", "limit_time_cpu", "limit_time_real", "limit_request",
    "limit_time_real_cron",
]

# Options Odoo accepts whose work the stand-in does not do: given with a
# value, they fail loudly at start instead of being silently ignored.
NOT_IMPLEMENTED = {
    "save": "-s/--save",
    "translate_out": "--i18n-export",
    "translate_in": "--i18n-import",
    "test_file": "--test-file",
    "import_partial": "-P/--import-partial",
    "syslog": "--syslog",
    "log_db": "--log-db",
}

# Keys of the configuration file that are not command-line options, with
# Odoo 18's defaults.
FILE_ONLY_DEFAULTS = {
    "admin_passwd": "admin",
    "csv_internal_sep": ",",
    "publisher_warranty_url": "http://services.odoo.com/publisher-warranty/",
    "reportgz": False,
    "root_path": None,
    "websocket_keep_alive_timeout": 3600,
    "websocket_rate_limit_burst": 10,
    "websocket_rate_limit_delay": 0.2,
}

OUTDATED_FILE_KEYS = {"xmlrpc_port": "http_port", "xmlrpc_interface": "http_interface", "xmlrpc": "http_enable"}


class StandinOption(optparse.Option):
    """optparse option with `my_default`: optparse's own default would hide
    whether the user gave the option, and a given option beats the file."""

    def __init__(self, *opts, **attrs):
        self.my_default = attrs.pop("my_default", None)
        super().__init__(*opts, **attrs)


def default_data_dir():
    home = expanduser("~")
    if os.path.isdir(home):
        return os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share"), "Odoo")
    return "/var/lib/odoo"


def normalize_path(path):
    if not path:
        return ""
    return normcase(realpath(abspath(expanduser(expandvars(path.strip())))))


def holds_a_module(path):
    """Odoo's test for an addons directory: at least one subdirectory with an
    __init__.py and a manifest."""
    for entry in os.listdir(path):
        module = os.path.join(path, entry)
        if os.path.isdir(module) and os.path.isfile(os.path.join(module, "__init__.py")):
            if any(os.path.isfile(os.path.join(module, name)) for name in MANIFEST_NAMES):
                return True
    return False


def check_addons_path(option, opt, value, parser):
    checked = []
    for path in value.split(","):
        path = path.strip()
        resolved = os.path.abspath(os.path.expanduser(path))
        if not os.path.isdir(resolved):
            raise optparse.OptionValueError(f"option {opt}: no such directory: {resolved!r}")
        if not holds_a_module(resolved):
            raise optparse.OptionValueError(f"option {opt}: the path {path!r} is not a valid addons directory")
        checked.append(resolved)
    setattr(parser.values, option.dest, ",".join(checked))


def check_upgrade_path(option, opt, value, parser):
    checked = []
    for path in value.split(","):
        resolved = normalize_path(path)
        if not os.path.isdir(resolved):
            raise optparse.OptionValueError(f"option {opt}: no such directory: {path.strip()!r}")
        if resolved not in checked:
            checked.append(resolved)
    setattr(parser.values, option.dest, ",".join(checked))


def enable_tests(option, opt, value, parser):
    # Odoo 18: --test-enable means "--test-tags +standard" unless tags are given.
    if not parser.values.test_tags:
        parser.values.test_tags = "+standard"


def build_parser():
    parser = optparse.OptionParser(version=release.VERSION_STRING, option_class=StandinOption)
    # Odoo's server command names itself `odoo server` in usage and errors.
    parser.prog = f"{os.path.basename(sys.argv[0]) or 'odoo'} server"

    def group(title, *options):
        grp = optparse.OptionGroup(parser, title)
        for flags, attrs in options:
            grp.add_option(*flags, **attrs)
        parser.add_option_group(grp)

    group(
        "Common options",
        (("-c", "--config"), dict(dest="config", help="specify alternate config file")),
        (("-s", "--save"), dict(action="store_true", dest="save", default=False, help="save configuration to ~/.odoorc (not implemented by the stand-in)")),
        (("-i", "--init"), dict(dest="init", help='install one or more modules (comma-separated list, use "all" for all modules), requires -d')),
        (("-u", "--update"), dict(dest="update", help='update one or more modules (comma-separated list, use "all" for all modules). Requires -d.')),
        (("--without-demo",), dict(dest="without_demo", my_default=False, help='disable loading demo data for modules to be installed (comma-separated, use "all" for all modules). Requires -d and -i.')),
        (("-P", "--import-partial"), dict(dest="import_partial", my_default="", help="not implemented by the stand-in")),
        (("--pidfile",), dict(dest="pidfile", help="file where the server pid will be stored")),
        (("--addons-path",), dict(dest="addons_path", action="callback", callback=check_addons_path, nargs=1, type="string", help="specify additional addons paths (separated by commas).")),
        (("--upgrade-path",), dict(dest="upgrade_path", action="callback", callback=check_upgrade_path, nargs=1, type="string", help="specify an additional upgrade path.")),
        (("--load",), dict(dest="server_wide_modules", my_default="base,web", help="Comma-separated list of server-wide modules.")),
        (("-D", "--data-dir"), dict(dest="data_dir", my_default=default_data_dir(), help="Directory where to store Odoo data")),
    )
    group(
        "HTTP Service Configuration",
        (("--http-interface",), dict(dest="http_interface", my_default="", help="Listen interface address for HTTP services. Keep empty to listen on all interfaces (0.0.0.0)")),
        (("-p", "--http-port"), dict(dest="http_port", my_default=8069, type="int", metavar="PORT", help="Listen port for the main HTTP service")),
        (("--gevent-port",), dict(dest="gevent_port", my_default=8072, type="int", metavar="PORT", help="Listen port for the gevent worker")),
        (("--no-http",), dict(dest="http_enable", action="store_false", my_default=True, help="Disable the HTTP and Longpolling services entirely")),
        (("--proxy-mode",), dict(dest="proxy_mode", action="store_true", my_default=False, help="Activate reverse proxy WSGI wrappers (headers rewriting) Only enable this when running behind a trusted web proxy!")),
        (("--x-sendfile",), dict(dest="x_sendfile", action="store_true", my_default=False, help="Activate X-Sendfile (apache) and X-Accel-Redirect (nginx)")),
        (("--xmlrpc-interface",), dict(dest="http_interface", help=optparse.SUPPRESS_HELP)),
        (("--xmlrpc-port",), dict(dest="http_port", type="int", help=optparse.SUPPRESS_HELP)),
        (("--no-xmlrpc",), dict(dest="http_enable", action="store_false", help=optparse.SUPPRESS_HELP)),
    )
    group(
        "Web interface Configuration",
        (("--db-filter",), dict(dest="dbfilter", my_default="", metavar="REGEXP", help="Regular expressions for filtering available databases for Web UI.")),
    )
    group(
        "Testing Configuration",
        (("--test-file",), dict(dest="test_file", my_default=False, help="not implemented by the stand-in")),
        (("--test-enable",), dict(action="callback", callback=enable_tests, dest="test_enable", help="Enable unit tests.")),
        (("--test-tags",), dict(dest="test_tags", help="Comma-separated list of specs to filter which tests to execute: [-][tag][/module][:class][.method]")),
        (("--screencasts",), dict(dest="screencasts", action="store", my_default=None, metavar="DIR", help="ignored by the stand-in")),
        (("--screenshots",), dict(dest="screenshots", action="store", my_default=os.path.join("/tmp", "odoo_tests"), metavar="DIR", help="ignored by the stand-in")),
    )
    group(
        "Logging Configuration",
        (("--logfile",), dict(dest="logfile", help="file where the server log will be stored")),
        (("--syslog",), dict(action="store_true", dest="syslog", my_default=False, help="not implemented by the stand-in")),
        (("--log-handler",), dict(action="append", default=[], my_default=":INFO", metavar="PREFIX:LEVEL", help="setup a handler at LEVEL for a given PREFIX")),
        (("--log-web",), dict(action="append_const", dest="log_handler", const="odoo.http:DEBUG", help="shortcut for --log-handler=odoo.http:DEBUG")),
        (("--log-sql",), dict(action="append_const", dest="log_handler", const="odoo.sql_db:DEBUG", help="shortcut for --log-handler=odoo.sql_db:DEBUG")),
        (("--log-db",), dict(dest="log_db", my_default=False, help="not implemented by the stand-in")),
        (("--log-db-level",), dict(dest="log_db_level", my_default="warning", help="Logging database level")),
        (("--log-level",), dict(dest="log_level", type="choice", choices=LOG_LEVELS, my_default="info", help=f"specify the level of the logging. Accepted values: {LOG_LEVELS}.")),
    )
    group(
        "SMTP Configuration (accepted, no mail is ever sent)",
        (("--email-from",), dict(dest="email_from", my_default=False)),
        (("--from-filter",), dict(dest="from_filter", my_default=False)),
        (("--smtp",), dict(dest="smtp_server", my_default="localhost")),
        (("--smtp-port",), dict(dest="smtp_port", my_default=25, type="int")),
        (("--smtp-ssl",), dict(dest="smtp_ssl", action="store_true", my_default=False)),
        (("--smtp-user",), dict(dest="smtp_user", my_default=False)),
        (("--smtp-password",), dict(dest="smtp_password", my_default=False)),
        (("--smtp-ssl-certificate-filename",), dict(dest="smtp_ssl_certificate_filename", my_default=False)),
        (("--smtp-ssl-private-key-filename",), dict(dest="smtp_ssl_private_key_filename", my_default=False)),
    )
    group(
        "Database related options",
        (("-d", "--database"), dict(dest="db_name", my_default=False, help="specify the database name")),
        (("-r", "--db_user"), dict(dest="db_user", my_default=False, help="specify the database user name")),
        (("-w", "--db_password"), dict(dest="db_password", my_default=False, help="specify the database password")),
        (("--pg_path",), dict(dest="pg_path", help="specify the pg executable path")),
        (("--db_host",), dict(dest="db_host", my_default=False, help="specify the database host")),
        (("--db_replica_host",), dict(dest="db_replica_host", my_default=False, help="ignored by the stand-in")),
        (("--db_port",), dict(dest="db_port", my_default=False, type="int", help="specify the database port")),
        (("--db_replica_port",), dict(dest="db_replica_port", my_default=False, type="int", help="ignored by the stand-in")),
        (("--db_sslmode",), dict(dest="db_sslmode", type="choice", my_default="prefer", choices=SSL_MODES, help="specify the database ssl connection mode (see PostgreSQL documentation)")),
        (("--db_maxconn",), dict(dest="db_maxconn", type="int", my_default=64)),
        (("--db_maxconn_gevent",), dict(dest="db_maxconn_gevent", type="int", my_default=False)),
        (("--db-template",), dict(dest="db_template", my_default="template0", help="specify a custom database template to create a new database")),
    )
    group(
        "Internationalisation options",
        (("--load-language",), dict(dest="load_language", help="accepted, ignored by the stand-in")),
        (("-l", "--language"), dict(dest="language")),
        (("--i18n-export",), dict(dest="translate_out", help="not implemented by the stand-in")),
        (("--i18n-import",), dict(dest="translate_in", help="not implemented by the stand-in")),
        (("--i18n-overwrite",), dict(dest="overwrite_existing_translations", action="store_true", my_default=False)),
        (("--modules",), dict(dest="translate_modules")),
    )
    group(
        "Security-related options",
        (("--no-database-list",), dict(action="store_false", dest="list_db", my_default=True, help="Disable the ability to obtain or view the list of databases.")),
    )
    group(
        "Advanced options",
        (("--dev",), dict(dest="dev_mode", type="string", help="Enable developer mode. Options : all, reload, qweb, xml")),
        (("--shell-interface",), dict(dest="shell_interface", type="string")),
        (("--stop-after-init",), dict(action="store_true", dest="stop_after_init", my_default=False, help="stop the server after its initialization")),
        (("--osv-memory-count-limit",), dict(dest="osv_memory_count_limit", my_default=0, type="int")),
        (("--transient-age-limit",), dict(dest="transient_age_limit", my_default=1.0, type="float")),
        (("--max-cron-threads",), dict(dest="max_cron_threads", my_default=2, type="int", help="accepted; the stand-in runs no cron")),
        (("--unaccent",), dict(dest="unaccent", my_default=False, action="store_true")),
        (("--geoip-city-db", "--geoip-db"), dict(dest="geoip_city_db", my_default="/usr/share/GeoIP/GeoLite2-City.mmdb")),
        (("--geoip-country-db",), dict(dest="geoip_country_db", my_default="/usr/share/GeoIP/GeoLite2-Country.mmdb")),
    )
    group(
        "Multiprocessing options",
        (("--workers",), dict(dest="workers", my_default=0, type="int", help="Specify the number of workers, 0 disable prefork mode.")),
        (("--limit-memory-soft",), dict(dest="limit_memory_soft", my_default=2048 * 1024 * 1024, type="int")),
        (("--limit-memory-soft-gevent",), dict(dest="limit_memory_soft_gevent", my_default=False, type="int")),
        (("--limit-memory-hard",), dict(dest="limit_memory_hard", my_default=2560 * 1024 * 1024, type="int")),
        (("--limit-memory-hard-gevent",), dict(dest="limit_memory_hard_gevent", my_default=False, type="int")),
        (("--limit-time-cpu",), dict(dest="limit_time_cpu", my_default=60, type="int")),
        (("--limit-time-real",), dict(dest="limit_time_real", my_default=120, type="int")),
        (("--limit-time-real-cron",), dict(dest="limit_time_real_cron", my_default=-1, type="int")),
        (("--limit-request",), dict(dest="limit_request", my_default=2**16, type="int")),
    )
    return parser


class Config:
    """The parsed options, read like Odoo's `tools.config`: config['key']."""

    def __init__(self):
        self.parser = build_parser()
        self.options = dict(FILE_ONLY_DEFAULTS)
        self.option_types = {}
        for grp in self.parser.option_groups:
            for option in grp.option_list:
                if option.dest and option.dest not in self.options:
                    self.options[option.dest] = option.my_default
                    self.option_types[option.dest] = option
        self.rcfile = None

    def __getitem__(self, key):
        return self.options[key]

    def __setitem__(self, key, value):
        self.options[key] = value

    def get(self, key, default=None):
        return self.options.get(key, default)

    def die(self, message):
        self.parser.error(message)  # usage + "odoo server: error: ..." and exit 2

    def parse(self, args):
        opt, leftover = self.parser.parse_args(list(args))
        if leftover:
            self.die("unrecognized parameters: '%s'" % " ".join(leftover))
        if opt.syslog and opt.logfile:
            self.die("the syslog and logfile options are exclusive")
        if opt.translate_in and (not opt.language or not opt.db_name):
            self.die("the i18n-import option cannot be used without the language (-l) and the database (-d) options")
        if opt.overwrite_existing_translations and not (opt.translate_in or opt.update):
            self.die("the i18n-overwrite option cannot be used without the i18n-import option or without the update option")
        if opt.translate_out and not opt.db_name:
            self.die("the i18n-export option cannot be used without the database (-d) option")
        if not opt.save and opt.config and not os.access(opt.config, os.R_OK):
            self.die(
                "The config file '%s' selected with -c/--config doesn't exist or is not readable, "
                "use -s/--save if you want to generate it" % opt.config
            )

        home_rc = os.path.expanduser("~/.odoorc")
        old_home_rc = os.path.expanduser("~/.openerp_serverrc")
        if os.path.isfile(home_rc) and os.path.isfile(old_home_rc):
            self.die("Found '.odoorc' and '.openerp_serverrc' in your path. Please keep only one of them, preferably '.odoorc'.")
        if not os.path.isfile(home_rc) and os.path.isfile(old_home_rc):
            home_rc = old_home_rc
        self.rcfile = os.path.abspath(opt.config or os.environ.get("ODOO_RC") or os.environ.get("OPENERP_SERVER") or home_rc)
        self.options["config"] = self.rcfile
        self.load_file()

        for key in ("logfile", "pidfile"):
            if self.options[key] in ("None", "False"):
                self.options[key] = False
        if self.options["test_tags"] == "None":
            self.options["test_tags"] = None
        if self.options["server_wide_modules"] in ("", "None", "False"):
            self.options["server_wide_modules"] = "base,web"

        for key in CLI_OR_CAST_KEYS:
            given = getattr(opt, key, None)
            if given is not None:
                self.options[key] = given
            elif isinstance(self.options.get(key), str):
                self.options[key] = self.cast_file_value(key, self.options[key])

        if isinstance(self.options["log_handler"], str):
            self.options["log_handler"] = self.options["log_handler"].split(",")
        self.options["log_handler"] = list(self.options["log_handler"]) + list(opt.log_handler or [])

        if "," in (self.options.get("db_name") or "") and (opt.init or opt.update):
            self.die("Cannot use -i/--init or -u/--update with multiple databases in the -d/--database/db_name")

        self.options["root_path"] = os.path.dirname(os.path.abspath(__file__))
        if not self.options["addons_path"] or self.options["addons_path"] == "None":
            self.options["addons_path"] = ""
        else:
            self.options["addons_path"] = ",".join(normalize_path(p) for p in self.options["addons_path"].split(","))
        self.options["upgrade_path"] = (
            ",".join(normalize_path(p) for p in self.options["upgrade_path"].split(",")) if self.options["upgrade_path"] else ""
        )

        # Odoo keeps module names exactly as given (no stripping).
        self.options["init"] = dict.fromkeys(opt.init.split(","), 1) if opt.init else {}
        self.options["update"] = dict.fromkeys(opt.update.split(","), 1) if opt.update else {}
        self.options["demo"] = dict(self.options["init"]) if not self.options["without_demo"] else {}
        self.options["save"] = opt.save

        dev = [s.strip() for s in opt.dev_mode.split(",")] if opt.dev_mode else []
        self.options["dev_mode"] = dev + (["reload", "qweb", "xml"] if "all" in dev else [])

        self.options["test_enable"] = bool(self.options["test_tags"])

        for key in ("data_dir", "logfile", "pidfile", "test_file", "screencasts", "screenshots", "pg_path", "translate_out", "translate_in"):
            value = self.options.get(key)
            self.options[key] = normalize_path(value) if isinstance(value, str) else value

        self.options["server_wide_modules"] = [m.strip() for m in self.options["server_wide_modules"].split(",") if m.strip()]
        return self

    def cast_file_value(self, key, value):
        """Odoo casts file strings only for optparse's built-in types; a bad
        value raises optparse.OptionValueError, which Odoo does not catch."""
        option = self.option_types.get(key)
        if option is not None and option.type in optparse.Option.TYPE_CHECKER:
            return optparse.Option.TYPE_CHECKER[option.type](option, key, value)
        return value

    def load_file(self):
        parser = configparser.RawConfigParser()
        try:
            parser.read([self.rcfile])
            for name, value in parser.items("options"):
                name = OUTDATED_FILE_KEYS.get(name, name)
                if value in ("True", "true"):
                    value = True
                if value in ("False", "false"):
                    value = False
                self.options[name] = value
        except OSError:
            pass
        except configparser.NoSectionError:
            pass

    def not_implemented_requests(self):
        """Options given that the stand-in cannot honour."""
        return [flag for key, flag in NOT_IMPLEMENTED.items() if self.options.get(key)]

    @property
    def addons_data_dir(self):
        path = os.path.join(self.options["data_dir"], "addons", release.SERIE)
        if not os.path.exists(path):
            try:
                os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
                os.makedirs(path, 0o500)
            except OSError:
                pass
        return path

    @property
    def session_dir(self):
        path = os.path.join(self.options["data_dir"], "sessions")
        os.makedirs(path, 0o700, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise AssertionError(f"{path}: directory is not writable")
        return path

    def filestore(self, dbname):
        return os.path.join(self.options["data_dir"], "filestore", dbname)


config = Config()
