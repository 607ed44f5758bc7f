"""Odoo's test case classes without an ORM.

What behaves as in Odoo 18: the test_tags/test_module/test_class attributes
and @tagged (which decide whether --test-tags selects a test, and whether it
runs at_install or post_install), unittest's assertions, setUp/tearDown and
class fixtures, HttpCase.url_open against the running stand-in, and the skip
of browser tests (the official image has no Chrome either).

What does not: there is no database environment. self.env, self.cr and
self.registry raise StandinHasNoOrm, so a test that touches records fails
with an ERROR that says why instead of passing vacuously.
"""

import json
import logging
import unittest
import urllib.error
import urllib.parse
import urllib.request

from .. import _permissive

_logger = logging.getLogger(__name__)

HOST = "127.0.0.1"


class StandinHasNoOrm(RuntimeError):
    pass


class _NoOrm:
    """Raises on any read, from the class (setUpClass) or an instance."""

    def __init__(self, what):
        self.what = what

    def __get__(self, instance, owner):
        raise StandinHasNoOrm(
            f"the k8s-dev-sandbox Odoo stand-in has no ORM: {self.what} is not available (see the stand-in's README)"
        )


def get_db_name():
    from odoo_standin.config import config

    return (config["db_name"] or "").split(",")[0]


def tagged(*tags):
    """Odoo's @tagged: 'x' adds a tag, '-x' removes one."""
    include = {t for t in tags if not t.startswith("-")}
    exclude = {t[1:] for t in tags if t.startswith("-")}

    def decorate(obj):
        obj.test_tags = (getattr(obj, "test_tags", set()) | include) - exclude
        at_install = "at_install" in obj.test_tags
        post_install = "post_install" in obj.test_tags
        if not (at_install ^ post_install):
            _logger.warning("A tests should be either at_install or post_install, which is not the case of %r", obj)
        return obj

    return decorate


def _identity_factory(*args, **kwargs):
    def decorate(method):
        return method

    return decorate


users = warmup = _identity_factory


def new_test_user(*args, **kwargs):
    raise StandinHasNoOrm("the k8s-dev-sandbox Odoo stand-in has no ORM: new_test_user() cannot create users")


class BaseCase(unittest.TestCase):
    longMessage = True
    warm = True
    test_tags = None
    test_sequence = 0

    env = _NoOrm("env")
    cr = _NoOrm("cr")
    registry = _NoOrm("registry")
    uid = 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("odoo.addons."):
            if getattr(cls, "test_tags", None) is None:
                cls.test_tags = {"standard", "at_install"}
            cls.test_module = cls.__module__.split(".")[2]
            cls.test_class = cls.__name__
            cls.test_sequence = getattr(cls, "test_sequence", 0)


class TransactionCase(BaseCase):
    pass


class SingleTransactionCase(BaseCase):
    pass


class SavepointCase(TransactionCase):
    pass


class UrlOpenResponse:
    """The few attributes of requests.Response that tests read."""

    def __init__(self, status_code, headers, content, url):
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url
        self.ok = status_code < 400

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)

    def raise_for_status(self):
        if not self.ok:
            raise urllib.error.HTTPError(self.url, self.status_code, self.text, self.headers, None)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class HttpCase(TransactionCase):
    """url_open talks to the stand-in's own HTTP server (started with tests,
    as Odoo does), with a session on the database under test."""

    @classmethod
    def base_url(cls):
        from odoo_standin.config import config

        return f"http://{HOST}:{config['http_port']}"

    def setUp(self):
        super().setUp()
        from odoo_standin import sessions

        self.session = sessions.Session(sessions.new_sid())
        self.session.set(db=get_db_name())
        sessions.save(self.session)

    def url_open(self, url, data=None, files=None, timeout=12, headers=None, allow_redirects=True, head=False):
        if url.startswith("/"):
            url = self.base_url() + url
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        method = "HEAD" if head else ("POST" if body is not None else "GET")
        headers = {"Cookie": f"session_id={self.session.sid}", **(headers or {})}
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        opener = urllib.request.build_opener() if allow_redirects else urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=timeout) as response:
                return UrlOpenResponse(response.status, response.headers, response.read(), response.url)
        except urllib.error.HTTPError as error:
            return UrlOpenResponse(error.code, error.headers, error.read(), url)

    def browser_js(self, *args, **kwargs):
        raise unittest.SkipTest("Chrome executable not found")

    start_tour = browser_js


def __getattr__(attr):
    return _permissive.Permissive(f"{__name__}.{attr}")
