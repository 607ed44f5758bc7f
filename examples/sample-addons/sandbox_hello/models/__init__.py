from . import sandbox_hello
