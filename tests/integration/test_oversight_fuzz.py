"""Property-based fuzzing of the live API from its own OpenAPI document (schemathesis 4): no 5xx anywhere."""

from __future__ import annotations

import time

import hypothesis
import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from test_api import CASE, bearer, seed_penalties

from api.app import create_app
from api.server import BackgroundAPI
from ggzy import audit, auth

MAX_EXAMPLES = 6
BUDGET_SECONDS = 60.0


@pytest.mark.airflow  # slow: about a minute of generated requests against every operation
def test_fuzzing_every_operation_finds_no_server_error(hub, db: sa.Engine) -> None:
    seed_penalties(db)
    token = auth.create_token(db, person="模糊测试", org_code="JZ-JWJW", role="oversight")[0]
    admin = auth.create_token(db, person="模糊测试管理员", org_code="HUB", role="admin")[0]
    app = create_app(hub, rate_per_second=None)  # the fuzzer must reach the handlers, not the rate limiter
    failures: list[str] = []
    timings: dict[str, float] = {}
    with BackgroundAPI(hub, app=app) as api:
        schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
        started = time.monotonic()
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        for operation in operations:
            if time.monotonic() - started > BUDGET_SECONDS:
                break
            began = time.monotonic()

            @given(case=operation.as_strategy())
            @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                                 suppress_health_check=list(HealthCheck))  # fmt: skip
            def call(case: schemathesis.Case) -> None:
                caller = admin if case.path.startswith("/v1/submissions") else token
                case.headers = {**(case.headers or {}), **bearer(caller, **CASE)}
                try:
                    response = case.call(base_url=api.url, timeout=120)
                except Exception as error:  # a hang or a dropped connection is a failure too
                    failures.append(
                        f"{case.method} {case.path} {case.path_parameters} {case.query}: {error!r}"
                    )
                    return
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.path} {case.path_parameters} {case.query} -> {response.status_code}:"
                                    f" {response.text[:300]}")  # fmt: skip

            call()
            timings[operation.label] = round(time.monotonic() - began, 1)
    print(f"fuzzed {len(timings)}/{len(operations)} operations: {timings}")
    assert len(timings) >= len(operations) * 0.8, f"the time budget covered only {sorted(timings)}"
    assert not failures, "\n".join(failures) + f"\n{timings}"
    assert audit.verify_chain(db).ok
