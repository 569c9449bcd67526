"""`python -m cnnbench.report`: see cnnbench.report.cli."""

import sys

from cnnbench.report.cli import main

sys.exit(main())
