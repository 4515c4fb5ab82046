"""`python -m passgate`: the CLI."""

from passgate.cli import main

main()
