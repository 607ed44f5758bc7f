"""No translations: _() returns the source text, formatted like Odoo's."""


def _(source, *args, **kwargs):
    if args or kwargs:
        return source % (args or kwargs)
    return source


_lt = _
