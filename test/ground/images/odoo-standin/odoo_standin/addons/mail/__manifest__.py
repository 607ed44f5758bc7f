# Stand-in catalogue entry for Odoo's own module (no code, no data).
{
    "name": "Discuss",
    "version": "18.0.1.0",
    "depends": ["base", "base_setup", "bus", "web_tour"],
    "auto_install": False,
    "license": "LGPL-3",
}
