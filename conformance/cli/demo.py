"""``runmodel demo``: the whole kit on the embedded emulator, in seconds, with no key or network.

It plays a set of lifecycles through the real SDK while the recorder writes a trace, checks the
trace against the model (text, JSON and JUnit reports), draws the lifecycle with the edges the
trace exercised, and property-tests the seed lesson's ``poll_run_status`` next to the SDK's own
``runs.poll``. Then the same for the Responses API's background mode: the conform suite
(``--api responses``), its trace checked (and a broken copy of it), and the official guide's
poller property-tested next to a careful one. Everything it writes goes into one output folder.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from time import sleep
from typing import Any

from runmodel import RESPONSE

from .fuzz import ProgressLine

__all__ = [
    "RESPONSE_EXAMPLES",
    "careful_poll_response",
    "configure",
    "guide_poll_response",
    "lesson_poll_run_status",
    "run",
    "sdk_poll",
]


def lesson_poll_run_status(client: Any, thread_id: str, run_id: str, interval: float = 10) -> Any:
    """The seed lesson's poller, as its first user wrote it (less the print): it waits only for
    requires_action and completed, so any other ending hangs it."""
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in ["requires_action", "completed"]:
            return run
        time.sleep(interval)


def sdk_poll(client: Any, thread_id: str, run_id: str) -> Any:
    """The SDK's own waiter, for comparison."""
    return client.beta.threads.runs.poll(run_id, thread_id=thread_id)


def guide_poll_response(client: Any, response_id: str) -> Any:
    """The official background-mode guide's poller, as the guide writes it (less the prints):
    it polls while queued or in_progress, with no deadline."""
    resp = client.responses.retrieve(response_id)
    while resp.status in {"queued", "in_progress"}:
        sleep(2)
        resp = client.responses.retrieve(resp.id)
    return resp


def careful_poll_response(
    client: Any, response_id: str, interval: float = 2, deadline: float = 600
) -> Any:
    """A poller that stops on any terminal status the model knows, and cancels the response it
    gives up on at its deadline."""
    started = time.monotonic()
    resp = client.responses.retrieve(response_id)
    while resp.status not in RESPONSE.terminal:
        if time.monotonic() - started > deadline:
            return client.responses.cancel(response_id)
        time.sleep(interval)
        resp = client.responses.retrieve(response_id)
    return resp


def _client_source(fn: Any, name: str, imports: str) -> str:
    """`fn` as a file of its own named `name`, for ``runmodel fuzz`` to load."""
    body = inspect.getsource(fn).replace(f"def {fn.__name__}(", f"def {name}(", 1)
    return f'"""Written by `runmodel demo`."""\n\n{imports}\n\n\n{body}'


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare ``runmodel demo``'s arguments."""
    parser.add_argument(
        "--output", "-o", default="runmodel-demo", metavar="DIR", help="where the files go"
    )
    parser.add_argument("--max-examples", type=int, default=100, metavar="N")


class _Terminal:
    """Plain text when piped; bold headings and coloured verdicts on a terminal."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.colour = stream.isatty() and os.environ.get("NO_COLOR") is None

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def heading(self, text: str) -> None:
        print(f"\n{self._paint('1', text)}", file=self.stream)

    def line(self, text: str = "") -> None:
        print(text, file=self.stream)

    def good(self, text: str) -> str:
        return self._paint("32", text)

    def bad(self, text: str) -> str:
        return self._paint("31", text)

    @contextlib.contextmanager
    def step(self, text: str) -> Iterator[ProgressLine]:
        """Say what is happening, then how long it took; on a terminal, the progress line it
        yields shows how far the step is."""
        line = ProgressLine(self.stream, f"  {text} … ")
        print(f"  {text} …", end="", file=self.stream, flush=True)
        started = time.perf_counter()
        yield line
        if line.width:  # the progress replaced the line: write it again, plain
            self.stream.write("\r" + " " * line.width + f"\r  {text} …")
        print(f" {time.perf_counter() - started:.1f} s", file=self.stream)


def _check(argv: list[str]) -> int:
    """``runmodel check ARGV``, as the command line runs it."""
    from . import check

    parser = argparse.ArgumentParser(prog="runmodel check")
    check.configure(parser)
    return check.run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when everything behaved as the model says (the lesson's client failing is
    the expected finding, not an error); on Ctrl-C, say what was done and found so far."""
    try:
        return _demo(args)
    except KeyboardInterrupt as stop:
        print(
            f"\nrunmodel demo: interrupted; the files written so far are in {args.output}",
            file=sys.stderr,
        )
        found = getattr(stop, "found", None)  # a fuzzing step's counterexample so far
        if found is not None:
            print(f"the counterexample found so far:\n{found}", file=sys.stderr)
        return 130


def _demo(args: argparse.Namespace) -> int:
    if args.max_examples < 1:  # before minutes of work, not after
        print(
            f"runmodel demo: --max-examples {args.max_examples} must be at least 1", file=sys.stderr
        )
        return 2
    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"runmodel demo: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return 2
    term = _Terminal(sys.stdout)
    term.line(
        "runmodel demo: the Assistants run model, checked and fuzzed on the embedded emulator"
    )
    term.line("(no API key, no network; virtual time, so a 10-minute expiry takes no time)")
    trace = _conform_step(term, out)
    reports, server_side = _check_step(term, out, trace)
    _draw_step(term, out, trace)
    client_file = _fuzz_step(term, out, args.max_examples)
    if client_file is None:  # pragma: no cover - the lesson's client is wrong by construction
        return 1
    responses = _responses_part(term, out, args.max_examples)

    term.heading("Summary")
    term.line(f"  trace              {trace}")
    names = ", ".join(p.name for p in reports.values())
    term.line(f"  reports            {out}: {names}")
    term.line(f"  coverage diagrams  {out / 'coverage'}")
    term.line(f"  counterexample     {out / 'lesson-counterexample.txt'}")
    term.line(f"  the lesson client  {client_file}")
    term.line("  next: runmodel fuzz your_client.py:FUNCTION --contract waiter|driver")
    term.line(f"  responses trace    {responses.trace} (and {responses.broken.name}, broken)")
    term.line(f"  responses report   {responses.report}")
    term.line(f"  counterexample     {responses.counterexample}")
    term.line(f"  the guide's poller {responses.client_file}")
    term.line("  next: runmodel conform --api responses --base-url URL (your server)")
    term.line("        runmodel fuzz your_client.py:FUNCTION --contract poller|stream|tool-loop")
    return 0 if server_side == 0 and responses.server_side == 0 else 1


def _conform_step(term: _Terminal, out: Path) -> Path:
    """1. The conform suite against the embedded emulator, recorded: the trace."""
    from ..conform import SCENARIOS, judge_trace, play_scenarios
    from ..emulator import BASE_URL, Clock, Emulator
    from ..emulator.transport import transport
    from ..recorder import record
    from ..sdk import quiet_assistants_deprecation

    trace = out / "trace.jsonl"
    term.heading("1. Check a server: the conform suite against the embedded emulator, recorded")
    # the server's clock starts now, so the recorder's wall times and the run's timestamps agree
    emulator = Emulator(clock=Clock(start=time.time()))
    with (
        term.step(f"playing {len(SCENARIOS)} scenarios through the openai SDK, recording") as step,
        record(trace) as recorder,
        quiet_assistants_deprecation(),
        emulator.virtual_time(),
    ):
        client = recorder.client(
            transport=transport(emulator), api_key="sk-demo", base_url=BASE_URL
        )
        played = play_scenarios(client, emulator, list(SCENARIOS), slow=False, progress=step.show)
    for outcome in judge_trace(trace, played, "strict"):
        mark = term.good("pass") if outcome.result == "pass" else term.bad(outcome.result)
        term.line(f"    {mark:4}  {outcome.title}")
        for detail in outcome.details:
            term.line(f"          {detail}")
    with trace.open("rb") as trace_file:
        count = sum(1 for _ in trace_file)
    term.line(f"  trace: {trace} ({count} lines, secrets masked)")
    return trace


def _check_step(term: _Terminal, out: Path, trace: Path) -> tuple[dict[str, Path], int]:
    """2. The trace checked against the model: the reports, and the server-side findings."""
    term.heading("2. Check the trace against the model")
    reports = {"text": out / "report.txt", "json": out / "report.json", "junit": out / "report.xml"}
    with contextlib.redirect_stdout(io.StringIO()):
        for fmt, path in reports.items():
            _check([str(trace), "--format", fmt, "--output", str(path), "--coverage"])
    report = reports["text"].read_text(encoding="utf-8").splitlines()
    verdicts = [t for t in report if t.startswith(("conforms", "does not conform"))]
    term.line("  " + (verdicts[0] if verdicts else "(no verdict in the report)"))
    found = json.loads(reports["json"].read_text(encoding="utf-8"))
    codes_found = [v["code"] for r in found["runs"] for v in r["violations"]]
    codes_found += [v["code"] for v in found["other"]]
    deliberate = [c for c in codes_found if c.startswith("client.")]
    server_side = len(codes_found) - len(deliberate)
    verdict = term.good("conforms") if server_side == 0 else term.bad("does not conform")
    term.line(f"  the emulator's side {verdict} (strict level)")
    if deliberate:
        term.line(
            f"  the {len(deliberate)} client findings ({', '.join(sorted(set(deliberate)))}) are "
            "the refusal scenarios' deliberate mistakes, each answered with the documented 400"
        )
    return reports, server_side


def _draw_step(term: _Terminal, out: Path, trace: Path) -> None:
    """3. The lifecycle drawn with the edges the trace exercised."""
    from runmodel import LIFECYCLES, RUN, Strictness
    from runmodel.diagram import render_coverage, svg_available

    from ..check import edge_coverage
    from ..readers import read

    term.heading("3. Draw the lifecycle with the edges the trace exercised")
    coverage = edge_coverage(read(trace))
    formats = ("dot", "mmd", "svg") if svg_available() else ("dot", "mmd")
    written: list[Path] = []
    for name, counts in sorted(coverage.items()):
        written += render_coverage(LIFECYCLES[name], counts, out / "coverage", formats)
    run_counts = coverage.get(RUN.name, {})
    taken = sum(1 for e in RUN.edges(Strictness.PERMISSIVE) if run_counts.get((e.source, e.dest)))
    term.line(f"  run edges exercised: {taken} of {len(RUN.edges(Strictness.PERMISSIVE))}")
    term.line(f"  {len(written)} files in {out / 'coverage'}")
    if not svg_available():
        term.line(
            "  (SVG needs Graphviz's `dot`: apt-get install graphviz; DOT and Mermaid written)"
        )


def _fuzz_step(term: _Terminal, out: Path, max_examples: int) -> Path | None:
    """4. The lesson's poller and the SDK's fuzzed as waiters: the lesson client's file, or None
    if the lesson's client passed (the model or the harness would be broken)."""
    from ..harness import ClientCheckFailed, check_client

    term.heading("4. Property-test the lesson's poll_run_status against every legal lifecycle")
    client_file = out / "lesson_client.py"  # the reproduce line names a file that exists
    lesson_file = _client_source(
        lesson_poll_run_status, "poll_run_status", "import time\nfrom typing import Any"
    )
    client_file.write_text(lesson_file, encoding="utf-8")
    most = f"{max_examples} lifecycle{'' if max_examples == 1 else 's'} at most"
    with term.step(f"fuzzing poll_run_status as a waiter ({most})") as line:
        try:
            check_client(
                lesson_poll_run_status,
                "waiter",
                max_examples=max_examples,
                progress=line,
                reproduce=f"runmodel fuzz {shlex.quote(f'{client_file}:poll_run_status')} "
                '--contract waiter --scenario "{scenario}"',
            )
            lesson = None
        except ClientCheckFailed as failed:
            lesson = failed
    if lesson is None:  # pragma: no cover - the lesson's client is wrong by construction
        term.line(term.bad("  the lesson's client passed; the model or the harness is broken"))
        return None
    term.line(f"  {term.bad('counterexample')}:")
    for text in str(lesson).splitlines():
        term.line(f"    {text}")
    (out / "lesson-counterexample.txt").write_text(str(lesson) + "\n", encoding="utf-8")
    with term.step("fuzzing the SDK's runs.poll the same way") as line:
        sdk = check_client(sdk_poll, "waiter", max_examples=max_examples, progress=line)
    term.line(f"  {term.good('passed')}: {sdk.render().splitlines()[0]}")
    return client_file


# -- the Responses API's background mode ----------------------------------------------------------

RESPONSE_EXAMPLES = 50
"""The most lifecycles the Responses part's fuzzing tries per client (``--max-examples`` may
lower it): enough for the guide's poller's counterexample, and a demo that stays quick."""


@dataclass(frozen=True, slots=True)
class _ResponsesPart:
    """What the Responses part wrote, and its server-side findings."""

    trace: Path
    broken: Path
    report: Path
    counterexample: Path
    client_file: Path
    server_side: int


def _responses_part(term: _Terminal, out: Path, max_examples: int) -> _ResponsesPart:
    """5-7. The same kit for the Responses API's background mode."""
    term.heading("Responses API, background mode: the same kit, from the same model")
    trace, failed = _responses_conform_step(term, out)
    broken, server_side = _responses_check_step(term, out, trace)
    examples = min(max_examples, RESPONSE_EXAMPLES)  # the whole demo stays within a minute
    counterexample, client_file = _responses_fuzz_step(term, out, examples)
    report = out / "responses-report.txt"
    return _ResponsesPart(trace, broken, report, counterexample, client_file, failed + server_side)


def _responses_conform_step(term: _Terminal, out: Path) -> tuple[Path, int]:
    """5. ``runmodel conform --api responses`` against the embedded emulator, recorded."""
    from ..conform import judge_trace, play_scenarios
    from ..conform_responses import RESPONSES
    from ..emulator import BASE_URL, Clock, Emulator
    from ..emulator.transport import transport
    from ..recorder import record

    trace = out / "responses-trace.jsonl"
    term.heading("5. Check a server: conform --api responses against the embedded emulator")
    emulator = Emulator(clock=Clock(start=time.time()))
    scenarios = list(RESPONSES.scenarios)
    with (
        term.step(f"playing {len(scenarios)} scenarios through the openai SDK, recording") as step,
        record(trace) as recorder,
        emulator.virtual_time(),
    ):
        client = recorder.client(
            transport=transport(emulator), api_key="sk-demo", base_url=BASE_URL
        )
        played = play_scenarios(
            client, emulator, scenarios, slow=False, progress=step.show, suite=RESPONSES
        )
    failed = 0
    for outcome in judge_trace(trace, played, "strict"):
        failed += outcome.result == "fail"
        mark = term.good("pass") if outcome.result == "pass" else term.bad(outcome.result)
        term.line(f"    {mark:4}  {outcome.title}")
        for detail in outcome.details:
            term.line(f"          {detail}")
    with trace.open("rb") as trace_file:
        count = sum(1 for _ in trace_file)
    term.line(f"  trace: {trace} ({count} lines, secrets masked)")
    return trace, failed


def _break_trace(trace: Path, broken: Path) -> str:
    """Copy `trace` with one poll of a cancelled response answering it completed, as users of
    one server reported; what was changed, or '' if the trace has no such poll."""
    lines = trace.read_bytes().splitlines(keepends=True)
    for i in range(len(lines) - 1, -1, -1):
        item = json.loads(lines[i])
        reply = item.get("response") or {}
        body = reply.get("body")
        request = item.get("request") or {}
        if (
            request.get("method") == "GET"
            and isinstance(body, dict)
            and body.get("object") == "response"
            and body.get("status") == "cancelled"
        ):
            body["status"] = "completed"
            body["completed_at"] = int(item.get("wall", 0))
            body["usage"] = {
                "input_tokens": 12,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 5,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 17,
            }
            lines[i] = json.dumps(item, separators=(",", ":")).encode() + b"\n"
            broken.write_bytes(b"".join(lines))
            return "a later poll of a cancelled response answers completed"
    broken.write_bytes(b"".join(lines))
    return ""


def _findings(trace: Path, strictness: str) -> tuple[list[str], list[str], list[str]]:
    """``runmodel check`` of `trace` at `strictness`: the server's errors, its warnings, and the
    client's own findings (the refusal scenarios' deliberate mistakes), as codes."""
    from ..check import CLIENT_FACTS

    with contextlib.redirect_stdout(io.StringIO()) as report:
        _check([str(trace), "--format", "json", "--strictness", strictness])
    found = json.loads(report.getvalue())
    every = [v for r in found["runs"] for v in r["violations"]] + found["other"]
    client = [
        v["code"] for v in every if v["code"].startswith("client.") or v["code"] in CLIENT_FACTS
    ]
    server = [v for v in every if v["code"] not in client]
    errors = [v["code"] for v in server if v["severity"] == "error"]
    return errors, [v["code"] for v in server if v["severity"] != "error"], client


def _responses_check_step(term: _Terminal, out: Path, trace: Path) -> tuple[Path, int]:
    """6. The responses trace checked, and a broken copy of it at both levels: the broken copy,
    and the server-side errors found in the recorded trace."""
    term.heading("6. Check the responses trace against the model, and a broken copy of it")
    report = out / "responses-report.txt"
    with contextlib.redirect_stdout(io.StringIO()):
        _check([str(trace), "--output", str(report)])
    errors, warnings, client = _findings(trace, "strict")
    verdict = term.good("conforms") if not errors else term.bad("does not conform")
    term.line(f"  the emulator's side {verdict} (strict level): {report}")
    if warnings:
        term.line(
            f"  warnings (facts the evidence leaves open): {', '.join(sorted(set(warnings)))}"
        )
    if client:
        term.line(
            "  client findings, the refusal scenarios' deliberate mistakes: "
            + ", ".join(sorted(set(client)))
        )
    broken = out / "responses-broken.jsonl"
    changed = _break_trace(trace, broken)
    term.line(f"  a broken copy, {broken.name}: {changed}")
    for level in ("strict", "permissive"):
        wrong, doubts, _ = _findings(broken, level)
        verdict = term.bad("does not conform") if wrong else term.good("conforms")
        said = ", ".join(sorted(set(wrong))) or "no error"
        more = f"; warnings: {', '.join(sorted(set(doubts)))}" if doubts else ""
        term.line(f"    at {level:10}  {verdict}: {said}{more}")
    return broken, len(errors)


def _responses_fuzz_step(term: _Terminal, out: Path, max_examples: int) -> tuple[Path, Path]:
    """7. The guide's poller and a careful one fuzzed as pollers: the counterexample's file and
    the guide client's file."""
    from ..harness import ResponseCheckFailed, check_response_client

    term.heading("7. Property-test the background-mode guide's poller against every lifecycle")
    client_file = out / "guide_client.py"
    source = _client_source(
        guide_poll_response, "poll_response", "from time import sleep\nfrom typing import Any"
    )
    client_file.write_text(source, encoding="utf-8")
    most = f"{max_examples} lifecycle{'' if max_examples == 1 else 's'} at most"
    found: ResponseCheckFailed | None = None
    with term.step(f"fuzzing the guide's poller as a poller ({most})") as line:
        try:
            check_response_client(
                guide_poll_response,
                "poller",
                max_examples=max_examples,
                progress=line,
                reproduce=f"runmodel fuzz {shlex.quote(f'{client_file}:poll_response')} "
                '--contract poller --scenario "{scenario}"',
            )
        except ResponseCheckFailed as failed:
            found = failed
    counterexample = out / "guide-counterexample.txt"
    if found is None:
        term.line("  the guide's poller held every property")
        counterexample.write_text("no counterexample\n", encoding="utf-8")
    else:
        term.line(f"  {term.bad('counterexample')}:")
        for text in str(found).splitlines():
            term.line(f"    {text}")
        counterexample.write_text(str(found) + "\n", encoding="utf-8")
    with term.step("fuzzing a careful poller the same way") as line:
        careful = check_response_client(
            careful_poll_response, "poller", max_examples=max_examples, progress=line
        )
    term.line(f"  {term.good('passed')}: {careful.render().splitlines()[0]}")
    return counterexample, client_file
