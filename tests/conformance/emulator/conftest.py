"""Fixtures for the emulator's tests.

`emu` is an emulator whose every reply is checked at teardown (see `emucheck.problems_in_log`);
`client` is a strict-validating SDK client on it (``_strict_response_validation=True``).
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from conformance.emulator import Emulator
from tests.helpers.emucheck import problems_in_log


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator; at teardown every reply it gave must be a complete, valid SDK object."""
    emulator = Emulator()
    yield emulator
    assert problems_in_log(emulator) == []


@pytest.fixture
def client(emu: Emulator) -> openai.OpenAI:
    """A strict-validating SDK client on `emu`, without retries."""
    return emu.client(max_retries=0)
