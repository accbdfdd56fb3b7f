"""Test-wide settings: Hypothesis profiles (`dev` by default, `ci` under CI)."""

from __future__ import annotations

import os
import signal

import pytest
from hypothesis import HealthCheck, settings

from conformance.compiled import stale
from conformance.sdk import PYTEST_FILTER

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,  # CI failures must be reproducible from the log alone
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# The other SDK majors' runs in CI check compatibility, not search depth: derandomized, dev-sized.
settings.register_profile("ci-sdk", settings.get_profile("ci"), max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# A shell without job control starts background commands with SIGINT ignored, and a child process
# inherits that: the servers the tests start would then never see the Ctrl-C they are tested with.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config: pytest.Config) -> None:
    """Accept the SDK's Assistants deprecation, by message, from its one named place; refuse to
    test old compiled code in place of the sources."""
    config.addinivalue_line("filterwarnings", PYTEST_FILTER)
    old = stale()
    if old:
        pytest.exit(
            f"compiled modules older than the sources: {', '.join(old)}; rebuild them "
            "(make compiled) or remove them (python tools/compile.py --clean)",
            returncode=2,
        )
