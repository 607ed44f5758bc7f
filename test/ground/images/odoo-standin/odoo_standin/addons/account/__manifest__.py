# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Invoicing",
    "version": "18.0.1.0",
    "depends": ["base_setup", "product"],
    "auto_install": False,
    "license": "LGPL-3",
}
