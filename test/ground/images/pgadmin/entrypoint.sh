#!/bin/bash
# Starts pgAdmin 4 the way dpage/pgadmin4 does, for the variables the chart
# (and a plain `docker run` of the official image) uses:
#   PGADMIN_DEFAULT_EMAIL, PGADMIN_DEFAULT_PASSWORD (or _FILE)
#                                 the first account, created at first start
#   PGADMIN_CONFIG_<KEY>=<python> one config line each, KEY = value, in
#                                 config_distro.py (written at first start)
#   PGADMIN_SERVER_JSON_FILE      servers loaded for that account at first start
#                                 (default /pgadmin4/servers.json)
#   PGADMIN_PREFERENCES_JSON_FILE preferences, likewise
#   PGPASS_FILE                   copied into the account's storage directory
#   PGADMIN_LISTEN_ADDRESS, PGADMIN_LISTEN_PORT, GUNICORN_THREADS,
#   GUNICORN_LIMIT_REQUEST_LINE, GUNICORN_ACCESS_LOGFILE
#   PGADMIN_DISABLE_POSTFIX       there is no postfix here; see below
# "First start" is: no /var/lib/pgadmin/pgadmin4.db yet. Behind a proxy at a
# sub-path, the proxy sends X-Script-Name (pgAdmin's own ReverseProxied
# middleware honours it). What differs from the official image is listed in
# ../README.md.
set -euo pipefail

data=/var/lib/pgadmin
app_dir=${PGADMIN_APP_DIR:?the image sets PGADMIN_APP_DIR}
python=/venv/bin/python3

fail() {
  echo "pgadmin: $*" >&2
  exit 1
}

for unsupported in PGADMIN_ENABLE_TLS PGADMIN_ENABLE_SOCK PGADMIN_CONFIG_CONFIG_DATABASE_URI PGADMIN_CONFIG_CONFIG_DATABASE_URI_FILE; do
  if [[ -n "${!unsupported:-}" ]]; then
    fail "$unsupported is set, but this image does not support it (plain HTTP on PGADMIN_LISTEN_PORT, SQLite in $data): unset it; terminate TLS at the ingress"
  fi
done

if [[ -n "${PGADMIN_DEFAULT_PASSWORD_FILE:-}" ]]; then
  [[ -z "${PGADMIN_DEFAULT_PASSWORD:-}" ]] || fail "PGADMIN_DEFAULT_PASSWORD and PGADMIN_DEFAULT_PASSWORD_FILE are both set: set one of them"
  [[ -r "$PGADMIN_DEFAULT_PASSWORD_FILE" ]] || fail "PGADMIN_DEFAULT_PASSWORD_FILE=$PGADMIN_DEFAULT_PASSWORD_FILE cannot be read by uid $(id -u)"
  PGADMIN_DEFAULT_PASSWORD=$(<"$PGADMIN_DEFAULT_PASSWORD_FILE")
  export PGADMIN_DEFAULT_PASSWORD
  unset PGADMIN_DEFAULT_PASSWORD_FILE
fi

# config_distro.py: this image's defaults, then one line per PGADMIN_CONFIG_*
# variable. Values are Python expressions, as with the official image
# (PGADMIN_CONFIG_SERVER_MODE=True, PGADMIN_CONFIG_LOGIN_BANNER='"Hi"'). The
# names are checked; the values are the operator's Python by contract.
export CONFIG_DISTRO_FILE_PATH="${PGADMIN_CUSTOM_CONFIG_DISTRO_FILE:-/pgadmin4/config_distro.py}"
if [[ ! -s "$CONFIG_DISTRO_FILE_PATH" ]]; then
  {
    echo "# Written by /entrypoint.sh at first start."
    # The wheel's own config_distro.py (replaced by this file) sets these two.
    echo "HELP_PATH = '../../docs/en_US/_build/html/'"
    echo "MINIFY_HTML = False"
    echo "CA_FILE = '/etc/ssl/certs/ca-certificates.crt'"
    # Logs go to the container's output only.
    echo "LOG_FILE = '/dev/null'"
    echo "DEFAULT_BINARY_PATHS = {'pg': '/usr/lib/postgresql/15/bin', 'pg-15': '/usr/lib/postgresql/15/bin'}"
    while IFS= read -r name; do
      key=${name#PGADMIN_CONFIG_}
      [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || fail "$name: after PGADMIN_CONFIG_ must come a pgAdmin setting name (capitals, digits, _)"
      printf '%s = %s\n' "$key" "${!name}"
    done < <(compgen -e | grep '^PGADMIN_CONFIG_' | sort)
  } >"$CONFIG_DISTRO_FILE_PATH" || fail "cannot write $CONFIG_DISTRO_FILE_PATH as uid $(id -u): the root file system must be writable there, or point PGADMIN_CUSTOM_CONFIG_DISTRO_FILE at a writable path"
fi

[[ -w "$data" ]] || fail "$data is not writable by uid $(id -u) gid $(id -g): mount a volume owned by 5050 there (fsGroup 5050 in Kubernetes)"

if [[ ! -f "$data/pgadmin4.db" ]]; then
  if [[ -z "${PGADMIN_DEFAULT_EMAIL:-}" || -z "${PGADMIN_DEFAULT_PASSWORD:-}" ]]; then
    fail "first start: set PGADMIN_DEFAULT_EMAIL and PGADMIN_DEFAULT_PASSWORD (or PGADMIN_DEFAULT_PASSWORD_FILE) for pgAdmin's first account"
  fi
  # pgAdmin's own check, with the configured CHECK_EMAIL_DELIVERABILITY and
  # ALLOW_SPECIAL_EMAIL_DOMAINS; the address is read from the environment,
  # never pasted into code.
  (cd "$app_dir" && "$python" -c '
import os, sys
import config  # first, as pgAdmin4.py does: pgadmin.utils alone is a circular import
from pgadmin.utils.validation_utils import validate_email
sys.exit(0 if validate_email(os.environ["PGADMIN_DEFAULT_EMAIL"]) else 1)
') || fail "PGADMIN_DEFAULT_EMAIL=${PGADMIN_DEFAULT_EMAIL} is not an e-mail address pgAdmin accepts (see the reason above): set another"

  # Importing the application creates the database and the first account
  # (pgAdmin reads PGADMIN_SETUP_EMAIL/PASSWORD for that).
  # A half-made database would make the next start skip all of this.
  if ! (cd /pgadmin4 && PGADMIN_SETUP_EMAIL=$PGADMIN_DEFAULT_EMAIL PGADMIN_SETUP_PASSWORD=$PGADMIN_DEFAULT_PASSWORD \
    "$python" -c 'import run_pgadmin'); then
    rm -f "$data/pgadmin4.db"
    fail "creating pgAdmin's database in $data failed (see above)"
  fi

  servers=${PGADMIN_SERVER_JSON_FILE:-/pgadmin4/servers.json}
  if [[ -f "$servers" ]]; then
    if [[ "${PGADMIN_CONFIG_SERVER_MODE:-}" == "False" ]]; then
      "$python" "$app_dir/setup.py" load-servers "$servers" || fail "loading servers from $servers failed"
    else
      "$python" "$app_dir/setup.py" load-servers "$servers" --user "$PGADMIN_DEFAULT_EMAIL" || fail "loading servers from $servers failed"
    fi
  fi
  preferences=${PGADMIN_PREFERENCES_JSON_FILE:-/pgadmin4/preferences.json}
  if [[ -f "$preferences" ]]; then
    if [[ "${PGADMIN_CONFIG_SERVER_MODE:-}" == "False" ]]; then
      user=$(cd "$app_dir" && "$python" -c 'import config; print(config.DESKTOP_USER)')
    else
      user=$PGADMIN_DEFAULT_EMAIL
    fi
    "$python" "$app_dir/setup.py" set-prefs "$user" --input-file "$preferences" || fail "loading preferences from $preferences failed"
  fi
  if [[ -n "${PGPASS_FILE:-}" && -f "$PGPASS_FILE" ]]; then
    if [[ "${PGADMIN_CONFIG_SERVER_MODE:-}" == "False" ]]; then
      pgpass=$data/.pgpass
    else
      pgpass=$data/storage/${PGADMIN_DEFAULT_EMAIL//@/_}/.pgpass
    fi
    mkdir -p "$(dirname "$pgpass")"
    install -m 0600 "$PGPASS_FILE" "$pgpass"
  fi
fi

if [[ -z "${PGADMIN_DISABLE_POSTFIX:-}" ]]; then
  # The official image starts postfix with sudo here. This one has neither:
  # they need root and capabilities a hardened pod does not have.
  echo "pgadmin: this image has no mail relay (postfix): pgAdmin cannot send mail (password reset); set PGADMIN_DISABLE_POSTFIX=true to silence this" >&2
fi

# The server needs the first account's password no more: it stays out of
# the environment of the long-running process.
unset PGADMIN_DEFAULT_PASSWORD PGADMIN_SETUP_PASSWORD

# One worker with threads: pgAdmin keeps its sessions in that process. The
# worker timeout is pgAdmin's session lifetime, as in the official image.
timeout=$(cd "$app_dir" && "$python" -c 'import config; print(int(config.SESSION_EXPIRATION_TIME * 24 * 3600))')
if [[ -n "${PGADMIN_LISTEN_ADDRESS:-}" ]]; then
  address=$PGADMIN_LISTEN_ADDRESS
elif [[ -e /proc/net/if_inet6 ]]; then
  address="[::]"
else
  # IPv6 is off in this network namespace: [::] could not be bound.
  address=0.0.0.0
fi
exec /venv/bin/gunicorn \
  --bind "$address:${PGADMIN_LISTEN_PORT:-5050}" \
  --workers 1 \
  --threads "${GUNICORN_THREADS:-25}" \
  --timeout "$timeout" \
  --limit-request-line "${GUNICORN_LIMIT_REQUEST_LINE:-8190}" \
  --access-logfile "${GUNICORN_ACCESS_LOGFILE:--}" \
  --chdir /pgadmin4 \
  run_pgadmin:app
