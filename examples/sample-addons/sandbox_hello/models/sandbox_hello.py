from odoo import fields, models


class SandboxHello(models.Model):
    _name = "sandbox.hello"
    _description = "Sandbox greeting"

    name = fields.Char(required=True, default="Hello from a preview")
    branch = fields.Char(help="The branch this preview was built from")
