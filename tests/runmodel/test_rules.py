"""Field rules and run/step/message links: named, graded, and able to say what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from runmodel import LIFECYCLES, LINKS, RULES, RUN, FieldRule


def _rule(code: str) -> FieldRule:
    (rule,) = [r for rules in RULES.values() for r in rules if r.code == code]
    return rule


def _run(status: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "run_1", "object": "thread.run", "thread_id": "thread_1", "assistant_id": "asst_1",
        "status": status, "created_at": 100, "started_at": None, "expires_at": 700,
        "completed_at": None, "failed_at": None, "cancelled_at": None, "required_action": None,
        "last_error": None, "incomplete_details": None, "usage": None,
    }  # fmt: skip
    base.update(fields)
    return base


def test_rule_codes_are_unique_graded_and_sourced() -> None:
    codes = [r.code for rules in RULES.values() for r in rules]
    assert len(codes) == len(set(codes))
    for name, rules in RULES.items():
        lc = LIFECYCLES[name]
        for r in rules:
            assert r.code.startswith(f"{name}.")
            assert r.lifecycle == name
            assert r.evidence.grades
            assert r.evidence.sources
            assert r.summary
            assert r.statuses <= set(lc.statuses), r.code


def test_links_name_real_statuses() -> None:
    for link in LINKS:
        child = LIFECYCLES[link.lifecycle]
        assert link.run_statuses <= set(RUN.statuses)
        assert link.from_statuses <= set(child.statuses)
        assert link.expected <= set(child.statuses)
        assert not (link.from_statuses & link.expected)
        assert link.evidence.sources


@pytest.mark.parametrize(
    ("code", "obj", "fragment"),
    [
        (
            "run.required_action.set",
            _run("requires_action", started_at=101),
            "required_action is null",
        ),
        (
            "run.required_action.null",
            _run("in_progress", required_action={"type": "submit_tool_outputs"}),
            "required_action is set",
        ),
        ("run.last_error.set", _run("failed", expires_at=None), "last_error is null"),
        ("run.expires_at.null", _run("completed", completed_at=130), "expires_at is set"),
        ("run.expires_at.ten_minutes", _run("queued", expires_at=650), "created_at + 550"),
        (
            "run.timestamps.ordered",
            _run("completed", started_at=120, completed_at=110),
            "later than",
        ),
        ("run.usage.null_while_running", _run("in_progress", usage={"total_tokens": 1}), "usage"),
    ],
)
def test_snapshot_rules_say_what_is_wrong(code: str, obj: dict[str, Any], fragment: str) -> None:
    rule = _rule(code)
    assert obj["status"] in rule.statuses
    message = rule.snapshot(obj)
    assert message is not None
    assert fragment in message


def test_a_conforming_run_passes_every_rule_for_its_status() -> None:
    samples = [
        _run("queued"),
        _run("in_progress", started_at=101),
        _run(
            "completed",
            started_at=101,
            completed_at=120,
            expires_at=None,
            usage={"total_tokens": 3},
        ),
    ]
    for obj in samples:
        for rule in RULES["run"]:
            if obj["status"] in rule.statuses:
                assert rule.snapshot(obj) is None, rule.code


@pytest.mark.parametrize(
    ("code", "prev", "cur"),
    [
        (
            "run.started_at.kept",
            _run("in_progress", started_at=101),
            _run("queued", started_at=None),
        ),
        (
            "run.expires_at.not_reset",
            _run("requires_action", expires_at=700),
            _run("queued", expires_at=900),
        ),
        (
            "run.timestamps.monotonic",
            _run("in_progress", started_at=105),
            _run("in_progress", started_at=101),
        ),
        (
            "run.id.immutable",
            _run("queued"),
            {**_run("in_progress", started_at=101), "id": "run_2"},
        ),
    ],
)
def test_change_rules_compare_two_observations(
    code: str, prev: dict[str, Any], cur: dict[str, Any]
) -> None:
    rule = _rule(code)
    assert rule.stateful
    assert rule.change(prev, cur) is not None
    assert rule.change(prev, prev) is None


def test_untrusted_rules_are_marked_so() -> None:
    assert not _rule("run.cancelled_at.set").evidence.trusted
    assert _rule("run.required_action.set").evidence.trusted


def test_rules_the_recordings_support_are_graded_observed() -> None:
    # usage null in every recorded requires_action snapshot; started_at kept in queued and
    # moved forward after every recorded submit
    usage = _rule("run.usage.null_in_requires_action").evidence
    assert (usage.label, usage.trusted) == ("O/X", True)
    for code in ("run.usage.null_in_requires_action", "run.started_at.kept"):
        assert any(s.startswith("rec:") for s in _rule(code).evidence.sources), code
    kept = _rule("run.started_at.kept")
    assert kept.change({"started_at": 5}, {"started_at": None}) is not None
    assert kept.change({"started_at": 5}, {"started_at": 9}) is None
    assert _rule("run.timestamps.monotonic").change({"started_at": 5}, {"started_at": 9}) is None
