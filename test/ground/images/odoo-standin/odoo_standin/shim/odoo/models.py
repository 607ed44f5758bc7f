"""Model base classes: class bodies run, nothing is registered in a database."""

from . import _permissive


class BaseModel:
    _name = None
    _inherit = None
    _description = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__()


class AbstractModel(BaseModel):
    pass


class Model(AbstractModel):
    pass


class TransientModel(Model):
    pass


def __getattr__(attr):
    return _permissive.Permissive(f"{__name__}.{attr}")
