# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "IM Bus",
    "version": "18.0.1.0",
    "depends": ["base", "web"],
    "auto_install": True,
    "license": "LGPL-3",
}
