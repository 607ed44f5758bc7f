"""Version facts. Odoo 18 prints `Odoo Server 18.0` for --version and logs
`Odoo version 18.0`; the stand-in says what it is next to the same number."""

VERSION_INFO = (18, 0, 0, "final", 0, "")
SERIE = "18.0"
VERSION = "18.0"
DESCRIPTION = "Odoo Server"
STANDIN = "k8s-dev-sandbox stand-in"
VERSION_STRING = f"{DESCRIPTION} {VERSION} ({STANDIN})"
# Odoo refuses databases created by another major version; the stand-in stamps
# its own so a real Odoo 18 reading the database sees a familiar value.
PROTOCOL_VERSION = 1
