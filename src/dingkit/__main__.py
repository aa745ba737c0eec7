"""``python -m dingkit``: the same as the ``dingkit`` command."""

from dingkit.cli import main

main()
