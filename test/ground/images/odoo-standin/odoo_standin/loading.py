"""Loading a database's registry, installing and updating modules: Odoo 18's
odoo/modules/loading.py and registry.py, minus the ORM.

What the stand-in does for a module being installed or updated: imports its
Python package (through the `odoo` shim), waits ODOO_STANDIN_INSTALL_SECONDS
(default 2) so that an install takes noticeable time, records the module's
state, version and demo flag in ir_module_module and the operation in
odoo_standin_operation, and runs its at_install tests when tests are enabled.
Its data files, models and hooks are not processed.
"""

import importlib
import itertools
import logging
import os
import sys
import threading
import time

from . import modules, pg, schema, testing
from .config import config
from .exceptions import UserError
from .log import RUNBOT

_logger = logging.getLogger("odoo.modules.loading")
_module_logger = logging.getLogger("odoo.modules.module")
_registry_logger = logging.getLogger("odoo.modules.registry")

SHIM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim")


def seconds_from_env(name, default):
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return float(default)


INSTALL_SECONDS = seconds_from_env("ODOO_STANDIN_INSTALL_SECONDS", "2")
LOAD_SECONDS = seconds_from_env("ODOO_STANDIN_LOAD_SECONDS", "1")
# "0" skips importing the addons' own Python code outside of tests.
IMPORT_ADDONS = os.environ.get("ODOO_STANDIN_IMPORT_ADDONS", "1") != "0"


def setup_addons_import():
    """Makes `import odoo.addons.<module>` work like under Odoo: the shim
    package first on sys.path, odoo.addons spanning the addons paths."""
    if SHIM_DIR not in sys.path:
        sys.path.insert(0, SHIM_DIR)
    import odoo
    import odoo._permissive

    odoo.addons.__path__[:] = modules.addons_paths()
    odoo._permissive.install(os.listdir(modules.BUILTIN_ADDONS))


def load_openerp_module(name):
    qualname = f"odoo.addons.{name}"
    if qualname in sys.modules:
        return
    builtin = modules.module_path(name) == os.path.join(os.path.normcase(modules.BUILTIN_ADDONS), name)
    if not IMPORT_ADDONS and not builtin:
        return
    try:
        importlib.import_module(qualname)
    except Exception:
        _module_logger.critical("Couldn't load module %s", name)
        raise


def available_manifests(warn=True):
    return {name: modules.get_manifest(name) for name in modules.get_modules(warn)}


class Registry:
    """One per database, loaded once per process (or again after a failure),
    under one lock: while a database loads, requests that need it wait."""

    registries = {}
    lock = threading.RLock()

    def __init__(self, db_name):
        self.db_name = db_name
        self.initialized = False
        self.loaded_modules = []
        self.updated_modules = []
        self.assertion_report = testing.OdooTestResult()

    @classmethod
    def get(cls, db_name):
        if testing.tests_running and db_name in cls.registries:
            return cls.registries[db_name]
        with cls.lock:
            registry = cls.registries.get(db_name)
            return registry if registry is not None else cls.new(db_name)

    @classmethod
    def new(cls, db_name, update_module=False):
        with cls.lock:
            started = time.time()
            registry = cls(db_name)
            cls.registries[db_name] = registry
            try:
                conn = pg.connect(db_name)
                try:
                    load_modules(registry, conn, update_module)
                except Exception:
                    conn.rollback()
                    reset_modules_state(db_name)
                    raise
                finally:
                    conn.close()
            except Exception:
                _registry_logger.error("Failed to load registry")
                del cls.registries[db_name]
                raise
            _registry_logger.info("Registry loaded in %.3fs", time.time() - started)
            return registry


def reset_modules_state(db_name):
    conn = pg.connect(db_name)
    try:
        with conn.cursor() as cr:
            if not schema.is_initialized(cr):
                _logger.info("skipping reset_modules_state, ir_module_module table does not exists")
                return
            cr.execute("UPDATE ir_module_module SET state='installed' WHERE state IN ('to remove', 'to upgrade')")
            cr.execute("UPDATE ir_module_module SET state='uninstalled' WHERE state='to install'")
            _logger.warning("Transient module states were reset")
        conn.commit()
    finally:
        conn.close()


def module_states(cr):
    cr.execute("SELECT name, state FROM ir_module_module")
    return dict(cr.fetchall())


def update_list(cr):
    """Rows for modules that appeared on the addons paths since the last time."""
    states = module_states(cr)
    now = schema.utcnow()
    for name, manifest in available_manifests().items():
        installable = manifest.get("installable", True)
        if name not in states:
            cr.execute(
                "INSERT INTO ir_module_module (name, state, auto_install, author, license, create_uid, create_date, write_uid, write_date)"
                " VALUES (%s, %s, %s, %s, %s, 1, %s, 1, %s) RETURNING id",
                (name, "uninstalled" if installable else "uninstallable", manifest["auto_install"] is not None,
                 manifest.get("author"), manifest.get("license"), now, now),
            )
            (module_id,) = cr.fetchone()
            for dep in manifest["depends"]:
                cr.execute("INSERT INTO ir_module_module_dependency (module_id, name) VALUES (%s, %s)", (module_id, dep))
        elif states[name] == "uninstallable" and installable:
            cr.execute("UPDATE ir_module_module SET state = 'uninstalled' WHERE name = %s", (name,))


def check_module_names(cr, names):
    wanted = set(names)
    if "base" in wanted:
        wanted.discard("all")
    if wanted:
        known = set(module_states(cr))
        unknown = wanted - known
        if unknown:
            _logger.warning("invalid module names, ignored: %s", ", ".join(sorted(unknown)))


def button_install(cr, names):
    """Marks the modules, their missing dependencies and the auto-install
    modules they complete as 'to install'."""
    states = module_states(cr)
    marked = set()

    def visit(name, requested_by):
        if name in marked or states.get(name) in ("installed", "to install", "to upgrade"):
            return
        if states.get(name) != "uninstalled" or not modules.get_manifest(name):
            raise UserError(
                f"You try to install module {requested_by!r} that depends on module {name!r}.\n"
                "But the latter module is not available in your system."
            )
        marked.add(name)
        for dep in modules.get_manifest(name)["depends"]:
            visit(dep, name)

    for name in names:
        if states.get(name) == "uninstalled":
            visit(name, name)
    if marked:
        cr.execute("UPDATE ir_module_module SET state = 'to install' WHERE name = ANY(%s)", (sorted(marked),))
        schema.mark_auto_install(cr, available_manifests(warn=False))


def button_upgrade(cr, names):
    """Marks installed modules and every installed module depending on them
    as 'to upgrade' ('all' stands for every installed module)."""
    states = module_states(cr)
    installed = {name for name, state in states.items() if state in ("installed", "to upgrade")}
    todo = installed if "all" in names else {name for name in names if name in installed}
    if not todo:
        return
    depends = {name: set(modules.get_manifest(name).get("depends", [])) for name in installed}
    grown = True
    while grown:
        dependents = {name for name in installed - todo if depends[name] & todo}
        grown = bool(dependents)
        todo |= dependents
    cr.execute("UPDATE ir_module_module SET state = 'to upgrade' WHERE name = ANY(%s)", (sorted(todo),))


def module_demo(cr, package):
    """Odoo's should_have_demo: asked for (-i on a new database without
    without_demo) or already there, and present in every dependency."""
    asked = package.name in config["demo"] or "all" in config["demo"]
    kept = package.db_demo and package.state != "installed"
    deps = package.manifest["depends"]
    if deps:
        cr.execute("SELECT bool_and(demo) FROM ir_module_module WHERE name = ANY(%s)", (list(deps),))
        parents = bool(cr.fetchone()[0])
    else:
        parents = True
    return bool((asked or kept) and parents)


def load_module_graph(registry, conn, graph, report, skip_modules=()):
    cr = conn.cursor()
    loaded, processed = [], []
    started, queries_at = time.time(), pg.sql_counter
    _logger.info("loading %d modules...", len(graph))
    for index, package in enumerate(graph, 1):
        name = package.name
        if name in skip_modules:
            continue
        module_started, module_queries_at = time.time(), pg.sql_counter
        needs_update = package.state in ("to install", "to upgrade")
        new_install = package.state == "to install"
        level = logging.INFO if needs_update else logging.DEBUG
        _logger.log(level, "Loading module %s (%d/%d)", name, index, len(graph))

        load_openerp_module(name)
        loaded.append(name)
        if needs_update:
            time.sleep(INSTALL_SECONDS)
            if name == "base" and new_install:
                schema.install_base_data(cr, config["http_port"])
            demo = module_demo(cr, package)
            cr.execute("UPDATE ir_module_module SET demo = %s WHERE name = %s", (demo, name))
            schema.record_operation(cr, "install" if new_install else "update", name, demo)
            # Odoo commits a module's data before running its tests.
            conn.commit()
        if name not in registry.loaded_modules:
            registry.loaded_modules.append(name)

        updating = bool(config["init"] or config["update"])
        test_seconds, test_queries, results = 0.0, 0, None
        if config["test_enable"] and (needs_update or not updating):
            suite = testing.make_suite([name], "at_install")
            if suite.countTestCases():
                tests_started, tests_queries_at = time.time(), pg.sql_counter
                results = testing.run_suite(suite)
                report.update(results)
                test_seconds = time.time() - tests_started
                test_queries = pg.sql_counter - tests_queries_at

        if needs_update:
            processed.append(name)
            cr.execute(
                "UPDATE ir_module_module SET state = 'installed', latest_version = %s,"
                " write_date = %s WHERE name = %s",
                (package.manifest["version"], schema.utcnow(), name),
            )
            package.state = "installed"

        module_queries = pg.sql_counter - module_queries_at - test_queries
        _logger.log(
            level,
            "Module %s loaded in %.2fs%s, %s queries%s",
            name,
            time.time() - module_started,
            f" (incl. {test_seconds:.2f}s test)" if test_seconds else "",
            module_queries,
            f" (+{test_queries} test)" if test_queries else "",
        )
        if results is not None and not results.wasSuccessful():
            _logger.error(
                "Module %s: %d failures, %d errors of %d tests",
                name, results.failures_count, results.errors_count, results.testsRun,
            )
    _logger.log(RUNBOT, "%s modules loaded in %.2fs, %s queries (+%s extra)", len(graph), time.time() - started, pg.sql_counter - queries_at, 0)
    return loaded, processed


def load_marked_modules(registry, conn, graph, states, report, loaded_modules):
    processed = []
    cr = conn.cursor()
    while True:
        cr.execute("SELECT name FROM ir_module_module WHERE state = ANY(%s)", (list(states),))
        names = [name for (name,) in cr.fetchall() if name not in graph]
        if not names:
            break
        graph.add_modules(cr, names)
        loaded, newly_processed = load_module_graph(registry, conn, graph, report, skip_modules=loaded_modules)
        processed.extend(newly_processed)
        loaded_modules.extend(loaded)
        if not newly_processed:
            break
    return processed


def load_modules(registry, conn, update_module=False):
    cr = conn.cursor()
    cr.execute("SET SESSION lock_timeout = '15s'")
    # Stands for importing the installed modules and building the registry.
    time.sleep(LOAD_SECONDS)
    if not schema.is_initialized(cr):
        if not update_module:
            _logger.error("Database %s not initialized, you can force it with `-i base`", registry.db_name)
            conn.commit()
            return
        _logger.info("init db")
        schema.initialize(cr, available_manifests())
        update_module = True
        config["init"]["all"] = 1
        if not config["without_demo"]:
            config["demo"]["all"] = 1
    registry.initialized = True

    if "base" in config["update"] or "all" in config["update"]:
        cr.execute("UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'base' AND state = 'installed'")

    graph = modules.Graph()
    graph.add_modules(cr, ["base"])
    if "base" not in graph:
        _logger.critical("module base cannot be loaded! (hint: verify addons-path)")
        raise ImportError("Module `base` cannot be loaded! (hint: verify addons-path)")

    report = registry.assertion_report
    loaded_modules, processed_modules = load_module_graph(registry, conn, graph, report)

    if update_module:
        _logger.info("updating modules list")
        update_list(cr)
        check_module_names(cr, itertools.chain(config["init"], config["update"]))
        button_install(cr, [name for name, wanted in config["init"].items() if wanted])
        button_upgrade(cr, [name for name, wanted in config["update"].items() if wanted])
        cr.execute("UPDATE ir_module_module SET state = 'installed' WHERE name = 'base'")

    previously_processed = -1
    while previously_processed < len(processed_modules):
        previously_processed = len(processed_modules)
        processed_modules += load_marked_modules(
            registry, conn, graph, ["installed", "to upgrade", "to remove"], report, loaded_modules
        )
        if update_module:
            processed_modules += load_marked_modules(registry, conn, graph, ["to install"], report, loaded_modules)

    cr.execute("SELECT name FROM ir_module_module WHERE state IN ('installed', 'to upgrade', 'to remove') ORDER BY name")
    missing = [name for (name,) in cr.fetchall() if name not in graph]
    if missing:
        _logger.error("Some modules are not loaded, some dependencies or manifest may be missing: %s", missing)
    cr.execute("SELECT name FROM ir_module_module WHERE state IN ('to install', 'to upgrade')")
    inconsistent = sorted(name for (name,) in cr.fetchall())
    if inconsistent:
        _logger.error("Some modules have inconsistent states, some dependencies may be missing: %s", inconsistent)

    for kind in ("init", "demo", "update"):
        config[kind] = {}

    if report.wasSuccessful():
        _logger.info("Modules loaded.")
    else:
        _logger.error("At least one test failed when loading the modules.")
    registry.updated_modules += processed_modules
    conn.commit()
