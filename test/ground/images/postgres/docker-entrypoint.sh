#!/usr/bin/env bash
# Entrypoint of the test ground's postgres image (Debian's postgresql-15).
# Written from the documented contract of the official `postgres` image, which
# charts/odoo-dev-sandbox is made for:
#   - POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#     POSTGRES_USER (the superuser, default postgres), POSTGRES_DB (default:
#     the user's name), POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR,
#     POSTGRES_HOST_AUTH_METHOD (default scram-sha-256); the first four also as
#     <NAME>_FILE, a file holding the value (a mounted Secret).
#   - PGDATA (default /var/lib/postgresql/data) is initialized on first start
#     only: initdb, `host all all all <method>` appended to pg_hba.conf (inside
#     the container the socket and loopback stay `trust`, as in the official
#     image), POSTGRES_DB created, then /docker-entrypoint-initdb.d/* run in
#     order (*.sh executed or sourced, *.sql, *.sql.gz, *.sql.xz, *.sql.zst).
#     Meanwhile the server listens on its Unix socket only, so no client sees a
#     half-initialized database.
#   - Arguments starting with "-" are options for postgres; any other command
#     (bash, psql, ...) runs as given.
#   - As root it prepares the directories and continues as postgres; as any
#     other user (the chart: uid 999, read-only root file system, writable
#     PGDATA, /var/run/postgresql, /tmp and /dev/shm) it just runs.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# VAR from the environment, or from the file VAR_FILE names; never both.
env_or_file() {
  local var=$1 default=${2:-}
  local file_var="${var}_FILE"
  local value=$default
  if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
    die "both $var and $file_var are set; set only one"
  elif [[ -n ${!var:-} ]]; then
    value=${!var}
  elif [[ -n ${!file_var:-} ]]; then
    [[ -r ${!file_var} ]] || die "$file_var names ${!file_var}, which cannot be read"
    value=$(<"${!file_var}")
  fi
  export "$var=$value"
  unset "$file_var"
}

# True when the arguments only ask postgres something (version, help, a
# setting) rather than starting a server: no initialization for those.
only_asks() {
  local arg
  for arg in "$@"; do
    case $arg in
    --help | -'?' | --version | -V | --describe-config | -C*) return 0 ;;
    esac
  done
  return 1
}

# psql against the temporary server, on its Unix socket in the default
# directory, whatever PGHOST the environment holds.
init_psql() {
  PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" "$@"
}

run_init_files() {
  local file
  for file in /docker-entrypoint-initdb.d/*; do
    [[ -e $file ]] || continue
    case $file in
    *.sh)
      if [[ -x $file ]]; then
        log "running $file"
        "$file"
      else
        log "sourcing $file"
        # shellcheck disable=SC1090
        . "$file"
      fi
      ;;
    *.sql)
      log "running $file"
      init_psql --dbname "$POSTGRES_DB" -f "$file"
      ;;
    *.sql.gz)
      log "running $file"
      gzip -dc "$file" | init_psql --dbname "$POSTGRES_DB"
      ;;
    *.sql.xz)
      log "running $file"
      xz -dc "$file" | init_psql --dbname "$POSTGRES_DB"
      ;;
    *.sql.zst)
      log "running $file"
      zstd -dc "$file" | init_psql --dbname "$POSTGRES_DB"
      ;;
    *) log "ignoring $file (not .sh, .sql, .sql.gz, .sql.xz or .sql.zst)" ;;
    esac
  done
}

initialize() {
  env_or_file POSTGRES_USER postgres
  env_or_file POSTGRES_PASSWORD
  env_or_file POSTGRES_DB "$POSTGRES_USER"
  env_or_file POSTGRES_INITDB_ARGS
  export POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [[ -z $POSTGRES_PASSWORD && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
    die "the database is not initialized and POSTGRES_PASSWORD is not set (POSTGRES_HOST_AUTH_METHOD=trust allows no password)"
  fi
  [[ $POSTGRES_HOST_AUTH_METHOD == trust ]] && log "warning: POSTGRES_HOST_AUTH_METHOD=trust lets anyone connect without a password"

  # A mounted volume may come with lost+found: that is why PGDATA should be a
  # subdirectory of it (the chart does so).
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA" 2>/dev/null || true
  local -a args extra
  args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host=trust)
  if [[ -n $POSTGRES_PASSWORD ]]; then
    # Through a pipe, never on a command line other processes could read.
    exec {pwfd}< <(printf '%s\n' "$POSTGRES_PASSWORD")
    args+=(--pwfile="/dev/fd/$pwfd")
  fi
  if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    chmod 0700 "$POSTGRES_INITDB_WALDIR" 2>/dev/null || true
    args+=(--waldir="$POSTGRES_INITDB_WALDIR")
  fi
  # A string of options, split on blanks; they come last, so they win.
  read -r -a extra <<<"$POSTGRES_INITDB_ARGS"
  log "initializing $PGDATA (superuser $POSTGRES_USER)"
  initdb "${args[@]}" "${extra[@]}"
  [[ -n ${pwfd:-} ]] && exec {pwfd}<&-

  printf '\n# Added on first start: every other client needs a password.\nhost all all all %s\n' \
    "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  # Socket only while initializing; -w waits until it accepts connections.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
  if [[ $POSTGRES_DB != postgres ]]; then
    log "creating database $POSTGRES_DB"
    init_psql --dbname postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  run_init_files
  pg_ctl -D "$PGDATA" -m fast -w stop
  log "initialization done; starting PostgreSQL"
}

if [[ ${1:-} == -* ]]; then
  set -- postgres "$@"
fi
if [[ ${1:-} != postgres ]] || only_asks "${@:2}"; then
  exec "$@"
fi

export PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [[ $(id -u) == 0 ]]; then
  # Started as root (e.g. `--user 0`): make the directories postgres needs its
  # own, then start over as postgres.
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres {} +
  chmod 0700 "$PGDATA"
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "${BASH_SOURCE[0]}" "$@"
fi

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  initialize
fi
exec "$@"
