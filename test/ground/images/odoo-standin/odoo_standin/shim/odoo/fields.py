"""Field declarations are accepted and kept, never turned into columns."""

from . import _permissive


class Field:
    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


for _name in (
    "Id", "Boolean", "Integer", "Float", "Monetary", "Char", "Text", "Html", "Date", "Datetime",
    "Binary", "Image", "Selection", "Reference", "Many2one", "Many2oneReference", "One2many",
    "Many2many", "Json", "Properties", "PropertiesDefinition",
):
    globals()[_name] = type(_name, (Field,), {})
del _name


def __getattr__(attr):
    return _permissive.Permissive(f"{__name__}.{attr}")
