"""What the Responses API's paths cost, each against a floor measured in the same run.

1. emulator: one background ``responses.create`` and one ``responses.retrieve`` through the
   in-process emulator, against the same two SDK calls through a bare mock transport that
   answers fixed response JSON (as ``bench_emulator.py`` does for runs; goal: at most 1.3x).
2. checker: ``runmodel check``'s read + engine + report on a generated trace of bare response
   objects (hundreds of background responses polled to their ends, interleaved), against
   ``orjson.loads`` of every line (as ``bench_check.py`` does for runs; goal: at most 1x).
3. fuzz: one ``responses.retrieve`` made by a poller while the harness plays it a lifecycle,
   against the same call on a plain in-process emulator client (the harness's share of a call;
   goal: at most 2x).

Each pair is timed in alternating rounds and judged by its best round. Run:
``python bench/bench_responses.py [--quick] [--json]`` (``--json``: the report on stderr, the
rows of ``make bench``'s table on stdout).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
from _rows import Row, emit, fmt
from bench_check import check, time_parse

from conformance.emulator import Emulator
from conformance.emulator.transport import http_module
from conformance.lesson import ORDER_TOTAL
from runmodel import RESPONSE

T0 = 1_780_000_000
_ROUNDS = 5


def _best_of(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Alternate the contenders for `rounds` rounds (A B A B …); the best figure of each."""
    for timed in contenders.values():  # warm up
        timed()
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, timed in contenders.items():
            best[name] = min(best[name], timed())
    return best


def _sdk() -> str:
    return f"openai {openai.__version__}, {http_module().__name__}"


# -- 1. the emulator ---------------------------------------------------------------------------


def _client(emulator: Emulator) -> Any:
    return emulator.client(strict=False, max_retries=0)


def bench_emulator(n: int, rounds: int) -> list[Row]:
    """Create + one poll of a background response: the emulator against a mock transport."""
    http = http_module()
    emu = Emulator(latency=0.0)
    emulated = _client(emu)
    created = emulated.responses.with_raw_response.create(
        model="gpt-4o-mini", input="2 books?", background=True
    )
    body = created.http_response.content
    polled = emulated.responses.with_raw_response.retrieve(created.parse().id)
    poll_body = polled.http_response.content

    def fixed(request: Any) -> Any:
        reply = body if request.method == "POST" else poll_body
        return http.Response(200, headers=[("content-type", "application/json")], content=reply)

    floor_client = openai.OpenAI(
        api_key="k",
        base_url="http://floor.invalid/v1",
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(fixed)),
    )

    def pairs(client: Any, after: Callable[[], None] = lambda: None) -> Callable[[], float]:
        def timed() -> float:
            started = time.perf_counter()
            for _ in range(n):
                r = client.responses.create(model="gpt-4o-mini", input="2 books?", background=True)
                client.responses.retrieve(r.id)
            took = (time.perf_counter() - started) / n * 1e6
            after()
            return took

        return timed

    contenders = {"floor": pairs(floor_client), "emulator": pairs(emulated, emu.requests.clear)}
    best = _best_of(contenders, rounds)
    ours, floor = best["emulator"], best["floor"]
    print(f"{_sdk()}: create(background) + retrieve, best of {rounds} alternating rounds of {n}")
    print(f"  floor: mock transport, fixed response JSON  {floor:8.1f} µs/pair")
    print(f"  emulator, in-process                        {ours:8.1f} µs/pair")
    print(f"  emulator / floor = {ours / floor:.2f}   (goal: at most 1.30)")
    return [
        Row(
            "emulator",
            f"responses create + retrieve via the in-process emulator ({_sdk()})",
            ours,
            "µs/pair",
            f"mock transport {fmt(floor, 'µs/pair')}",
            ours / floor,
            "≤ 1.3",
            ours <= 1.3 * floor,
        )
    ]


# -- 2. the checker ----------------------------------------------------------------------------


def _response(rid: str, status: str, t: int, calls: int) -> bytes:
    """One bare response object as a poller records it (~1 kB), its fields as the model says."""
    obj: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": T0,
        "status": status,
        "background": True,
        "completed_at": t if status == "completed" else None,
        "error": None,
        "incomplete_details": None,
        "instructions": "You help customers compute the total price of their shopping cart.",
        "max_output_tokens": None,
        "model": "gpt-4o-mini-2024-07-18",
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [
            {
                "type": "function",
                "name": ORDER_TOTAL,
                "description": "Total price of a shopping cart",
                "parameters": {"type": "object", "properties": {"items": {"type": "array"}}},
                "strict": False,
            }
        ],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {"session": rid[-6:]},
    }
    if status == "completed":
        obj["output"] = [
            {
                "type": "function_call",
                "id": f"fc_{rid[-8:]}{i:02d}",
                "call_id": f"call_{rid[-8:]}{i:02d}",
                "name": ORDER_TOTAL,
                "arguments": '{"items":[{"item_type":"book","quantity":1}]}',
                "status": "completed",
            }
            for i in range(calls)
        ]
        obj["usage"] = {
            "input_tokens": 327,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 340,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 667,
        }
    elif status == "failed":
        obj["error"] = {"code": "server_error", "message": "Sorry, something went wrong."}
    elif status == "incomplete":
        obj["incomplete_details"] = {"reason": "max_output_tokens"}
    return orjson.dumps(obj) + b"\n"


_ENDS = {"completed": 88, "failed": 4, "incomplete": 3, "cancelled": 5}


def _one_response(rng: random.Random, n: int) -> Iterator[bytes]:
    """The lines a poller records for one background response: polls while active, an end."""
    rid = f"resp_{n:040x}"
    for status in ("queued", "in_progress"):
        line = _response(rid, status, T0, 0)
        for _ in range(rng.randint(1, 8)):
            yield line
    ends = sorted(RESPONSE.terminal)
    end = rng.choices(ends, [_ENDS.get(s, 0) for s in ends])[0]
    yield _response(rid, end, T0 + rng.randint(1, 60), rng.choice((0, 0, 1, 2)))


def generate(path: Path, snapshots: int, *, open_responses: int = 400, seed: int = 1) -> int:
    """Write at least `snapshots` lines of interleaved responses; return the line count."""
    rng = random.Random(seed)
    pool = [_one_response(rng, i) for i in range(open_responses)]
    started, lines = open_responses, 0
    buf: list[bytes] = []
    with path.open("wb") as f:
        while lines < snapshots:
            i = rng.randrange(len(pool))
            line = next(pool[i], None)
            if line is None:
                pool[i] = _one_response(rng, started)
                started += 1
                continue
            buf.append(line)
            lines += 1
            if len(buf) >= 4096:
                f.write(b"".join(buf))
                buf.clear()
        for gen in pool:  # every open response ends, so the trace ends settled
            for line in gen:
                buf.append(line)
                lines += 1
        f.write(b"".join(buf))
    return lines


def bench_check(snapshots: int, rounds: int) -> list[Row]:
    """Check a generated trace of responses: read + engine + report, against parsing alone."""
    with tempfile.TemporaryDirectory(prefix="bench_responses_") as tmp:
        path = Path(tmp) / "responses.jsonl"
        lines = generate(path, snapshots)
        size = path.stat().st_size
        best = _best_of(
            {"parse": lambda: time_parse(path), "check": lambda: check(path)[0]}, rounds
        )
        _, summary = check(path)
    parse, check_s = best["parse"], best["check"]
    print(
        f"\ntrace: {lines:,} response snapshots, {size / 1e6:,.0f} MB ({size / lines:,.0f} B each)"
    )
    print(
        f"check: {summary.observations:,} observations, {summary.errors} errors, "
        f"{summary.warnings} warnings (the trace is legal: expect 0)"
    )
    print(f"  parse every line (orjson.loads): the floor  {parse:8.2f} s")
    print(f"  check (read + engine + report collector)    {check_s:8.2f} s")
    print(f"  check / parse = {check_s / parse:.2f}   (goal: at most 1)")
    return [
        Row(
            "checker",
            f"check {lines:,} response snapshots: read + engine + report (best of {rounds})",
            lines / check_s,
            "snapshots/s",
            f"parse (orjson.loads) {fmt(lines / parse, 'snapshots/s')}",
            check_s / parse,
            "≤ 1",
            check_s <= parse,
            note=f"{summary.errors} errors in a legal trace" if summary.errors else "",
        )
    ]


# -- 3. one SDK call inside the harness --------------------------------------------------------


class _Timed:
    """A careful poller (at the guide's pace; at its deadline it cancels what it gives up on)
    that times each of its own retrieves: ``time.perf_counter`` stays real under the harness's
    virtual time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, client: Any, response_id: str) -> Any:
        give_up = time.monotonic() + 300
        while True:
            started = time.perf_counter()
            r = client.responses.retrieve(response_id)
            self.seconds += time.perf_counter() - started
            self.calls += 1
            if r.status in RESPONSE.terminal:
                return r
            if time.monotonic() > give_up:
                return client.responses.cancel(response_id)
            time.sleep(2)


def bench_harness(examples: int, rounds: int) -> list[Row]:
    """A retrieve inside the harness (the poller contract) against the same retrieve outside."""
    from conformance.harness import ResponseCheckFailed, check_response_client

    inside = _Timed()

    def harnessed() -> float:
        inside.seconds, inside.calls = 0.0, 0
        with contextlib.suppress(ResponseCheckFailed):  # a verdict is not what is measured
            check_response_client(inside, "poller", max_examples=examples, seed=1)
        return inside.seconds / max(1, inside.calls) * 1e6

    emu = Emulator(latency=0.0)
    plain = emu.client(max_retries=0)  # as the harness's client: the SDK's strict validation
    rid = plain.responses.create(model="gpt-4o-mini", input="2 books?", background=True).id
    n = 200

    def outside() -> float:
        started = time.perf_counter()
        for _ in range(n):
            plain.responses.retrieve(rid)
        took = (time.perf_counter() - started) / n * 1e6
        emu.requests.clear()
        return took

    best = _best_of({"outside": outside, "inside": harnessed}, rounds)
    ours, floor = best["inside"], best["outside"]
    print(f"\n{_sdk()}: one responses.retrieve, best of {rounds} alternating rounds")
    print(f"  outside: a plain in-process emulator client  {floor:8.1f} µs/call")
    print(f"  inside the harness (poller contract)         {ours:8.1f} µs/call")
    print(f"  inside / outside = {ours / floor:.2f}   (goal: at most 2)")
    return [
        Row(
            "fuzz",
            f"responses.retrieve inside the harness, poller contract ({examples} lifecycles)",
            ours,
            "µs/call",
            f"outside {fmt(floor, 'µs/call')}",
            ours / floor,
            "≤ 2",
            ours <= 2 * floor,
        )
    ]


def measure(args: argparse.Namespace) -> list[Row]:
    """Every measurement of this script, printed as it goes; the rows of the summary table."""
    quick = args.quick
    rows = bench_emulator(n=50 if quick else 500, rounds=2 if quick else _ROUNDS)
    rows += bench_check(snapshots=args.snapshots, rounds=1 if quick else 3)
    rows += bench_harness(examples=5 if quick else 40, rounds=2 if quick else _ROUNDS)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--snapshots", type=int, default=None, metavar="N")
    parser.add_argument(
        "--json", action="store_true", help="report on stderr, table rows as JSON on stdout"
    )
    args = parser.parse_args(argv)
    if args.snapshots is None:
        args.snapshots = 2_000 if args.quick else 1_000_000
    return emit(args.json, lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main())
