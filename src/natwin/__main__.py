"""``python -m natwin`` runs the command line."""

from natwin.cli import main

main()
