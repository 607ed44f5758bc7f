"""HTML of the few pages the stand-in serves. Element names, form fields and
messages follow Odoo 18's templates where a client or a test may look for
them (the login form posts login, password, csrf_token and redirect to
/web/login); the look does not."""

import html

STANDIN_NOTE = "<!-- k8s-dev-sandbox Odoo stand-in: not Odoo, see its README -->"


def _page(title, body):
    return (
        "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n"
        f"<meta charset=\"utf-8\"/>\n<title>{html.escape(title)}</title>\n"
        "<meta name=\"generator\" content=\"Odoo\"/>\n"
        f"</head>\n<body>\n{STANDIN_NOTE}\n{body}\n</body>\n</html>\n"
    ).encode()


def login(csrf_token, login_value="", redirect=None, error=None, list_db=True):
    error_html = f'<p class="alert alert-danger" role="alert">{html.escape(error)}</p>\n' if error else ""
    redirect_html = f'<input type="hidden" name="redirect" value="{html.escape(redirect)}"/>\n' if redirect else ""
    manage = '<a href="/web/database/manager">Manage Databases</a>\n' if list_db else ""
    return _page(
        "Login | Odoo",
        '<form class="oe_login_form" role="form" action="/web/login" method="post">\n'
        f'<input type="hidden" name="csrf_token" value="{html.escape(csrf_token)}"/>\n'
        '<label for="login">Email</label>\n'
        f'<input type="text" name="login" id="login" value="{html.escape(login_value)}" required="required" autocapitalize="off"/>\n'
        '<label for="password">Password</label>\n'
        '<input type="password" name="password" id="password" required="required" autocomplete="current-password"/>\n'
        f"{error_html}{redirect_html}"
        '<button type="submit" class="btn btn-primary">Log in</button>\n'
        f"</form>\n{manage}",
    )


def webclient(login_name, db):
    return _page(
        "Odoo",
        f'<div class="o_web_client" data-db="{html.escape(db)}" data-login="{html.escape(login_name)}">'
        "Odoo 18.0 web client (stand-in: no web client is served)</div>",
    )


def database_manager(list_db, databases, error=None):
    if not list_db:
        body = '<div class="alert alert-danger text-center">The database manager has been disabled by the administrator</div>'
    else:
        items = "".join(f'<li><a href="/odoo?db={html.escape(db)}">{html.escape(db)}</a></li>\n' for db in databases)
        body = f'<ul class="list-group o_database_list">\n{items}</ul>'
    if error:
        body += f'\n<div class="alert alert-danger">{html.escape(error)}</div>'
    return _page("Odoo", body)


def redirecting(location):
    target = html.escape(location)
    return (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
        f'<p>You should be redirected automatically to the target URL: <a href="{target}">{target}</a>. '
        "If not, click the link.\n"
    ).encode()


HTTP_ERRORS = {
    400: ("Bad Request", "The browser (or proxy) sent a request that this server could not understand."),
    403: ("Forbidden", "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server."),
    404: ("Not Found", "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."),
    405: ("Method Not Allowed", "The method is not allowed for the requested URL."),
    426: ("Upgrade Required", "The server requires an upgraded connection."),
    500: ("Internal Server Error", "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application."),
    501: ("Not Implemented", "The server does not support the action requested by the browser."),
    503: ("Service Unavailable", "The server is temporarily unable to service your request due to maintenance downtime or capacity problems. Please try again later."),
}


def http_error(status, description=None):
    """Werkzeug's error page, which Odoo returns for HTTP errors."""
    name, default = HTTP_ERRORS.get(status, ("Error", ""))
    return (
        f"<!doctype html>\n<html lang=en>\n<title>{status} {name}</title>\n<h1>{name}</h1>\n"
        f"<p>{html.escape(description or default)}</p>\n"
    ).encode()
