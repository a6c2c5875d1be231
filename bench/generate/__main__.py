"""`python -m bench.generate`: write a generated organization's mail as a tree of .eml files."""

import sys

from bench.generate.cli import main

sys.exit(main())
