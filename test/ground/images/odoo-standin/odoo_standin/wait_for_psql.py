"""`python3 -m odoo_standin.wait_for_psql [--db_host H] [--db_port P]
[--db_user U] [--db_password W] [--timeout S]`: the official image's
wait-for-psql.py. Waits until PostgreSQL accepts a connection to the
`postgres` database with the settings Odoo will use (arguments, else the
[options] of $ODOO_RC, else libpq's PG* variables and defaults), then exits
0; after the timeout it prints the last error and exits 1."""

import argparse
import configparser
import os
import sys
import time

import psycopg2


def settings(args):
    parser = configparser.RawConfigParser()
    parser.read([os.environ.get("ODOO_RC", "")])
    values = {}
    for key in ("host", "port", "user", "password"):
        given = getattr(args, f"db_{key}")
        if given is None and parser.has_option("options", f"db_{key}"):
            given = parser.get("options", f"db_{key}")
        if given and given not in ("False", "false"):
            values[key] = given
    return values


def main():
    arg_parser = argparse.ArgumentParser()
    for key in ("db_host", "db_port", "db_user", "db_password"):
        arg_parser.add_argument(f"--{key}")
    arg_parser.add_argument("--timeout", type=int, default=5)
    args = arg_parser.parse_args()
    connection = settings(args)
    started = time.time()
    error = None
    while time.time() - started < args.timeout:
        try:
            psycopg2.connect(dbname="postgres", **connection).close()
            return 0
        except psycopg2.OperationalError as failure:
            error = failure
            time.sleep(1)
    print(f"Database connection failure: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
