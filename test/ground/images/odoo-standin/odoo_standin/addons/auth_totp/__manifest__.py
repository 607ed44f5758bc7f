# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Two-Factor Authentication (TOTP)",
    "version": "18.0.1.0",
    "depends": ["web"],
    "auto_install": True,
    "license": "LGPL-3",
}
