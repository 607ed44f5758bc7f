"""odoo.tools: the configuration is the stand-in's own; the rest is permissive."""

from odoo_standin.config import config  # noqa: F401

from .. import _permissive
from .translate import _  # noqa: F401


def __getattr__(attr):
    return _permissive.submodule_or_permissive(__name__, attr)
