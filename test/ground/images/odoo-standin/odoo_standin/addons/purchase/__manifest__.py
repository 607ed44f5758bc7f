# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Purchase",
    "version": "18.0.1.0",
    "depends": ["account"],
    "auto_install": False,
    "license": "LGPL-3",
}
