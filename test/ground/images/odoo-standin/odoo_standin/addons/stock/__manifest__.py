# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Inventory",
    "version": "18.0.1.0",
    "depends": ["product"],
    "auto_install": False,
    "license": "LGPL-3",
}
