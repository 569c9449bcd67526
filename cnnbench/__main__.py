"""`python -m cnnbench`: see cnnbench.cli."""

import sys

from cnnbench.cli import main

sys.exit(main())
