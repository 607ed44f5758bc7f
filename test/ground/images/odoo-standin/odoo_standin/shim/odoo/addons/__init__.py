"""odoo.addons: its __path__ is set to the stand-in's addons paths at start."""
