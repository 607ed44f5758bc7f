#!/bin/bash
# First init container of the Odoo pod: writes the odoo.conf that Odoo and
# init-db read, from the Secret's odoo.conf plus the database password, into
# an emptyDir (mode 0600, owner Odoo's uid), with a libpq password file
# beside it. The password so never appears on a command line: the image's
# entrypoint appends --db_password only when odoo.conf has no db_password,
# and its wait for PostgreSQL (and psql in init-db) read PGPASSFILE.
# odoo.conf is read by Python's RawConfigParser: one line, no interpolation,
# so '$', '#', '%' and quotes stay as they are (the values schema refuses
# line breaks and blanks at either end, which the parser would strip).
set -euo pipefail
: "${CONF_TEMPLATE:?CONF_TEMPLATE is required}"
: "${CONF_OUT:?CONF_OUT is required}"
: "${PGPASS_OUT:?PGPASS_OUT is required}"
: "${DB_PASSWORD:?DB_PASSWORD is required}"
umask 077
{
  cat "$CONF_TEMPLATE"
  printf 'db_password = %s\n' "$DB_PASSWORD"
} >"$CONF_OUT.tmp"
mv -f "$CONF_OUT.tmp" "$CONF_OUT"
# .pgpass: host:port:database:user:password, with '\' and ':' escaped.
escaped=${DB_PASSWORD//\\/\\\\}
escaped=${escaped//:/\\:}
printf '*:*:*:*:%s\n' "$escaped" >"$PGPASS_OUT.tmp"
mv -f "$PGPASS_OUT.tmp" "$PGPASS_OUT"
chmod 0600 "$CONF_OUT" "$PGPASS_OUT"
echo "[render-odoo-conf] wrote $CONF_OUT and $PGPASS_OUT (0600)"
