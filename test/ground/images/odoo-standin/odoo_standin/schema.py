"""The part of Odoo's database that the chart, its scripts and the stand-in's
own endpoints use, with Odoo 18's table and column names:

- ir_module_module (name, state, latest_version, demo, auto_install, ...):
  init-db.sh reads the state of `base`;
- ir_config_parameter (key UNIQUE, value, create_date, write_date): init-db.sh
  upserts its revision marker with ON CONFLICT (key);
- res_users (login, password as a passlib pbkdf2-sha512 hash), res_groups,
  res_groups_users_rel, ir_model_data: /web/login checks passwords here and
  whether the user is in base.group_system;
- res_users_log: one row per successful login, as Odoo writes it.

One table is the stand-in's own and says so: odoo_standin_operation records
every install and update it performed (Odoo keeps no such journal).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import uuid

TABLES = """
CREATE TABLE ir_module_module (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    state varchar,
    latest_version varchar,
    demo boolean DEFAULT false,
    auto_install boolean DEFAULT false,
    application boolean DEFAULT false,
    author varchar,
    license varchar,
    shortdesc jsonb,
    create_uid integer,
    create_date timestamp without time zone,
    write_uid integer,
    write_date timestamp without time zone,
    CONSTRAINT ir_module_module_name_uniq UNIQUE (name)
);
CREATE TABLE ir_module_module_dependency (
    id serial PRIMARY KEY,
    module_id integer REFERENCES ir_module_module ON DELETE CASCADE,
    name varchar
);
CREATE TABLE ir_config_parameter (
    id serial PRIMARY KEY,
    key varchar NOT NULL,
    value text NOT NULL,
    create_uid integer,
    create_date timestamp without time zone,
    write_uid integer,
    write_date timestamp without time zone,
    CONSTRAINT ir_config_parameter_key_uniq UNIQUE (key)
);
CREATE TABLE ir_model_data (
    id serial PRIMARY KEY,
    module varchar NOT NULL,
    name varchar NOT NULL,
    model varchar NOT NULL,
    res_id integer,
    noupdate boolean DEFAULT false,
    CONSTRAINT ir_model_data_module_name_uniq_index UNIQUE (module, name)
);
CREATE TABLE res_users (
    id serial PRIMARY KEY,
    login varchar NOT NULL,
    password varchar,
    active boolean DEFAULT true,
    share boolean DEFAULT false,
    create_uid integer,
    create_date timestamp without time zone,
    write_uid integer,
    write_date timestamp without time zone,
    CONSTRAINT res_users_login_key UNIQUE (login)
);
CREATE TABLE res_groups (
    id serial PRIMARY KEY,
    name jsonb NOT NULL
);
CREATE TABLE res_groups_users_rel (
    gid integer NOT NULL REFERENCES res_groups ON DELETE CASCADE,
    uid integer NOT NULL REFERENCES res_users ON DELETE CASCADE,
    PRIMARY KEY (gid, uid)
);
CREATE TABLE res_users_log (
    id serial PRIMARY KEY,
    create_uid integer,
    create_date timestamp without time zone,
    write_uid integer,
    write_date timestamp without time zone
);
CREATE TABLE odoo_standin_operation (
    id serial PRIMARY KEY,
    operation varchar NOT NULL,
    module varchar NOT NULL,
    demo boolean,
    at timestamp without time zone NOT NULL
);
"""

PBKDF2_ROUNDS = 600_000  # Odoo 18's passlib setting for pbkdf2_sha512
PBKDF2_PREFIX = "$pbkdf2-sha512$"


def is_initialized(cr):
    cr.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'ir_module_module'")
    return bool(cr.fetchall())


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def initialize(cr, available):
    """Odoo's modules.db.initialize: the tables, one row per available module
    (uninstalled, or uninstallable), base marked to install, then every
    auto-install module whose triggers are all marked."""
    cr.execute(TABLES)
    now = utcnow()
    for name, manifest in sorted(available.items()):
        state = "uninstalled" if manifest.get("installable", True) else "uninstallable"
        cr.execute(
            "INSERT INTO ir_module_module (name, state, latest_version, auto_install, application, author, license,"
            " shortdesc, create_uid, create_date, write_uid, write_date)"
            " VALUES (%s, %s, NULL, %s, %s, %s, %s, %s, 1, %s, 1, %s) RETURNING id",
            (
                name,
                state,
                manifest["auto_install"] is not None,
                bool(manifest.get("application")),
                manifest.get("author"),
                manifest.get("license"),
                json.dumps({"en_US": manifest.get("name", name)}),
                now,
                now,
            ),
        )
        (module_id,) = cr.fetchone()
        for dep in manifest["depends"]:
            cr.execute("INSERT INTO ir_module_module_dependency (module_id, name) VALUES (%s, %s)", (module_id, dep))
    cr.execute("UPDATE ir_module_module SET state = 'to install' WHERE name = 'base'")
    mark_auto_install(cr, available)


def mark_auto_install(cr, available):
    """Marks to install every uninstalled auto-install module whose trigger
    dependencies are installed or about to be."""
    while True:
        cr.execute("SELECT name, state FROM ir_module_module")
        states = dict(cr.fetchall())
        going = {name for name, state in states.items() if state in ("installed", "to install", "to upgrade")}
        newly = [
            name
            for name, manifest in available.items()
            if states.get(name) == "uninstalled"
            and manifest["auto_install"] is not None
            and manifest["auto_install"] <= going
            and all(dep in going for dep in manifest["depends"])
        ]
        if not newly:
            return
        cr.execute("UPDATE ir_module_module SET state = 'to install' WHERE name = ANY(%s)", (newly,))


def install_base_data(cr, http_port):
    """What installing `base` leaves behind that the stand-in uses: the
    superuser, admin (password "admin", as in a fresh Odoo), the public user,
    the Settings group and the default system parameters."""
    now = utcnow()
    users = [
        (1, "__system__", False, False, "base", "user_root"),
        (2, "admin", True, False, "base", "user_admin"),
        (3, "public", False, True, "base", "public_user"),
    ]
    for user_id, login, active, share, module, xmlid in users:
        cr.execute(
            "INSERT INTO res_users (id, login, password, active, share, create_uid, create_date, write_uid, write_date)"
            " VALUES (%s, %s, %s, %s, %s, 1, %s, 1, %s) ON CONFLICT DO NOTHING",
            (user_id, login, hash_password("admin") if login == "admin" else None, active, share, now, now),
        )
        cr.execute(
            "INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES (%s, %s, 'res.users', %s, true)"
            " ON CONFLICT DO NOTHING",
            (module, xmlid, user_id),
        )
    cr.execute("SELECT setval('res_users_id_seq', (SELECT max(id) FROM res_users))")
    cr.execute("INSERT INTO res_groups (name) VALUES ('{\"en_US\": \"Settings\"}') RETURNING id")
    (group_id,) = cr.fetchone()
    cr.execute("INSERT INTO ir_model_data (module, name, model, res_id) VALUES ('base', 'group_system', 'res.groups', %s)", (group_id,))
    cr.execute("INSERT INTO res_groups_users_rel (gid, uid) VALUES (%s, 1), (%s, 2)", (group_id, group_id))
    defaults = {
        "database.secret": str(uuid.uuid4()),
        "database.uuid": str(uuid.uuid1()),
        "database.create_date": now.strftime("%Y-%m-%d %H:%M:%S"),
        "web.base.url": f"http://localhost:{http_port}",
        "base.login_cooldown_after_failure": "5",
        "base.login_cooldown_duration": "60",
    }
    for key, value in defaults.items():
        set_param(cr, key, value)


def get_param(cr, key, default=None):
    cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
    row = cr.fetchone()
    return row[0] if row else default


def set_param(cr, key, value):
    now = utcnow()
    cr.execute(
        "INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid, write_date)"
        " VALUES (%s, %s, 1, %s, 1, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_uid = 1, write_date = EXCLUDED.write_date",
        (key, value, now, now),
    )


def record_operation(cr, operation, module, demo):
    cr.execute(
        "INSERT INTO odoo_standin_operation (operation, module, demo, at) VALUES (%s, %s, %s, %s)",
        (operation, module, demo, utcnow()),
    )


# --- passwords: passlib's pbkdf2_sha512 format, which Odoo 18 writes and reads


def _ab64(raw):
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def _ab64_decode(text):
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password, rounds=PBKDF2_ROUNDS):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"{PBKDF2_PREFIX}{rounds}${_ab64(salt)}${_ab64(digest)}"


def verify_password(password, stored):
    """(valid, replacement hash): a plaintext value is accepted once and
    replaced by a hash, as Odoo's deprecated 'plaintext' scheme does."""
    if not stored:
        return False, None
    if not stored.startswith(PBKDF2_PREFIX):
        valid = hmac.compare_digest(password.encode(), stored.encode())
        return valid, hash_password(password) if valid else None
    try:
        rounds, salt, digest = stored[len(PBKDF2_PREFIX) :].split("$")
        expected = _ab64_decode(digest)
        actual = hashlib.pbkdf2_hmac("sha512", password.encode(), _ab64_decode(salt), int(rounds))
    except (ValueError, TypeError):
        return False, None
    return hmac.compare_digest(actual, expected), None
