"""HTTP sessions as Odoo 18 keeps them: a `session_id` cookie (HttpOnly,
7 days) naming a JSON file in <data_dir>/sessions/<first two chars>/<sid>.

Like Odoo, a new session gets its cookie on the first response but is only
written to disk once something is stored in it (a login), so probes and
anonymous visits leave no files; an unknown sid is simply a fresh session
that keeps its id. CSRF tokens are Odoo's: HMAC-SHA1 of the sid and an
expiry with the database secret, "<hex>o<expiry>".
"""

import hashlib
import hmac
import json
import os
import re
import secrets
import time

from .config import config

MAX_INACTIVITY = 7 * 24 * 3600
CSRF_TOKEN_SALT = 365 * 24 * 3600
_SID = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


class Session(dict):
    def __init__(self, sid, data=None, is_new=False):
        super().__init__(data or {})
        self.sid = sid
        self.is_new = is_new
        self.is_dirty = False
        self.setdefault("db", None)
        self.setdefault("uid", None)
        self.setdefault("login", None)

    def set(self, **values):
        self.update(values)
        self.is_dirty = True

    def logout(self, keep_db=False):
        db = self.get("db") if keep_db else None
        self.clear()
        self.update({"db": db, "uid": None, "login": None})
        self.is_dirty = True


def _path(sid):
    return os.path.join(config.session_dir, sid[:2], sid)


def new_sid():
    return secrets.token_urlsafe(63)


def get(sid):
    if not sid or not _SID.match(sid):
        return Session(new_sid(), is_new=True)
    try:
        with open(_path(sid), encoding="utf-8") as handle:
            return Session(sid, json.load(handle))
    except (OSError, ValueError):
        return Session(sid)


def save(session):
    path = _path(session.sid)
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(dict(session), handle)
    os.replace(tmp, path)
    session.is_dirty = False


def delete(session):
    try:
        os.unlink(_path(session.sid))
    except OSError:
        pass


def rotate(session):
    """A new sid after a login (Odoo rotates to prevent session fixation)."""
    delete(session)
    session.sid = new_sid()
    save(session)


def csrf_token(session, secret):
    max_ts = int(time.time() + CSRF_TOKEN_SALT)
    digest = hmac.new(secret.encode(), f"{session.sid}{max_ts}".encode(), hashlib.sha1).hexdigest()
    return f"{digest}o{max_ts}"


def validate_csrf(session, secret, token):
    if not token or "o" not in token or not secret:
        return False
    digest, _, max_ts = token.rpartition("o")
    try:
        if int(max_ts) < time.time():
            return False
    except ValueError:
        return False
    expected = hmac.new(secret.encode(), f"{session.sid}{max_ts}".encode(), hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, digest)
