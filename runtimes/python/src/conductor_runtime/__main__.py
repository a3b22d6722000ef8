"""``python -m conductor_runtime --module pkg.nodes``: see ``_cli.main``."""

from ._cli import main

main()
