#!/bin/bash
# /entrypoint.sh of the k8s-dev-sandbox Odoo stand-in image, doing what the
# official odoo:18.0 image's entrypoint does (written from its documented
# behaviour, see README.md):
#   - HOST, PORT, USER, PASSWORD (or the file named by PASSWORD_FILE) give
#     the database settings, defaulting to Docker's legacy link variables,
#     then to db / 5432 / odoo / odoo;
#   - each of db_host, db_port, db_user, db_password missing from $ODOO_RC
#     is appended to odoo's arguments (--db_host HOST ...): the file wins;
#   - when the first argument is `odoo`, `--` or an option, it waits up to
#     30 s for PostgreSQL, then runs odoo; any other command runs as given.
set -e

if [ -v PASSWORD_FILE ]; then
    PASSWORD="$(<"$PASSWORD_FILE")"
fi

: "${HOST:=${DB_PORT_5432_TCP_ADDR:=db}}"
: "${PORT:=${DB_PORT_5432_TCP_PORT:=5432}}"
: "${USER:=${DB_ENV_POSTGRES_USER:=${POSTGRES_USER:=odoo}}}"
: "${PASSWORD:=${DB_ENV_POSTGRES_PASSWORD:=${POSTGRES_PASSWORD:=odoo}}}"

DB_ARGS=()
add_unless_configured() {
    local key=$1 value=$2
    if ! grep -q -E "^\s*\b${key}\b\s*=" "${ODOO_RC:-}" 2>/dev/null; then
        DB_ARGS+=("--${key}" "${value}")
    fi
}
add_unless_configured db_host "$HOST"
add_unless_configured db_port "$PORT"
add_unless_configured db_user "$USER"
add_unless_configured db_password "$PASSWORD"

# Run from a source tree, the stand-in's package sits beside this script.
here=$(dirname "$(readlink -f "$0")")
if [ -d "$here/odoo_standin" ]; then
    export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
fi

wait_for_postgres() {
    /usr/bin/python3 -m odoo_standin.wait_for_psql "${DB_ARGS[@]}" --timeout=30
}

case "$1" in
    -- | odoo)
        shift
        if [[ "$1" == "scaffold" ]]; then
            exec odoo "$@"
        fi
        wait_for_postgres
        exec odoo "$@" "${DB_ARGS[@]}"
        ;;
    -*)
        wait_for_postgres
        exec odoo "$@" "${DB_ARGS[@]}"
        ;;
    *)
        exec "$@"
        ;;
esac
