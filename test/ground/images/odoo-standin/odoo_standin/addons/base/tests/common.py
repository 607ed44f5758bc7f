"""odoo.addons.base.tests.common: the base classes Odoo 18 addons' tests
inherit, without an ORM (see odoo/tests/common.py of the stand-in)."""

from odoo.tests.common import HttpCase, TransactionCase


class BaseCommon(TransactionCase):
    pass


class BaseUsersCommon(BaseCommon):
    pass


class TransactionCaseWithUserDemo(TransactionCase):
    pass


class TransactionCaseWithUserPortal(TransactionCase):
    pass


class HttpCaseWithUserDemo(HttpCase):
    pass


class HttpCaseWithUserPortal(HttpCase):
    pass


SavepointCaseWithUserDemo = TransactionCaseWithUserDemo
