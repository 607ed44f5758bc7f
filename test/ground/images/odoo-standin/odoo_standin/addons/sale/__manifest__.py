# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Sales",
    "version": "18.0.1.0",
    "depends": ["sales_team", "account", "product"],
    "auto_install": False,
    "license": "LGPL-3",
}
