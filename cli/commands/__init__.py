"""One module per ``dra-twin`` subcommand; each exposes ``register(subparsers)``.

Modules are discovered, so adding a subcommand is adding a file here.
"""
