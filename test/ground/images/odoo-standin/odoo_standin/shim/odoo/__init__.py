"""The k8s-dev-sandbox Odoo stand-in's `odoo` package: what an addon imports
from Odoo, enough to import its code and run its tests without an ORM. Names
it does not define are permissive stand-ins (see _permissive.py)."""

from . import _permissive
from . import addons, api, exceptions, fields, http, models, release, tools  # noqa: F401
from .tools.translate import _  # noqa: F401

SUPERUSER_ID = 1
evented = False
multi_process = False


def __getattr__(attr):
    return _permissive.submodule_or_permissive(__name__, attr)
