"""Validate one staged batch of a credit list with its Great Expectations suite (quality/credit_rules.py).

The same mechanism as quality/runner.py for penalties: GX runs inside PostgreSQL through an ephemeral
context with one static connection per warehouse URL; each list has a table asset on a temporary view
that each call re-points at one batch of raw.credit_row; two passes (quality.runner._validate_in_two_passes);
every unexpected row maps back to its rule; a rule that cannot run fails closed.
"""

from __future__ import annotations

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"  # the hub must not phone home

import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import great_expectations as gx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from ggzy.identifiers import mask_id_number  # noqa: E402
from quality.credit_rules import LIST_SPECS, configure_credit_suite, rules_for  # noqa: E402
from quality.rules import ERROR  # noqa: E402
from quality.runner import (  # noqa: E402
    INDEX_COLUMN,
    RuleFailure,
    ValidationOutcome,
    _validate_in_two_passes,
    ensure_rule_ran,
    warehouse_datasource,
)

PERSONAL_ID_FIELDS = ("card_num",)
_NO_BATCH = "00000000-0000-0000-0000-000000000000"


@dataclass
class _CreditGx:
    context: Any
    datasource: Any
    batch_definitions: dict[str, Any]
    suites: dict[str, gx.ExpectationSuite]
    lock: threading.Lock = field(default_factory=threading.Lock)


_contexts: dict[str, _CreditGx] = {}
_contexts_lock = threading.Lock()


def _point_view(gx_engine: sa.Engine, list_name: str, batch_id: str) -> None:
    spec = LIST_SPECS[list_name]
    with gx_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE OR REPLACE TEMPORARY VIEW {spec.view} AS {spec.batch_query(batch_id)}"))


def _engines(datasource: Any) -> tuple[sa.Engine, sa.Engine]:
    return datasource.get_engine(), datasource.get_execution_engine().engine


def _gx_for(engine: sa.Engine) -> _CreditGx:
    url = engine.url.render_as_string(hide_password=False)
    with _contexts_lock:
        found = _contexts.get(url)
        if found is None:
            context, datasource = warehouse_datasource(url, "warehouse_credit")
            definitions, suites = {}, {}
            for name, spec in LIST_SPECS.items():
                for gx_engine in _engines(datasource):
                    _point_view(gx_engine, name, _NO_BATCH)
                asset = datasource.add_table_asset(name=f"credit_{name}", table_name=spec.view)
                definitions[name] = asset.add_batch_definition_whole_table(f"credit_{name}_batch")
                suites[name] = configure_credit_suite(context, name)
            found = _CreditGx(context, datasource, definitions, suites)
            _contexts[url] = found
        return found


def _forget(engine: sa.Engine) -> None:
    with _contexts_lock:
        found = _contexts.pop(engine.url.render_as_string(hide_password=False), None)
    if found is not None:
        for gx_engine in _engines(found.datasource):
            gx_engine.dispose()


def validate_credit_batch(engine: sa.Engine, list_name: str, batch_id: str) -> ValidationOutcome:
    """Run every rule of list_name on one staged batch; returns each failing row's rules and messages."""
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.scalar(
            sa.text("SELECT count(*) FROM raw.credit_row WHERE batch_id = :b"), {"b": str(uuid.UUID(str(batch_id)))}
        )
    warehouse = _gx_for(engine)
    rules = rules_for(list_name)
    try:
        with warehouse.lock:
            _point_view(warehouse.datasource.get_execution_engine().engine, list_name, batch_id)
            batch = warehouse.batch_definitions[list_name].get_batch()
            results = _validate_in_two_passes(batch, warehouse.suites[list_name], rows=int(rows or 0))
        outcome = ValidationOutcome(expectations_run=len(results), gx_success=all(r.success for r in results.values()))
        for result in results.values():
            _collect(outcome, result, rules)
    except Exception:
        _forget(engine)
        raise
    for failures in outcome.failures.values():
        failures.sort(key=lambda f: (f.severity != ERROR, f.rule))
    outcome.run_seconds = time.perf_counter() - started
    return outcome


def _collect(outcome: ValidationOutcome, result: Any, rules: dict) -> None:
    """Add one expectation's unexpected rows to the outcome as failures of its rule."""
    rule_name = ensure_rule_ran(result)
    if result.success:
        return
    rule = rules[rule_name]
    body = result.result or {}
    unexpected = body["details"]["unexpected_rows"] if "details" in body else (body.get("unexpected_index_list") or [])
    for row in unexpected:
        value = row.get(rule.field) if rule.field else None
        if rule.field in PERSONAL_ID_FIELDS:
            value = mask_id_number(value)
        shown = {**row, rule.field: value} if rule.field else dict(row)
        zh, en = rule.render(None if value is None else str(value), shown)
        outcome.failures.setdefault(int(row[INDEX_COLUMN]), []).append(
            RuleFailure(rule=rule.name, field=rule.field, severity=rule.severity,
                        value=None if value is None else str(value), zh=zh, en=en)  # fmt: skip
        )
