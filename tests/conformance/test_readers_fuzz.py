"""Fuzzing `read`: no content makes it raise, and every problem is located.

Inputs are random bytes, random bytes behind each format's opening, and the fixtures damaged
(cut, bytes flipped, lines repeated, dropped or shuffled). The second half checks that the
damage the readers claim to detect is detected, on every example.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.observations import InputProblem
from conformance.readers import PROBLEM_CODES, read

FIXTURES = Path(__file__).parents[1] / "fixtures" / "traces"
SAMPLES = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir())}
NATIVE = SAMPLES["lifecycle.trace.jsonl"]
WHOLE_FILE = {"input.empty", "input.binary", "input.unknown_format", "input.io_error"}
OPENINGS = [
    b'{"kind":"header","format":"runmodel-trace","version":1}\n',
    b"interactions:\n- request:\n",
    b'{"interactions": [',
    b'{"log": {"entries": [',
    b"[",
    b'{"object": "thread.run", "id": "run_1", "status": "queued"}\n',
    b"Run(id='run_1', ",
    b"\xef\xbb\xbf",
]
MORE = settings(max_examples=settings.default.max_examples * 10)
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _read(folder: Path, data: bytes) -> list[Any]:
    """Read ``data`` from a file; assert the reader's promises; return the items."""
    path = folder / f"f{next(_counter)}"
    path.write_bytes(data)
    try:
        items = list(read(path))
    finally:
        path.unlink()
    lines = data.count(b"\n") + 1
    for item in items:
        assert item.loc.file == str(path)
        assert item.loc.line is None or 1 <= item.loc.line <= lines, item
        if isinstance(item, InputProblem):
            assert item.code in PROBLEM_CODES, item
            assert item.code != "input.internal_error", item
            if item.code not in WHOLE_FILE:
                assert item.loc.line is not None or item.loc.where is not None, item
            assert item.message
    return items


def _codes(items: list[Any]) -> set[str]:
    return {i.code for i in items if isinstance(i, InputProblem)}


# -- strategies --------------------------------------------------------------------------------

random_bytes = st.binary(max_size=3000)
text_junk = st.text(
    alphabet=st.sampled_from(list("{}[]():,'\"\\ \n\r\t-#!&*|>abcdefXYZ019_.=é中\x00")),
    max_size=800,
).map(lambda s: s.encode("utf-8", "surrogatepass"))
behind_openings = st.tuples(st.sampled_from(OPENINGS), st.one_of(random_bytes, text_junk)).map(
    lambda t: t[0] + t[1]
)


@st.composite
def damaged(draw: Callable[..., Any]) -> bytes:
    """A fixture with one to three kinds of damage."""
    data: bytes = SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cut", "flip", "repeat", "drop", "shuffle", "splice"]))
        lines = data.splitlines(keepends=True) or [b""]
        if kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "flip" and data:
            buf = bytearray(data)
            for _ in range(draw(st.integers(1, 8))):
                buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
            data = bytes(buf)
        elif kind == "repeat":
            i = draw(st.integers(0, len(lines) - 1))
            data = b"".join(lines[: i + 1] + lines[i:])
        elif kind == "drop":
            i = draw(st.integers(0, len(lines) - 1))
            data = b"".join(lines[:i] + lines[i + 1 :])
        elif kind == "shuffle":
            data = b"".join(draw(st.permutations(lines)))
        else:
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(random_bytes) + data[at:]
    return data


# -- nothing escapes, everything is located ----------------------------------------------------


@given(st.one_of(random_bytes, text_junk, behind_openings))
def test_any_bytes(folder: Path, data: bytes) -> None:
    _read(folder, data)


@given(damaged())
def test_damaged_fixtures(folder: Path, data: bytes) -> None:
    _read(folder, data)


@pytest.mark.slow
@MORE
@given(st.one_of(random_bytes, text_junk, behind_openings, damaged()))
def test_any_bytes_and_damage_at_length(folder: Path, data: bytes) -> None:
    _read(folder, data)


# -- damage that must be reported -------------------------------------------------------------

NATIVE_LINES = NATIVE.splitlines(keepends=True)
ENTRIES = range(1, len(NATIVE_LINES) - 1)  # indexes of the entry lines


@given(st.sampled_from(ENTRIES))
def test_a_repeated_entry_is_reported(folder: Path, i: int) -> None:
    data = b"".join(NATIVE_LINES[: i + 1] + NATIVE_LINES[i:])
    items = _read(folder, data)
    assert ("input.bad_sequence", i + 2) in {
        (p.code, p.loc.line) for p in items if isinstance(p, InputProblem)
    }


@given(st.sampled_from(ENTRIES))
def test_a_dropped_entry_is_reported(folder: Path, i: int) -> None:
    data = b"".join(NATIVE_LINES[:i] + NATIVE_LINES[i + 1 :])
    assert "input.bad_sequence" in _codes(_read(folder, data))


@given(st.integers(1, len(NATIVE) - 2))
def test_a_cut_trace_is_reported(folder: Path, at: int) -> None:
    assert "input.truncated" in _codes(_read(folder, NATIVE[:at]))


@given(st.sampled_from(sorted(SAMPLES)), st.integers(1, 10**6))
def test_a_cut_document_is_reported(folder: Path, name: str, at: int) -> None:
    data = SAMPLES[name]
    if name.endswith((".har", ".vcr.json")):  # one JSON document: any cut before its end
        cut = data[: at % (len(data.rstrip()) - 1) + 1]
        assert _codes(_read(folder, cut)) & {"input.truncated", "input.malformed_json"}
    elif name.endswith(".jsonl"):  # JSON Lines: a cut inside a line
        lines = data.splitlines(keepends=True)
        line = lines[at % len(lines)]
        cut = data[: data.index(line) + max(1, len(line) // 2)]
        assert "input.truncated" in _codes(_read(folder, cut))
    else:
        _read(folder, data[: at % len(data)])
