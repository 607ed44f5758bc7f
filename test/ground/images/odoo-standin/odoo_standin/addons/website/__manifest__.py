# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Website",
    "version": "18.0.1.0",
    "depends": ["web", "mail"],
    "auto_install": False,
    "license": "LGPL-3",
}
