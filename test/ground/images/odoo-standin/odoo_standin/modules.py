"""Addons: where modules are found, what their manifests say and in which order
they load (odoo/modules/module.py and graph.py of Odoo 18).

A module is a directory with a __manifest__.py (or __openerp__.py) in one of
the addons paths: the stand-in's built-in addons (a small catalogue standing
for Odoo's own modules, see addons/), <data_dir>/addons/18.0 when readable,
then every addons_path entry, in that order; the first match wins.
"""

import ast
import functools
import logging
import os
import re

from . import release
from .config import MANIFEST_NAMES, config

_logger = logging.getLogger("odoo.modules.module")
_graph_logger = logging.getLogger("odoo.modules.graph")

BUILTIN_ADDONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "addons")

DEFAULT_MANIFEST = {
    "application": False,
    "author": "Odoo S.A.",
    "auto_install": False,
    "category": "Uncategorized",
    "data": [],
    "demo": [],
    "depends": [],
    "description": "",
    "installable": True,
    "post_init_hook": "",
    "post_load": "",
    "pre_init_hook": "",
    "sequence": 100,
    "summary": "",
    "uninstall_hook": "",
    "version": "1.0",
    "website": "",
}


def addons_paths():
    """What Odoo 18 calls odoo.addons.__path__ and logs as "addons paths"."""
    paths = [os.path.normcase(BUILTIN_ADDONS)]
    data_addons = os.path.normcase(config.addons_data_dir)
    if os.access(data_addons, os.R_OK) and data_addons not in paths:
        paths.append(data_addons)
    for entry in (config["addons_path"] or "").split(","):
        if entry.strip():
            path = os.path.normcase(os.path.abspath(entry.strip()))
            if path not in paths:
                paths.append(path)
    return paths


def manifest_file(module_dir):
    for name in MANIFEST_NAMES:
        candidate = os.path.join(module_dir, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def module_path(name):
    if re.search(r"[\/\\]", name):
        return None
    for path in addons_paths():
        if manifest_file(os.path.join(path, name)):
            return os.path.join(path, name)
    return None


def get_modules(warn=True):
    """Every module found on the addons paths (Odoo warns about a path that
    does not exist when it lists them, e.g. during -i/-u)."""
    found = set()
    for path in addons_paths():
        if not os.path.exists(path):
            if warn:
                _logger.warning("addons path does not exist: %s", path)
            continue
        for entry in os.listdir(path):
            if manifest_file(os.path.join(path, entry)):
                found.add(entry)
    return sorted(found)


def adapt_version(version):
    serie = release.SERIE
    if version == serie or not version.startswith(serie + "."):
        base_version = version
        version = f"{serie}.{version}"
    else:
        base_version = version[len(serie) + 1 :]
    if not re.match(r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?$", base_version):
        raise ValueError(
            f"Invalid version {base_version!r}. Modules should have a version in format `x.y`, `x.y.z`,"
            f" `{serie}.x.y` or `{serie}.x.y.z`."
        )
    return version


@functools.lru_cache(maxsize=None)
def _load_manifest(name, path):
    manifest = dict(DEFAULT_MANIFEST)
    with open(manifest_file(path), encoding="utf-8") as handle:
        manifest.update(ast.literal_eval(handle.read()))
    if not manifest.get("license"):
        manifest["license"] = "LGPL-3"
        _logger.warning("Missing `license` key in manifest for %r, defaulting to LGPL-3", name)
    # auto_install: False, True (= all of depends) or a subset of depends.
    if isinstance(manifest["auto_install"], (list, tuple, set)):
        triggers = set(manifest["auto_install"])
        outside = triggers.difference(manifest["depends"])
        assert not outside, "auto_install triggers must be dependencies, found non-dependencies [%s] for module %s" % (
            ", ".join(outside),
            name,
        )
        manifest["auto_install"] = triggers
    elif manifest["auto_install"]:
        manifest["auto_install"] = set(manifest["depends"])
    else:
        manifest["auto_install"] = None
    try:
        manifest["version"] = adapt_version(manifest["version"])
    except ValueError as error:
        if manifest.get("installable", True):
            raise ValueError(f"Module {name}: invalid manifest") from error
    manifest["addons_path"] = os.path.dirname(path)
    manifest["path"] = path
    return manifest


def get_manifest(name):
    """The manifest of a module, or {} when no addons path has it."""
    path = module_path(name)
    return dict(_load_manifest(name, path)) if path else {}


class Package:
    def __init__(self, name, state, depth, manifest, db_demo):
        self.name = name
        self.state = state
        self.depth = depth
        self.manifest = manifest
        self.db_demo = db_demo


class Graph:
    """Modules ordered for loading: by depth in the dependency tree, then name.
    A module whose dependencies are not all available stays out, as in Odoo."""

    def __init__(self):
        self.packages = {}

    def __contains__(self, name):
        return name in self.packages

    def __len__(self):
        return len(self.packages)

    def __iter__(self):
        return iter(sorted(self.packages.values(), key=lambda p: (p.depth, p.name)))

    def add_modules(self, cr, names):
        cr.execute("SELECT name, state, demo FROM ir_module_module")
        rows = {name: (state, demo) for name, state, demo in cr.fetchall()}
        pending = {}
        for name in names:
            if name in self.packages:
                continue
            manifest = get_manifest(name)
            if not manifest:
                _logger.warning("module %s: module not found", name)
                continue
            if not manifest.get("installable", True):
                _graph_logger.warning("module %s: not installable, skipped", name)
                continue
            pending[name] = manifest
        progress = True
        while pending and progress:
            progress = False
            for name, manifest in sorted(pending.items()):
                deps = manifest["depends"]
                if all(dep in self.packages for dep in deps):
                    depth = 1 + max((self.packages[dep].depth for dep in deps), default=-1)
                    state, demo = rows.get(name, ("uninstalled", False))
                    self.packages[name] = Package(name, state, depth, manifest, bool(demo))
                    del pending[name]
                    progress = True
        for name, manifest in sorted(pending.items()):
            unmet = [dep for dep in manifest["depends"] if dep not in self.packages]
            _graph_logger.info("module %s: Unmet dependencies: %s", name, ", ".join(unmet))
        return len(names) - len(pending)
