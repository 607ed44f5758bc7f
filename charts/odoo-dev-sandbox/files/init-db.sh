#!/bin/bash
# Brings the sandbox's database to a usable state; runs before Odoo on every
# pod start, so it must be cheap and harmless when there is nothing to do:
#   - no database, or one where `base` is not installed -> odoo -i base,<modules>
#   - installed, and UPDATE_ON_REVISION_CHANGE=true and the image/commit moved
#     since the last run -> odoo -i/-u <repository modules> (new ones installed)
#   - otherwise nothing: an existing database is never initialized again.
# Connection settings come from libpq's PG* variables; names and module lists
# come from the environment, never from text pasted into this script.
set -euo pipefail

: "${ODOO_DATABASE:?ODOO_DATABASE is required}"
: "${PGHOST:?PGHOST is required}"
odoo_bin=${ODOO_BIN:-odoo}
odoo_rc=${ODOO_RC:-/etc/odoo/odoo.conf}
revision=${REVISION:-}
marker_key=k8s_dev_sandbox.revision

log() { printf '[init-db] %s\n' "$*" >&2; }

# sql DB [psql args...] < statement; :'name' variables are quoted by psql.
sql() {
  local db=$1
  shift
  psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"
}

wait_for_postgres() {
  local deadline=$((SECONDS + ${WAIT_SECONDS:-300}))
  until pg_isready -q -d postgres; do
    if ((SECONDS >= deadline)); then
      log "PostgreSQL at ${PGHOST}:${PGPORT:-5432} did not answer within ${WAIT_SECONDS:-300}s"
      exit 1
    fi
    sleep 2
  done
}

# Module directories (with a __manifest__.py) under the comma-separated paths.
discover_modules() {
  local path dir name
  local -a paths
  IFS=, read -r -a paths <<<"${ODOO_ADDONS_PATHS:-}"
  for path in "${paths[@]}"; do
    [[ -d $path ]] || continue
    for dir in "$path"/*/; do
      name=$(basename "$dir")
      if [[ -f $dir/__manifest__.py && $name =~ ^[a-z0-9_]+$ ]]; then
        printf '%s\n' "$name"
      fi
    done
  done
}

# missing | empty | <state of base in ir_module_module>
base_state() {
  local exists has_table state
  exists=$(sql postgres -v db="$ODOO_DATABASE" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
  [[ $exists == 1 ]] || { echo missing; return; }
  has_table=$(sql "$ODOO_DATABASE" <<<"SELECT to_regclass('public.ir_module_module') IS NOT NULL;")
  [[ $has_table == t ]] || { echo empty; return; }
  state=$(sql "$ODOO_DATABASE" <<<"SELECT state FROM ir_module_module WHERE name = 'base';")
  echo "${state:-empty}"
}

stored_revision() {
  sql "$ODOO_DATABASE" -v key="$marker_key" <<<"SELECT value FROM ir_config_parameter WHERE key = :'key';"
}

store_revision() {
  [[ -n $revision ]] || return 0
  sql "$ODOO_DATABASE" -v key="$marker_key" -v rev="$revision" <<<"
    INSERT INTO ir_config_parameter (key, value, create_date, write_date)
    VALUES (:'key', :'rev', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date;"
}

run_odoo() {
  log "running: odoo $*"
  "$odoo_bin" --config="$odoo_rc" --database="$ODOO_DATABASE" --stop-after-init --no-http \
    --workers=0 --max-cron-threads=0 "$@"
}

# Odoo's `admin` user comes with the password "admin"; a preview on a public
# URL gets the generated one instead, once, when the database is created
# (a password changed later in Odoo is never overwritten). Stored the way
# Odoo 18 stores it: passlib's pbkdf2-sha512 format, computed with Python's
# standard library (the image's python3) from the environment, never argv.
set_admin_password() {
  [[ -n ${ADMIN_LOGIN_PASSWORD:-} ]] || return 0
  local hash
  hash=$(python3 -c '
import base64, hashlib, os
ab64 = lambda raw: base64.b64encode(raw).decode().rstrip("=").replace("+", ".")
salt, rounds = os.urandom(16), 600000
digest = hashlib.pbkdf2_hmac("sha512", os.environ["ADMIN_LOGIN_PASSWORD"].encode(), salt, rounds)
print(f"$pbkdf2-sha512${rounds}${ab64(salt)}${ab64(digest)}")')
  sql "$ODOO_DATABASE" -v hash="$hash" <<<"
    UPDATE res_users SET password = :'hash'
    WHERE id = (SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'user_admin' AND model = 'res.users');"
  log "password of the admin user set from the sandbox's Secret"
}

join_commas() {
  local IFS=,
  printf '%s' "$*"
}

main() {
  local -a configured discovered own
  IFS=, read -r -a configured <<<"${INIT_MODULES:-}"
  discovered=()
  if [[ ${DISCOVER_ADDONS:-true} == true ]]; then
    mapfile -t discovered < <(discover_modules)
  fi
  own=()
  local m
  for m in "${configured[@]}" "${discovered[@]}"; do
    m=${m//[[:space:]]/}
    if [[ -n $m && $m != base && " ${own[*]} " != *" $m "* ]]; then
      own+=("$m")
    fi
  done

  wait_for_postgres
  local state
  state=$(base_state)
  if [[ $state != installed ]]; then
    log "database ${ODOO_DATABASE} is not initialized (${state}): installing base${own[*]:+ and ${own[*]}}"
    run_odoo --init="$(join_commas base "${own[@]}")"
    set_admin_password
    store_revision
    log "database ${ODOO_DATABASE} initialized"
    return
  fi
  log "database ${ODOO_DATABASE} is already initialized"
  if [[ ${UPDATE_ON_REVISION_CHANGE:-false} == true && ${#own[@]} -gt 0 && -n $revision ]]; then
    if [[ $(stored_revision) == "$revision" ]]; then
      log "modules already updated for ${revision}"
    else
      log "new revision ${revision}: installing/updating ${own[*]}"
      run_odoo --init="$(join_commas "${own[@]}")" --update="$(join_commas "${own[@]}")"
      store_revision
    fi
  fi
}

main "$@"
