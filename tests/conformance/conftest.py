"""What the conformance tests share: ``runmodel demo``, run once per test run (it takes seconds)
with the planted secrets in the environment, for every test that reads what it did."""

from __future__ import annotations

import contextlib
import io

import pytest

from runmodel.cli import main
from tests.helpers.demo_result import DEMO_EXAMPLES, DemoRun
from tests.helpers.planted import ENVIRONMENT


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``runmodel demo --max-examples 15`` with the planted secrets in the environment."""
    folder = tmp_path_factory.mktemp("demo-run") / "demo"
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as env,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        for name, value in ENVIRONMENT.items():
            env.setenv(name, value)
        code = main(["demo", "--output", str(folder), "--max-examples", str(DEMO_EXAMPLES)])
    return DemoRun(code, out.getvalue(), err.getvalue(), folder)
