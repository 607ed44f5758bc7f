"""The few Odoo exceptions the stand-in raises itself."""


class UserError(Exception):
    pass


class AccessDenied(Exception):
    def __init__(self, message="Access Denied"):
        super().__init__(message)
