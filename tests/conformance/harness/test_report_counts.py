"""Counts in a client's report agree with the timeline they summarise, and read as English."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from conformance import ClientCheckFailed, check_client


def _polls_and_lists_steps(client: Any, thread_id: str, run_id: str) -> Any:
    """Never returns on a terminal run; lists the run's steps between polls."""
    runs = client.beta.threads.runs
    while True:
        run = runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status == "requires_action":
            return run
        runs.steps.list(thread_id=thread_id, run_id=run_id)
        time.sleep(1)


def _times_shown(report: str, status: str) -> int:
    """The ×N of every timeline line whose reply showed the run in `status` (1 when no ×N)."""
    total = 0
    for line in report.splitlines():
        if re.search(rf"→ 200 {status}\b", line):
            many = re.search(r"×(\d+)", line)
            total += int(many.group(1)) if many else 1
    return total


def test_the_hang_message_counts_what_the_timeline_lists() -> None:
    with pytest.raises(ClientCheckFailed) as failed:
        check_client(_polls_and_lists_steps, "waiter", scenario="start+1, complete+1")
    report = str(failed.value)
    said = re.search(r"fetched the run (\d+) times after it became completed", report)
    assert said is not None, report
    assert int(said.group(1)) == _times_shown(report, "completed") > 1, report


def test_one_lifecycle_is_singular() -> None:
    def sdk_poll(client: Any, thread_id: str, run_id: str) -> Any:
        return client.beta.threads.runs.poll(run_id, thread_id=thread_id)

    summary = check_client(sdk_poll, "waiter", scenario="start+1, complete+1")
    assert summary.render().splitlines()[0] == (
        "every property of the waiter contract held in 1 lifecycle (strict)"
    )
