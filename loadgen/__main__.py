"""``python -m loadgen [options]``: ``switchboard loadtest`` without the server's CLI."""

import sys

from loadgen.cli import main_standalone

sys.exit(main_standalone())
