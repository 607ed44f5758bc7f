"""Odoo's exception classes, as plain exceptions."""


class UserError(Exception):
    pass


class RedirectWarning(Exception):
    pass


class AccessDenied(UserError):
    def __init__(self, message="Access Denied"):
        super().__init__(message)


class AccessError(UserError):
    pass


class MissingError(UserError):
    pass


class ValidationError(UserError):
    pass


class CacheMiss(KeyError):
    pass


class ConcurrencyError(Exception):
    pass


def __getattr__(attr):
    if attr.startswith("__"):
        raise AttributeError(attr)
    return type(attr, (Exception,), {"__module__": __name__})
