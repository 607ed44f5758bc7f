"""Controllers can be declared; their routes are not served by the stand-in."""

from . import _permissive


class Controller:
    pass


def route(*args, **kwargs):
    def decorator(method):
        return method

    return decorator


request = _permissive.Permissive("odoo.http.request")


def __getattr__(attr):
    return _permissive.Permissive(f"{__name__}.{attr}")
