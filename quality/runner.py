"""Validate one landed penalty batch (its partition of raw.penalty_row) with the Great Expectations suite.

GX runs inside PostgreSQL. Built once per process and warehouse URL: an ephemeral context (nothing
written to disk), a SQL datasource on one static connection, a table asset on a temporary view of that
session, and the suite. Each call points the view at the batch (``WHERE batch_id = '<uuid>'``, empty
strings read as NULL), validates (two passes, see ``_validate_in_two_passes``) with result format
COMPLETE keyed by ``source_row`` for whatever failed, and maps every unexpected row back to its rule.
GX_ANALYTICS_ENABLED is forced off before GX is imported: the hub must not phone home.
"""

from __future__ import annotations

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"  # the hub must not phone home

import copy  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import great_expectations as gx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

from connectors.penalties import PENALTY_FIELDS  # noqa: E402
from ggzy.errors import HubError  # noqa: E402
from ggzy.identifiers import mask_id_number  # noqa: E402
from quality.expectations import ExpectNoUnexpectedRows  # noqa: E402
from quality.rules import ERROR, ID_NUMBER_FIELDS, RULES_BY_NAME, WARNING  # noqa: E402
from quality.suites import configure_penalty_suite  # noqa: E402

log = logging.getLogger(__name__)

# GX logs chattily at INFO (metric bundles, reflection fallbacks); keep warnings and errors only.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

INDEX_COLUMN = "source_row"


@dataclass
class RuleFailure:
    """One rule one row failed: rule name, field, severity, the value received and bilingual messages."""

    rule: str
    field: str | None
    severity: str
    value: str | None
    zh: str
    en: str


@dataclass
class ValidationOutcome:
    """Every rule failure of a batch, by source row, and how the GX run went."""

    failures: dict[int, list[RuleFailure]] = field(default_factory=dict)
    expectations_run: int = 0
    gx_success: bool = True
    run_seconds: float = 0.0

    def error_rows(self) -> set[int]:
        """Rows with at least one error-severity failure (to be quarantined)."""
        return {row for row, fs in self.failures.items() if any(f.severity == ERROR for f in fs)}

    def warning_rules(self, row: int) -> list[str]:
        """Names of the warning-severity rules a row failed (the flags it is loaded with)."""
        return [f.rule for f in self.failures.get(row, []) if f.severity == WARNING]


@dataclass
class _GxWarehouse:
    """The per-process GX objects for one warehouse URL; the lock serialises their use."""

    context: Any
    datasource: Any
    batch_definition: Any
    suite: gx.ExpectationSuite
    lock: threading.Lock = field(default_factory=threading.Lock)


_warehouses: dict[str, _GxWarehouse] = {}
_warehouses_lock = threading.Lock()

# The batch under validation, as a temporary view on GX's own (single, static) connection: the GX asset
# is a plain table asset on it, built once per process; each validation re-points the view at one
# partition of raw.penalty_row. (A GX query asset would re-run the whole query to learn its columns.)
BATCH_VIEW = "ggzy_penalty_batch"


def batch_query(batch_id: str) -> str:
    """The SELECT that is the batch for GX: one partition of raw.penalty_row, empty text read as NULL.

    (Cells arrive trimmed from the connector, so '' is the only blank form; no btrim, which would make
    PostgreSQL refuse to inline quality.uscc_check_digit_ok and cost seconds per million rows.)
    """
    checked = uuid.UUID(str(batch_id))  # also guards the literal below
    fields = ", ".join(f"NULLIF({f}, '') AS {f}" for f in PENALTY_FIELDS)
    return f"SELECT source_row, source_format, {fields} FROM raw.penalty_row WHERE batch_id = '{checked}'"


def _point_view_at(gx_engine: sa.Engine, batch_id: str) -> None:
    """(Re)define the batch view in the session of one of GX's single-connection engines (committed)."""
    with gx_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE OR REPLACE TEMPORARY VIEW {BATCH_VIEW} AS {batch_query(batch_id)}"))


def warehouse_datasource(url: str, name: str) -> tuple[Any, Any]:
    """An ephemeral GX context (no progress bars) with one SQL datasource on the warehouse; (context, datasource).

    add_postgres validates the URL as a network DSN and refuses the embedded server's unix-socket URL; the
    generic SQL datasource drives the same SQLAlchemy engine and PostgreSQL dialect. One static connection:
    the temporary batch views live in that session.
    """
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
        datasource = context.data_sources.add_sql(
            name=name, connection_string=url, kwargs={"poolclass": sa.pool.StaticPool}
        )
    return context, datasource


def _gx_for(engine: sa.Engine, batch_id: str) -> _GxWarehouse:
    """The cached ephemeral context, datasource, asset and suite for the engine's database."""
    url = engine.url.render_as_string(hide_password=False)
    with _warehouses_lock:
        found = _warehouses.get(url)
        if found is None:
            context, datasource = warehouse_datasource(url, "warehouse")
            # The datasource probes a new asset on its own engine; metrics run on the execution engine's.
            _point_view_at(datasource.get_engine(), batch_id)
            _point_view_at(datasource.get_execution_engine().engine, batch_id)
            asset = datasource.add_table_asset(name="penalty_batch", table_name=BATCH_VIEW)
            found = _GxWarehouse(
                context=context,
                datasource=datasource,
                batch_definition=asset.add_batch_definition_whole_table("staged_batch"),
                suite=configure_penalty_suite(context),
            )
            _warehouses[url] = found
        return found


def _forget(engine: sa.Engine) -> None:
    """Drop the cached GX objects for engine (after a connection failure they are rebuilt on next use)."""
    with _warehouses_lock:
        found = _warehouses.pop(engine.url.render_as_string(hide_password=False), None)
    if found is not None:
        found.datasource.get_engine().dispose()
        found.datasource.get_execution_engine().engine.dispose()


def validate_penalty_batch(engine: sa.Engine, batch_id: str) -> ValidationOutcome:
    """Run every penalty rule on one staged batch; returns each failing row's rules, values and messages."""
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.scalar(
            sa.text("SELECT count(*) FROM raw.penalty_row WHERE batch_id = :b"),
            {"b": str(uuid.UUID(str(batch_id)))},
        )
    warehouse = _gx_for(engine, batch_id)
    try:
        with warehouse.lock:
            _point_view_at(warehouse.datasource.get_execution_engine().engine, batch_id)
            batch = warehouse.batch_definition.get_batch()
            results = _validate_in_two_passes(batch, warehouse.suite, rows=int(rows or 0))
        outcome = ValidationOutcome(
            expectations_run=len(results), gx_success=all(r.success for r in results.values())
        )
        for expectation_result in results.values():
            _collect(outcome, expectation_result)
    except Exception:
        _forget(engine)  # e.g. a dropped connection: rebuild the cached GX objects on the next call
        raise
    for failures in outcome.failures.values():
        failures.sort(key=lambda f: (f.severity != ERROR, f.rule))
    outcome.run_seconds = time.perf_counter() - started
    log.info(
        "validated batch %s: %s rows, %s expectations, %s rows failing, %.2fs",
        batch_id,
        rows,
        outcome.expectations_run,
        len(outcome.failures),
        outcome.run_seconds,
    )
    return outcome


def _validate_in_two_passes(batch: Any, suite: gx.ExpectationSuite, *, rows: int) -> dict[str, Any]:
    """Each expectation's result by rule name, with every unexpected row of the failed ones.

    Column-map expectations first run as BOOLEAN_ONLY: GX then bundles all their counts into one
    query per row condition. Only those that failed run again with COMPLETE, which costs two more
    scans each (unexpected values and the source_row index list). The SQL rules return their rows
    in one query and run once, with COMPLETE.
    """
    sql_rules = [e for e in suite.expectations if isinstance(e, ExpectNoUnexpectedRows)]
    map_rules = [e for e in suite.expectations if not isinstance(e, ExpectNoUnexpectedRows)]
    complete = {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": [INDEX_COLUMN],
        # GX truncates the unexpected index list to this count; every failing row must come back.
        "partial_unexpected_count": max(rows, 1),
        "return_unexpected_index_query": False,
    }

    def run(expectations: list, result_format: dict) -> dict[str, Any]:
        if not expectations:
            return {}
        part = gx.ExpectationSuite(
            name=f"{suite.name}_part", expectations=[copy.copy(e) for e in expectations]
        )
        validated = batch.validate(part, result_format=result_format)
        return {r.expectation_config.meta["rule"]: r for r in validated.results}

    results = run(sql_rules, complete)
    screened = run(map_rules, {"result_format": "BOOLEAN_ONLY"})
    results.update(screened)
    failed = [e for e in map_rules if not screened[e.meta["rule"]].success]
    results.update(run(failed, complete))
    return results


def _raised_exception(info: Any) -> str | None:
    """The message of an exception GX caught while running an expectation (flat or per metric), if any."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return str(nested.get("exception_message"))
    return None


def ensure_rule_ran(expectation_result: Any) -> str:
    """The rule name of an expectation result; fails closed (HubError) when GX could not run the rule."""
    rule_name = (expectation_result.expectation_config.meta or {}).get("rule")
    message = _raised_exception(expectation_result.exception_info)
    if message is not None:  # a rule that could not run must not pass rows
        raise HubError(
            "validation_error",
            f"数据校验规则 {rule_name} 无法执行：{message}",
            f"Validation rule {rule_name} could not run: {message}",
            status_code=500,
            detail={"rule": rule_name},
        )
    return rule_name


def _collect(outcome: ValidationOutcome, expectation_result: Any) -> None:
    """Add one expectation's unexpected rows to the outcome as failures of its rule."""
    rule_name = ensure_rule_ran(expectation_result)
    if expectation_result.success:
        return
    rule = RULES_BY_NAME[rule_name]
    result = expectation_result.result or {}
    if "details" in result:  # ExpectNoUnexpectedRows: the rows its SQL returned
        unexpected = result["details"]["unexpected_rows"]
    else:  # column map expectations: source_row plus the column's value
        unexpected = result.get("unexpected_index_list") or []
    for row in unexpected:
        value = row.get(rule.field) if rule.field else None
        if rule.field in ID_NUMBER_FIELDS:  # personal ID numbers never leave the warehouse unmasked
            value = mask_id_number(value)
        shown = {**row, rule.field: value} if rule.field else dict(row)
        zh, en = rule.render(None if value is None else str(value), shown)
        source_row = int(row[INDEX_COLUMN])
        outcome.failures.setdefault(source_row, []).append(
            RuleFailure(
                rule=rule.name,
                field=rule.field,
                severity=rule.severity,
                value=None if value is None else str(value),
                zh=zh,
                en=en,
            )
        )
