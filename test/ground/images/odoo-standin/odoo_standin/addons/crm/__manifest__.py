# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "CRM",
    "version": "18.0.1.0",
    "depends": ["base_setup", "sales_team", "mail", "contacts"],
    "auto_install": False,
    "license": "LGPL-3",
}
