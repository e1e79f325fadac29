"""`python -m ingest` runs the CLI."""

from ingest.cli import main

main()
