"""Schemathesis fuzzing of every operation with a valid admin token: no 5xx, and 2xx bodies match the schema.

Bounded on purpose (a few examples per operation, well under a minute): it is a smoke test for
crashes and undocumented answers, not a search for every bug.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.dashboards.conftest import Server

EXAMPLES = 10
BUDGET_S = 90  # the operations grow with every router; shared CI machines are slow
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)  # valid requests, and requests the schema forbids


def test_fuzz_every_operation_without_server_errors(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("fuzz", users=50, storage_gb=10, mailboxes_per_user=2)
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {t.token}", "X-Requested-With": "mailark"}
    started, ran, failures = time.monotonic(), 0, []
    for result, mode in [(r, m) for r in schema.get_all_operations() for m in MODES]:
        op = result.ok()
        pinned = {"org": t.name} if "{org}" in op.path else None

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(mode, path_parameters=pinned))
        def run(case: schemathesis.Case) -> None:
            checks = [not_a_server_error] + ([response_schema_conformance] if mode == GenerationMode.POSITIVE else [])
            case.call_and_validate(base_url=server.url, headers=headers, checks=checks)

        if time.monotonic() - started > BUDGET_S:
            pytest.fail(f"fuzzing ran over its {BUDGET_S} s budget after {ran} operations")
        try:
            run()
        except Unsatisfiable:  # nothing to violate (e.g. only free-form string path parameters)
            pass
        except Exception as e:  # collect all, report together
            failures.append(f"{mode.value} {op.method.upper()} {op.path}: {str(e)[:800]}")
        ran += 1
    assert ran >= 80
    assert not failures, "\n\n".join(failures)
