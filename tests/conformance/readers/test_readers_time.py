"""Reading stays linear in the input, damaged or not: fuzzed for time by counting work.

Work is the number of Python and C function calls made while reading (`sys.setprofile`), a
deterministic count: an input repeated four times must cost at most about four times the work,
and a damaged log a bounded number of calls per line. No wall time is measured here (speed is
measured in bench/).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.readers import read
from tests.conformance.readers.test_readers_fuzz import damaged, text_junk

_counter = itertools.count()


def _work(folder: Path, data: bytes) -> int:
    """Function calls made reading ``data`` from a file (after one read to warm up imports)."""
    path = folder / f"t{next(_counter)}"
    path.write_bytes(data)
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    try:
        for _ in read(path):
            pass
        sys.setprofile(count)
        try:
            for _ in read(path):
                pass
        finally:
            sys.setprofile(None)
    finally:
        path.unlink()
    return calls


def _linear(folder: Path, unit: bytes, times: int) -> tuple[int, int]:
    """Work for ``unit`` repeated ``times`` and four times as often."""
    return _work(folder, unit * times), _work(folder, unit * (4 * times))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("time")


CUT_LOGS = {  # one line each, repeated: logs of printed objects cut short
    "cut-args": "2024-04-02 INFO got Run(id='run_abc123', status='in_progress', usage=Usage(\n",
    "cut-string": "INFO Run(id='run_1', status='queued', instructions='it\\'s\n",
    "cut-double": 'INFO Run(id="run_1", status="queued", instructions="say \\"hi\n',
    "mixed-quotes": "RunStep(id='s', x=\"a'b, Message(id='m', y=[{'k': (\n",
    "open-brackets": "Message(content=[TextContentBlock(text=Text(value='v', annotations=[\n",
    "many-starts": "Run(" * 40 + "\n",
}


@pytest.mark.parametrize("line", list(CUT_LOGS.values()), ids=list(CUT_LOGS))
def test_a_log_of_cut_objects_is_read_in_linear_work(folder: Path, line: str) -> None:
    """The shape that took minutes: each printed object cut short, one per line. Below the
    400 lines an object may span and above them, work grows as the file, and stays small."""
    for times in (100, 500):
        small, large = _linear(folder, line.encode(), times)
        assert large <= 4.2 * small, (times, small, large)
        # a few dozen calls a line and a printed object start (the old reader: thousands)
        assert large <= 60 * (4 * times) * (1 + line.count("(")), (times, large)


def test_the_counter_sees_quadratic_work(folder: Path) -> None:
    """The measure can fail: a reader that rescans what it read before shows up in it."""

    def rescanning(unit: bytes, times: int) -> int:
        calls = 0

        def count(frame: Any, event: str, arg: Any) -> None:
            nonlocal calls
            if event in ("call", "c_call"):
                calls += 1

        def quadratic(data: bytes) -> None:  # a miniature of the old reader's waiting loop
            text = ""
            for line in data.decode().splitlines(keepends=True):
                text += line
                for c in text:
                    if c in "()":
                        len(c)

        sys.setprofile(count)
        try:
            quadratic(unit * times)
        finally:
            sys.setprofile(None)
        return calls

    unit = CUT_LOGS["cut-args"].encode()
    assert rescanning(unit, 400) > 4.2 * rescanning(unit, 100)


# -- fuzzed for time (`make test-slow`) ---------------------------------------------------------

units = st.one_of(
    damaged().map(lambda data: data[:4000]),
    text_junk,
    st.lists(st.sampled_from(list(CUT_LOGS.values())), min_size=1, max_size=6).map(
        lambda lines: "".join(lines).encode()
    ),
)


@pytest.mark.slow
@settings(max_examples=300)
@given(units)
def test_damaged_input_is_read_in_linear_work(folder: Path, unit: bytes) -> None:
    small, large = _linear(folder, unit, 8)
    assert large <= 4.4 * small + 2000, (small, large)
