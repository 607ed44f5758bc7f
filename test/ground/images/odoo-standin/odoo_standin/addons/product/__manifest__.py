# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Products & Pricelists",
    "version": "18.0.1.0",
    "depends": ["base", "mail", "uom"],
    "auto_install": False,
    "license": "LGPL-3",
}
