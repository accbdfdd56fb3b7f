"""``python -m conformance.emulator``: the same as ``runmodel serve``."""

from __future__ import annotations

import argparse
import sys

from ..cli.serve import configure, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m conformance.emulator")
    configure(parser)
    sys.exit(run(parser.parse_args()))
