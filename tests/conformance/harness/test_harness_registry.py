"""The harness's contracts are registered by lifecycle and contract name: the run's three are
there in order of root cause, and another lifecycle adds its own without touching them."""

from __future__ import annotations

import pytest

from conformance.harness import PROPERTIES, Contract
from conformance.harness.verdicts import Judging, Property, contract_rules, register, registered
from runmodel import RUN


def test_the_runs_contracts_are_registered_in_order_of_root_cause() -> None:
    for contract in Contract:
        rules = contract_rules(RUN.name, contract.value)
        names = [p.name for p in rules.properties]
        assert names == sorted(names, key=PROPERTIES.index)
        assert ("answers_every_round" in names) is (contract is Contract.APP)
    assert {c.value for c in Contract} <= {c for lc, c in registered() if lc == RUN.name}


def test_another_lifecycle_registers_its_own_contract() -> None:
    seen: list[str] = []

    def first(j: Judging) -> list[tuple[str, str, str | None]]:
        seen.append("first")
        j.stopped = True  # a stop ends the judging: later properties are not judged
        return [("first", "stopped here", None)]

    def second(j: Judging) -> list[tuple[str, str, str | None]]:
        seen.append("second")
        return []

    rules = register("toy", "poller", [Property("first", first), Property("second", second)])
    assert contract_rules("toy", "poller") is rules
    judging = Judging.__new__(Judging)  # the toy's properties read nothing of it
    judging.found, judging.stopped = [], False
    assert rules.judge(judging) == [("first", "stopped here", None)]
    assert seen == ["first"]
    assert contract_rules(RUN.name, "waiter").lifecycle == RUN.name  # untouched


def test_an_unknown_contract_is_named_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no contract 'nope' for the run lifecycle"):
        contract_rules(RUN.name, "nope")
