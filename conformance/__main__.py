"""``python -m conformance`` runs the ``runmodel`` command line."""

import sys

from .cli import main

sys.exit(main())
