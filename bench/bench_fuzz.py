"""How fast the harness plays lifecycles to a client, and where the time goes: SDK or kit.

For the seed lesson's ``poll_run_status`` (a waiter that sleeps 10 s per poll, on virtual time)
and for a careful driver, the same fixed set of lifecycles drawn from the model is played once
each: examples per second. A cProfile of the same work splits its time by where the code lives:
the SDK and its HTTP and model layers (openai, httpx/httpx2, pydantic), the kit (runmodel,
conformance), and the rest (Hypothesis, the standard library). Goal: kit < SDK.

Run: ``python bench/bench_fuzz.py [--examples N] [--json]``. Prints a table of figures
(``--json``: the report on stderr, the rows of ``make bench``'s table on stdout).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' helpers, as a package of this tree

from _rows import Row, emit  # noqa: E402

from conformance.cli.demo import lesson_poll_run_status  # noqa: E402
from conformance.emulator.clock import virtual_time_session  # noqa: E402
from conformance.harness import play  # noqa: E402
from conformance.sdk import quiet_assistants_deprecation  # noqa: E402
from conformance.strategies import Scenario, scenarios  # noqa: E402
from tests.helpers import miniatures  # noqa: E402  (the project's test clients: a correct driver)

_SDK = ("/openai/", "/httpx/", "/httpx2/", "/pydantic/", "/pydantic_core/", "/anyio/", "/h11/")
_KIT = ("/runmodel/", "/conformance/")


def _draw(n: int) -> list[Scenario]:
    """A fixed set of `n` scenarios (derandomized, so every run measures the same work)."""
    drawn: list[Scenario] = []

    @settings(max_examples=n, database=None, derandomize=True, deadline=None)
    @given(scenarios())
    def collect(sc: Scenario) -> None:
        drawn.append(sc)

    collect()
    return drawn[:n]


def _play_all(fn: Callable[..., Any], contract: str, drawn: list[Scenario]) -> None:
    # one session of virtual time for all the lifecycles, as a search holds one (check_client):
    # the scan for references to the time functions happens once, not once per lifecycle
    with quiet_assistants_deprecation(), virtual_time_session():
        for sc in drawn:
            play(fn, sc, contract)


def _shares(fn: Callable[..., Any], contract: str, drawn: list[Scenario]) -> dict[str, float]:
    prof = cProfile.Profile()
    prof.runcall(_play_all, fn, contract, drawn)
    stats = pstats.Stats(prof)
    totals = {"sdk": 0.0, "kit": 0.0, "other": 0.0}
    for (filename, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
        tottime = row[2]
        where = filename.replace("\\", "/")
        if any(s in where for s in _SDK):
            totals["sdk"] += tottime
        elif any(s in where for s in _KIT):
            totals["kit"] += tottime
        else:
            totals["other"] += tottime
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in totals.items()}


def measure(examples: int) -> list[Row]:
    """Every measurement of this script, printed as it goes; the rows of the summary table."""
    drawn = _draw(examples)
    clients = [
        ("waiter: the lesson's poll_run_status", lesson_poll_run_status, "waiter"),
        ("driver: a careful driver", miniatures.careful_driver, "driver"),
    ]
    print(f"{len(drawn)} lifecycles drawn from the model, played once each per client\n")
    print(f"{'client':38} {'examples/s':>10} {'ms/example':>10} {'SDK':>6} {'kit':>6} {'other':>6}")
    rows = []
    for name, fn, contract in clients:
        _play_all(fn, contract, drawn[:5])  # warm up imports and caches
        started = time.perf_counter()
        _play_all(fn, contract, drawn)
        took = time.perf_counter() - started
        shares = _shares(fn, contract, drawn)
        print(
            f"{name:38} {len(drawn) / took:10.1f} {1000 * took / len(drawn):10.2f} "
            f"{shares['sdk']:6.0%} {shares['kit']:6.0%} {shares['other']:6.0%}"
        )
        ratio = shares["kit"] / shares["sdk"] if shares["sdk"] else float("inf")
        rows.append(
            Row(
                "fuzz",
                f"{name} ({len(drawn)} lifecycles; ratio: kit / SDK time)",
                len(drawn) / took,
                "examples/s",
                f"SDK {shares['sdk']:.0%}, kit {shares['kit']:.0%}, other {shares['other']:.0%}",
                ratio,
                "< 1",
                ratio < 1,
            )
        )
    print("\nshares: self time under cProfile by where the code lives; goal: kit < SDK")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=200, metavar="N")
    parser.add_argument(
        "--json", action="store_true", help="report on stderr, table rows as JSON on stdout"
    )
    args = parser.parse_args(argv)
    return emit(args.json, lambda: measure(args.examples))


if __name__ == "__main__":
    sys.exit(main())
