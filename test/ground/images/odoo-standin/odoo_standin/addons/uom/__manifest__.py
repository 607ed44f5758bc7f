# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Units of measure",
    "version": "18.0.1.0",
    "depends": ["base"],
    "auto_install": False,
    "license": "LGPL-3",
}
