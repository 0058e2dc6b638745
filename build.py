#!/usr/bin/env python3
"""Build the study products from content/: see `python build.py --help`."""

import sys

from studybook.cli import main

if __name__ == "__main__":
    sys.exit(main())
