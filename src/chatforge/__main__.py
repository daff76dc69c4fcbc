"""``python -m chatforge`` runs the command line."""

from chatforge.cli import main

main()
