"""Time to a counterexample, and what the harness adds to each SDK call a client makes.

A failing search is what a user of ``runmodel fuzz`` waits for. For three wrong clients (a 1-s
poller that returns ``cancelling``, the seed lesson's 10-s poller, a driver that answers only the
first tool call) ``check_client`` runs at the default number of examples: the seconds until the
first counterexample (goal: under 5 s) and until the shrunk report. Then the cost of one SDK call
inside the harness (a lifecycle played as a search plays it: client built, run started, every
request watched, the verdict judged; total time over the requests the client made), against the
floor: the same ``runs.retrieve`` through a bare mock transport returning a fixed run JSON, in
the same run, best of interleaved rounds. Goal: at most 1.5 × the floor.

Run: ``python bench/bench_fuzz_search.py [--rounds N] [--json]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' helpers, as a package of this tree

from _rows import Row, emit, fmt  # noqa: E402

from conformance.emulator import Emulator  # noqa: E402
from conformance.emulator.clock import virtual_time_session  # noqa: E402
from conformance.harness import ClientCheckFailed, Progress, check_client, play  # noqa: E402
from conformance.sdk import http_module, quiet_assistants_deprecation  # noqa: E402
from tests.helpers import miniatures  # noqa: E402  (the project's wrong-on-purpose clients)

CLIENTS: list[tuple[str, Callable[..., Any], str, str]] = [
    # name, client, contract, a lifecycle of about 300 requests for the per-call figure
    ("a 1-s poller returning cancelling", miniatures.returns_on_cancelling, "waiter",
     "start+1, complete+300"),
    ("the lesson's 10-s poller", miniatures.lesson_poll_run_status, "waiter",
     "start+1, complete+590"),
    ("a driver answering one call per round", miniatures.careful_driver, "driver",
     "start+1, " + ", ".join(["require_action(2)+1, start+1"] * 30) + ", complete+200"),
]  # fmt: skip


def time_to_counterexample(fn: Callable[..., Any], contract: str) -> tuple[float, float, str]:
    """Seconds to the first failing lifecycle and to the final (shrunk) report, and its property."""
    started = time.perf_counter()
    first: list[float] = []

    def progress(state: Progress) -> None:
        if state.failures and not first:
            first.append(time.perf_counter() - started)

    try:
        check_client(fn, contract, progress=progress)
    except ClientCheckFailed as failed:
        return first[0], time.perf_counter() - started, failed.counterexample.prop
    return float("nan"), time.perf_counter() - started, "none (passed)"


class _Counted:
    """Counts the requests an emulator answers (wrapping its class's `handle`)."""

    def __init__(self) -> None:
        self.n = 0
        self.real = Emulator.handle

    def __enter__(self) -> _Counted:
        real = self.real

        def handle(emu: Emulator, *args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return real(emu, *args, **kwargs)

        Emulator.handle = handle  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Emulator.handle = self.real  # type: ignore[method-assign]


def _floor_call() -> Callable[[], Any]:
    http = http_module()
    emu = Emulator(latency=0.0)
    thread_id, run_id = emu.start_run("start+1, complete+300")
    emu.clock.advance(1)
    raw = emu.client(max_retries=0).beta.threads.runs.with_raw_response.retrieve(
        run_id, thread_id=thread_id
    )
    body = raw.http_response.content
    headers = [("content-type", "application/json"), ("openai-poll-after-ms", "1000")]

    def fixed(request: Any) -> Any:
        return http.Response(200, headers=headers, content=body)

    client = openai.OpenAI(
        api_key="k",
        base_url="http://floor.invalid/v1",
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(fixed)),
    )
    return lambda: client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)


def per_call(rounds: int) -> list[tuple[str, float, float]]:
    """(client, µs per call in the harness, µs per call on the floor), best rounds, interleaved."""
    floor = _floor_call()
    best_floor = float("inf")
    best: dict[str, float] = {}
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(300):
            floor()
        best_floor = min(best_floor, (time.perf_counter() - start) / 300 * 1e6)
        for name, fn, contract, scenario in CLIENTS:
            with _Counted() as counted:
                start = time.perf_counter()
                play(fn, scenario, contract)  # a finding or not: the calls cost the same
                took = time.perf_counter() - start
            best[name] = min(best.get(name, float("inf")), took / counted.n * 1e6)
    return [(name, best[name], best_floor) for name, *_ in CLIENTS]


def measure(rounds: int) -> list[Row]:
    rows: list[Row] = []
    print(f"openai {openai.__version__}; check_client at the default examples")
    print(f"{'client':40} {'first':>8} {'report':>8}  property")
    with quiet_assistants_deprecation():
        for name, fn, contract, _ in CLIENTS:
            if name.startswith("a driver"):
                fn = miniatures.answers_first_call_only  # the wrong driver, for the search
            first, whole, prop = time_to_counterexample(fn, contract)
            print(f"{name:40} {first:7.2f}s {whole:7.2f}s  {prop}")
            rows.append(
                Row(
                    "fuzz",
                    f"time to the first counterexample: {name} (shrunk report in {whole:.1f} s)",
                    first,
                    "s",
                    goal="< 5 s",
                    met=first < 5,
                )
            )
        with virtual_time_session():  # as a search holds it: the module scan happens once
            figures = per_call(rounds)
    print(f"\none SDK call inside the harness, best of {rounds} rounds, against the floor")
    for name, ours, floor in figures:
        print(f"  {name:40} {ours:7.1f} µs/call  floor {floor:6.1f}  ratio {ours / floor:.2f}")
        rows.append(
            Row(
                "fuzz",
                f"one SDK call inside the harness: {name}",
                ours,
                "µs/call",
                f"mock transport {fmt(floor, 'µs/call')}",
                ours / floor,
                "≤ 1.5",
                ours <= 1.5 * floor,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, metavar="N")
    parser.add_argument(
        "--json", action="store_true", help="report on stderr, table rows as JSON on stdout"
    )
    args = parser.parse_args(argv)
    return emit(args.json, lambda: measure(args.rounds))


if __name__ == "__main__":
    sys.exit(main())
