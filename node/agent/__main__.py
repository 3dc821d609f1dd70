"""`python -m recapp.node.agent ARGS...` runs recapp-agent."""

import sys

from .main import main

sys.exit(main(sys.argv[1:]))
