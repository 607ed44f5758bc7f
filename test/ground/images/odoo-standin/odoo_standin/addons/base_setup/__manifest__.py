# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Initial Setup Tools",
    "version": "18.0.1.0",
    "depends": ["base", "web"],
    "auto_install": False,
    "license": "LGPL-3",
}
