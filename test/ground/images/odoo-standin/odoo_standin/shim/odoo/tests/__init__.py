"""odoo.tests: the test case classes and decorators Odoo 18 tests use."""

from .. import _permissive
from .common import (  # noqa: F401
    BaseCase,
    HttpCase,
    SingleTransactionCase,
    TransactionCase,
    get_db_name,
    new_test_user,
    tagged,
    users,
    warmup,
)


def __getattr__(attr):
    return _permissive.submodule_or_permissive(__name__, attr)
