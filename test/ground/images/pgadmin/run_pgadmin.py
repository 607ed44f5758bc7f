# The WSGI application gunicorn serves (`run_pgadmin:app`), and what the
# entrypoint imports once to create pgAdmin's SQLite database and the
# PGADMIN_DEFAULT_EMAIL account. pgAdmin 4 reads SERVER_MODE from builtins
# before its config is imported; a container is a server, and
# PGADMIN_CONFIG_SERVER_MODE (written to config_distro.py) still overrides it.
import builtins
import os
import sys

builtins.SERVER_MODE = True
sys.path.insert(0, os.environ["PGADMIN_APP_DIR"])

from pgAdmin4 import app  # noqa: E402  (needs the two lines above first)

__all__ = ["app"]
