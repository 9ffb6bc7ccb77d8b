"""``python -m service.cli``: the ``loss-search`` command."""

from service.cli import main

main()
