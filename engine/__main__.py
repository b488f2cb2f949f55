"""`python -m engine` is the `dhr` command."""

from .cli import main

main()
