"""``python -m runmodel`` runs the command line (the kit's, through `runmodel.cli`)."""

import sys

from .cli import main

sys.exit(main())
