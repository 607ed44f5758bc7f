"""Stand-ins for the parts of Odoo (and of Odoo's Python dependencies) that
the stand-in does not have, so that an addon's code can be imported and its
class bodies executed as under Odoo, without an ORM behind them.

A Permissive object accepts any attribute access, call, indexing or
iteration. Used as a decorator (called with one function or class) it hands
the decorated object back unchanged; used as a base class it becomes a real
class: a test case class when its name says so (…Case, …Common, Test…),
otherwise an empty class. Importing an unknown `odoo.*` module, an unknown
submodule of one of the stand-in's catalogue modules, or one of Odoo's Python
dependencies that is not installed gives a module of such objects.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import sys
import types

# Odoo 18's Python requirements (import names): an addon may import them at
# module level; the stand-in's image does not carry them.
ODOO_PYTHON_DEPENDENCIES = {
    "asn1crypto", "babel", "cbor2", "chardet", "cryptography", "dateutil", "decorator", "docutils",
    "freezegun", "geoip2", "gevent", "greenlet", "idna", "jinja2", "ldap", "libsass", "lxml",
    "lxml_html_clean", "magic", "markupsafe", "num2words", "ofxparse", "OpenSSL", "openpyxl",
    "passlib", "pdfminer", "PIL", "polib", "psutil", "pyasn1", "pyasn1_modules", "pydot", "pypdf",
    "PyPDF2", "pytz", "qrcode", "reportlab", "requests", "rjsmin", "rl_renderPM", "sass",
    "serial", "slugify", "stdnum", "urllib3", "usb", "vobject", "werkzeug", "xlrd", "xlsxwriter",
    "xlwt", "zeep",
}


def _looks_like_a_test_base(name):
    last = name.rsplit(".", 1)[-1]
    return last.endswith(("Case", "Common")) or last.startswith("Test")


class PermissiveBase:
    def __init__(self, *args, **kwargs):
        pass


class Permissive:
    def __init__(self, name="odoo"):
        object.__setattr__(self, "_permissive_name", name)

    def __repr__(self):
        return f"<stand-in for {self._permissive_name}>"

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return Permissive(f"{self._permissive_name}.{attr}")

    def __setattr__(self, attr, value):
        pass

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and not kwargs and (inspect.isfunction(args[0]) or inspect.isclass(args[0])):
            return args[0]
        return Permissive(f"{self._permissive_name}()")

    def __mro_entries__(self, bases):
        if _looks_like_a_test_base(self._permissive_name):
            from odoo.tests.common import TransactionCase

            return (TransactionCase,)
        return (PermissiveBase,)

    def __getitem__(self, key):
        return Permissive(f"{self._permissive_name}[]")

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0

    def __contains__(self, item):
        return False


class PermissiveModule(types.ModuleType):
    """A module whose every attribute is a Permissive (or a submodule)."""

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return Permissive(f"{self.__name__}.{attr}")

    def __call__(self, *args, **kwargs):
        return Permissive(self.__name__)(*args, **kwargs)

    def __mro_entries__(self, bases):
        return Permissive(self.__name__).__mro_entries__(bases)


def submodule_or_permissive(package, attr):
    """For a shim package's __getattr__: its real submodule when there is one,
    else a permissive module (from PermissiveFinder)."""
    if attr.startswith("__") and attr.endswith("__"):
        raise AttributeError(attr)
    return importlib.import_module(f"{package}.{attr}")


class _PermissiveLoader(importlib.abc.Loader):
    def create_module(self, spec):
        module = PermissiveModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


class PermissiveFinder(importlib.abc.MetaPathFinder):
    """Last on sys.meta_path: only asked for what no real file provides."""

    def __init__(self, catalogue_modules):
        self.catalogue_modules = set(catalogue_modules)

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if parts[0] == "odoo":
            if len(parts) >= 3 and parts[1] == "addons":
                # Odoo's own modules exist only as catalogue entries here.
                if parts[2] not in self.catalogue_modules or len(parts) == 3:
                    return None
            elif len(parts) == 2 and parts[1] == "addons":
                return None
        elif parts[0] not in ODOO_PYTHON_DEPENDENCIES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _PermissiveLoader(), is_package=True)


def install(catalogue_modules):
    if not any(isinstance(finder, PermissiveFinder) for finder in sys.meta_path):
        sys.meta_path.append(PermissiveFinder(catalogue_modules))
