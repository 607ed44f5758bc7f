# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Web",
    "version": "18.0.1.0",
    "depends": ["base"],
    "auto_install": True,
    "license": "LGPL-3",
}
