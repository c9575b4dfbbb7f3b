"""`python -m nnrecipe` is the `nnrecipe` command."""

import sys

from nnrecipe.cli import main

sys.exit(main())
