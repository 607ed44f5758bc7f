#!/bin/bash
# /docker-entrypoint-initdb.d/ script of the sandbox's PostgreSQL: runs once,
# when the image initializes an empty data directory, as the superuser.
# Odoo gets its own role that may create its database but is no superuser:
# a module or a leaked password then reaches Odoo's data, not the server
# (COPY ... PROGRAM, ALTER SYSTEM, other roles). Odoo creates its database
# itself, so the database is owned by this role.
# Name and password are psql variables (:"user" and :'password' quote them),
# never text pasted into the statement: any password works.
set -euo pipefail
: "${ODOO_DB_USER:?ODOO_DB_USER is required}"
: "${ODOO_DB_PASSWORD:?ODOO_DB_PASSWORD is required}"
PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
  --username "$POSTGRES_USER" --dbname postgres \
  -v user="$ODOO_DB_USER" -v password="$ODOO_DB_PASSWORD" <<'SQL'
CREATE ROLE :"user" LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
SQL
echo "created role ${ODOO_DB_USER} (NOSUPERUSER CREATEDB)"
