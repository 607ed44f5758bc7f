"""The k8s-dev-sandbox Odoo stand-in: behaves as Odoo 18 does where the
odoo-dev-sandbox chart depends on it (configuration, PostgreSQL, database
initialization, HTTP endpoints, tests). It is not Odoo and runs no ORM; every
difference is listed in ../README.md."""
