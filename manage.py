#!/usr/bin/env python
"""Django's command-line utility for eros (configuration errors: one line, exit code 2)."""

import sys


def main() -> None:
    from eros.cli import main as eros_main

    sys.exit(eros_main(sys.argv))


if __name__ == "__main__":
    main()
