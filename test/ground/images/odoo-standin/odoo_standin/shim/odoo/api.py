"""Method decorators hand the method back unchanged."""

from . import _permissive

SUPERUSER_ID = 1


def _identity(method):
    return method


def _identity_factory(*args, **kwargs):
    return _identity


model = model_create_multi = private = readonly = _identity
depends = depends_context = constrains = onchange = returns = ondelete = autovacuum = _identity_factory


def __getattr__(attr):
    return _permissive.Permissive(f"{__name__}.{attr}")
