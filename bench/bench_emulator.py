"""What the emulator costs per request, and what ``runmodel serve`` sustains.

1. One SDK ``runs.retrieve`` through the in-process emulator, against the floor: the same SDK
   call through a bare mock transport that returns a fixed run JSON (goal: at most 1.3x).
2. With the openai 2.x SDK, the same calls through the ``openai-responses`` pytest plugin's mock
   (goal: the emulator is faster), when that package is installed.
3. ``runmodel serve`` (a separate process) with 1, 4 and 16 concurrent SDK clients over
   loopback: requests per second, bounded in count and time, against the floor of the same
   kind of stdlib server answering a fixed run JSON (``bench/_fixed_server.py``), in
   interleaved rounds; and its start-up time.

Run: ``python bench/bench_emulator.py [--quick] [--no-serve] [--json]``. Prints figures and
ratios (``--json``: the report on stderr, the rows of ``make bench``'s table on stdout).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from _rows import Row, emit, fmt

from conformance.emulator import Emulator
from conformance.emulator.transport import http_module
from conformance.sdk import quiet_assistants_deprecation

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "start, complete+100000"  # the run stays in_progress while measured (latency 0)


def _emulator_run() -> tuple[Emulator, str, str]:
    emu = Emulator(script=SCRIPT, latency=0.0)
    thread_id, run_id = emu.start_run()
    emu.clock.advance(1)  # started
    return emu, thread_id, run_id


class _Contender:
    """One way of making the same SDK call, timed in rounds interleaved with the others."""

    def __init__(
        self,
        name: str,
        call: Callable[[], Any],
        context: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        self.name, self.call, self.context, self.after = name, call, context, after
        self.timings: list[float] = []

    def round(self, n: int) -> None:
        with self.context() if self.context else contextlib.nullcontext():
            start = time.perf_counter()
            for _ in range(n):
                self.call()
            self.timings.append((time.perf_counter() - start) / n * 1e6)
        if self.after:
            self.after()

    @property
    def best(self) -> float:
        return min(self.timings)


def _race(contenders: list[_Contender], n: int, rounds: int) -> None:
    """ABAB…: every contender runs `rounds` rounds of `n` calls, interleaved, so that load from
    elsewhere on the machine falls on all alike; each is judged by its best round."""
    for c in contenders:
        c.round(min(n, 200))  # warm up
        c.timings.clear()
    for _ in range(rounds):
        for c in contenders:
            c.round(n)


def _sdk() -> str:
    return f"openai {openai.__version__}, {http_module().__name__}"


def bench_in_process(n: int, rounds: int) -> list[Row]:
    http = http_module()
    emu, thread_id, run_id = _emulator_run()
    emulated = emu.client(strict=False, max_retries=0)
    raw = emulated.beta.threads.runs.with_raw_response.retrieve(run_id, thread_id=thread_id)
    body = raw.http_response.content
    headers = [("content-type", "application/json"), ("openai-poll-after-ms", "1000")]

    def fixed(request: Any) -> Any:
        return http.Response(200, headers=headers, content=body)

    floor_client = openai.OpenAI(
        api_key="k",
        base_url="http://floor.invalid/v1",
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(fixed)),
    )
    floor = _Contender(
        "floor: mock transport, fixed run JSON",
        lambda: floor_client.beta.threads.runs.retrieve(run_id, thread_id=thread_id),
    )
    ours = _Contender(
        "emulator, in-process",
        lambda: emulated.beta.threads.runs.retrieve(run_id, thread_id=thread_id),
        after=emu.requests.clear,
    )
    contenders = [floor, ours]
    theirs = _openai_responses()
    if isinstance(theirs, _Contender):
        contenders.append(theirs)
    _race(contenders, n, rounds)
    print(f"{_sdk()}: one runs.retrieve, best of {rounds} interleaved rounds of {n}")
    for c in contenders:
        print(f"  {c.name:<40} {c.best:7.1f} us/call")
    print(f"  emulator / floor = {ours.best / floor.best:.2f}   (goal: at most 1.30)")
    rows = [
        Row(
            "emulator",
            f"runs.retrieve via the in-process emulator ({_sdk()})",
            ours.best,
            "µs/call",
            f"mock transport {fmt(floor.best, 'µs/call')}",
            ours.best / floor.best,
            "≤ 1.3",
            ours.best <= 1.3 * floor.best,
        )
    ]
    if int(openai.__version__.split(".")[0]) != 2:  # measured in a run with the 2.x SDK
        print(f"  openai-responses: not measured: {theirs}")
        return rows
    measure = f"runs.retrieve via the openai-responses mock ({_sdk()})"
    if isinstance(theirs, str):
        print(f"  openai-responses: not measured: {theirs}")
        return [*rows, Row("emulator", measure, None, "", note=theirs)]
    ratio = theirs.best / ours.best
    print(f"  openai-responses / emulator = {ratio:.2f}   (goal: above 1)")
    version = _version("openai-responses")
    return [
        *rows,
        Row(
            "emulator",
            measure.replace("openai-responses", f"openai-responses {version}"),
            theirs.best,
            "µs/call",
            f"emulator {fmt(ours.best, 'µs/call')}",
            ratio,
            "> 1 (emulator is faster)",
            ratio > 1,
        ),
    ]


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def _openai_responses() -> _Contender | str:
    """The openai-responses plugin's mock doing the same call, or why it cannot."""
    if int(openai.__version__.split(".")[0]) != 2:
        return "it supports the openai 2.x SDK only (run this script with openai 2.x)"
    try:
        import openai_responses
    except ImportError as exc:
        return f"{exc} (pip install openai-responses)"
    mock = openai_responses.OpenAIMock()
    with mock.router:
        client = openai.OpenAI(api_key="k", max_retries=0)
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create()
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    return _Contender(
        "openai-responses (respx mock)",
        lambda: client.beta.threads.runs.retrieve(run.id, thread_id=thread.id),
        context=lambda: mock.router,
    )


def _wait_url(proc: subprocess.Popen[str], what: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    if match is None:
        proc.kill()
        raise SystemExit(
            f"{what} did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return match.group(1)


def _start_server(*extra: str) -> tuple[subprocess.Popen[str], str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance.emulator", "--port", "0", "--script", SCRIPT, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    url = _wait_url(proc, "runmodel serve")
    return proc, url, time.perf_counter() - start


def _start_fixed(reply: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_fixed_server.py")), json.dumps(reply)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, _wait_url(proc, "the fixed reply server")


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def _load(
    url: str, run_id: str, thread_id: str, clients: int, seconds: float, budget: int
) -> tuple[int, float]:
    """`clients` SDK clients, one thread each, retrieving the run until time or budget runs out."""
    counts = [0] * clients
    deadline = time.perf_counter() + seconds

    def work(i: int) -> None:
        own = openai.OpenAI(api_key="k", base_url=url, max_retries=0)
        while counts[i] < budget and time.perf_counter() < deadline:
            own.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
            counts[i] += 1
        own.close()

    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts), time.perf_counter() - start


_DROP = {"content-length", "date", "server", "connection", "transfer-encoding"}


def bench_serve(seconds: float, max_requests: int, rounds: int) -> list[Row]:
    startups = []
    for _ in range(3):
        proc, url, ready = _start_server()
        _stop(proc)
        startups.append(ready)
    startup = statistics.median(startups)
    print(
        f"runmodel serve: ready to serve in {startup * 1000:.0f} ms "
        "(median of 3, process start to URL printed)"
    )
    rows = [Row("serve", "runmodel serve start-up (to its URL printed)", startup * 1000, "ms")]
    proc, url, _ = _start_server()
    fixed = None
    try:
        setup = openai.OpenAI(api_key="k", base_url=url, max_retries=0)
        assistant = setup.beta.assistants.create(model="gpt-4o")
        thread = setup.beta.threads.create()
        run = setup.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        raw = setup.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=thread.id)
        reply = {
            "status": raw.http_response.status_code,
            "headers": [
                (k, v) for k, v in raw.http_response.headers.items() if k.lower() not in _DROP
            ],
            "body": raw.http_response.text,
        }
        fixed, fixed_url = _start_fixed(reply)
        print(
            f"  {seconds:.1f} s per round, best of {rounds} interleaved rounds, "
            f"at most {max_requests:,} requests a round"
        )
        for clients in (1, 4, 16):
            ours = floor = 0.0
            for _ in range(rounds):  # ABAB: load from elsewhere falls on both alike
                for which in ("floor", "ours"):
                    total, elapsed = _load(
                        fixed_url if which == "floor" else url,
                        run.id,
                        thread.id,
                        clients,
                        seconds,
                        max_requests // clients,
                    )
                    if which == "floor":
                        floor = max(floor, total / elapsed)
                    else:
                        ours = max(ours, total / elapsed)
            print(
                f"  {clients:2d} concurrent clients: {ours:7.0f} requests/s "
                f"(fixed reply server: {floor:7.0f} requests/s)"
            )
            rows.append(
                Row(
                    "serve",
                    f"runs.retrieve over loopback, {clients} concurrent client"
                    + ("s" if clients > 1 else ""),
                    ours,
                    "requests/s",
                    f"fixed reply server {fmt(floor, 'requests/s')}",
                    floor / ours,
                )
            )
    finally:
        _stop(proc)
        if fixed is not None:
            _stop(fixed)
    return rows


def measure(args: argparse.Namespace) -> list[Row]:
    """Every measurement of this script, printed as it goes; the rows of the summary table."""
    n, rounds = (500, 5) if args.quick else (1000, 15)
    with quiet_assistants_deprecation():  # the SDK's, on every Assistants call
        rows = bench_in_process(n, rounds)
        if not args.no_serve:
            rows += bench_serve(
                1.0 if args.quick else 2.0, 3000 if args.quick else 20000, 1 if args.quick else 2
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--no-serve", action="store_true", help="the in-process part only")
    parser.add_argument(
        "--json", action="store_true", help="report on stderr, table rows as JSON on stdout"
    )
    args = parser.parse_args(argv)
    return emit(args.json, lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main())
