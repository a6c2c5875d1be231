"""`python -m mailark.cli`: what `mailark` runs."""

from mailark.cli import main

main()
