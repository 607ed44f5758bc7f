"""The HTTP listeners: threaded, one thread per connection, one request per
connection (`Connection: close`, as Odoo's werkzeug server answers), and
werkzeug's request log line:

    INFO db werkzeug: 10.0.0.7 - - [01/Jan/2025 12:00:00] "GET /web/health HTTP/1.1" 200 - 3 0.002 0.001

proxy_mode (Odoo 18's ProxyFix, one trusted hop): only when the request has
X-Forwarded-Host, the last X-Forwarded-For becomes the remote address, the
last X-Forwarded-Proto the scheme and the last X-Forwarded-Host the host.
Without proxy_mode those headers change nothing.
"""

import http.cookies
import http.server
import logging
import sys
import threading
import urllib.parse

from . import web, websocket
from .config import config

_werkzeug_logger = logging.getLogger("werkzeug")

MAX_BODY = 128 * 1024 * 1024


class Request:
    def __init__(self, handler):
        self.method = handler.command
        parsed = urllib.parse.urlsplit(handler.path)
        self.path = urllib.parse.unquote(parsed.path) or "/"
        self.query_string = parsed.query
        self.full_path = f"{parsed.path}?{parsed.query}"
        self.headers = handler.headers
        self.requestline = handler.requestline
        self.cookies = {}
        cookie = http.cookies.SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie") or "")
        except http.cookies.CookieError:
            pass
        for name, morsel in cookie.items():
            self.cookies[name] = morsel.value
        length = int(self.headers.get("Content-Length") or 0)
        self.body = handler.rfile.read(min(length, MAX_BODY)) if length > 0 else b""
        self.params = {key: values[-1] for key, values in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
            self.params.update({key: values[-1] for key, values in form.items()})

        self.remote_addr = handler.client_address[0]
        self.scheme = "http"
        self.host = self.headers.get("Host") or f"{handler.server.server_address[0]}:{handler.server.server_address[1]}"
        if config["proxy_mode"] and self.headers.get("X-Forwarded-Host"):
            self.remote_addr = self._last("X-Forwarded-For") or self.remote_addr
            self.scheme = self._last("X-Forwarded-Proto") or self.scheme
            self.host = self._last("X-Forwarded-Host") or self.host
        self.url_root = f"{self.scheme}://{self.host}/"

    def _last(self, header):
        values = [value.strip() for value in ",".join(self.headers.get_all(header) or []).split(",") if value.strip()]
        return values[-1] if values else None


class RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Odoo-standin/18.0"

    def log_message(self, format, *args):
        """The werkzeug line is written by log_request below."""

    def log_request(self, code="-", size="-"):
        pass

    def _dispatch(self):
        listener = self.server.listener
        listener.accepting.wait()
        threading.current_thread().type = "http"
        request = Request(self)
        response = web.handle(request, listener)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if not response.upgrade:
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)
        self.wfile.flush()
        self.close_connection = True
        _werkzeug_logger.info(
            '%s - - [%s] "%s" %s %s', request.remote_addr, self.log_date_time_string(), self.requestline, response.status, "-"
        )
        if response.upgrade:
            websocket.Websocket(self.connection).serve()

    do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return  # the client went away; werkzeug does not complain either
        _werkzeug_logger.error("Error on request from %s", client_address[0], exc_info=True)


class Listener:
    """One listening port. serves_websocket: whether /websocket can be
    upgraded here (Odoo: the threaded server's port, or the gevent port).
    accepting: cleared while a prefork server preloads (its workers do not
    accept yet, so requests queue)."""

    def __init__(self, interface, port, serves_websocket, accepting=True):
        self.serves_websocket = serves_websocket
        self.accepting = threading.Event()
        if accepting:
            self.accepting.set()
        self.httpd = Server((interface, port), RequestHandler)
        self.httpd.listener = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"odoo.service.httpd.{port}", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.accepting.set()
        self.httpd.shutdown()
        self.httpd.server_close()
