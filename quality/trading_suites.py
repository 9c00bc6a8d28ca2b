"""Great Expectations suites for trading batches, one per dataset, built from quality.trading_rules.

Validation reuses the penalty runner's mechanism (quality.runner): GX runs inside PostgreSQL on a
temporary table holding one batch's partition of raw.trading_row (spec fields extracted from the jsonb record,
named in lower case, '' read as NULL), column-map rules screened in one bundled pass and re-run in
COMPLETE only when they failed, SQL rules returning their rows once; every failing row maps back to its
rule by ``meta['rule']``. A rule that cannot run fails the validation (fail closed).
"""

from __future__ import annotations

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"  # the hub must not phone home

import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
import pandas as pd  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine  # noqa: E402
from great_expectations.expectations.expectation import ColumnMapExpectation  # noqa: E402
from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: E402
from great_expectations.expectations.metrics.map_metric_provider import (  # noqa: E402
    ColumnMapMetricProvider,
    column_condition_partial,
)

from quality.expectations import ExpectColumnValuesToHaveValidUsccCheckDigit, ExpectNoUnexpectedRows  # noqa: E402
from quality.runner import (  # noqa: E402
    INDEX_COLUMN,
    RuleFailure,
    ValidationOutcome,
    _validate_in_two_passes,
    ensure_rule_ran,
    warehouse_datasource,
)
from quality.trading_rules import ERROR, WARNING, CoreTable, TradingRule, rule_columns, trading_rules  # noqa: E402


def _is_spec_time(value: str, digits: int) -> bool:
    from datetime import datetime

    if len(value) != digits or not value.isdigit():
        return False
    try:
        datetime.strptime(value, "%Y%m%d%H%M%S" if digits == 14 else "%Y%m%d")
    except ValueError:
        return False
    return True


class ColumnValuesSpecTime(ColumnMapMetricProvider):
    """Metric: yyyyMMddHHmmss (or yyyyMMdd) naming a real moment (core.spec_time on the SQL side)."""

    condition_metric_name = "column_values.ggzy_spec_time"
    condition_value_keys = ("digits",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, digits: int = 14, **kwargs: Any) -> pd.Series:
        return column.astype(str).map(lambda v: _is_spec_time(v, digits))

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column: Any, digits: int = 14, **kwargs: Any) -> Any:
        return sa.and_(sa.func.length(column) == digits, sa.func.core.spec_time(column).isnot(None))


class ExpectColumnValuesToBeSpecTimes(ColumnMapExpectation):
    """Expect every value to be a spec time: yyyyMMddHHmmss (digits=14) or yyyyMMdd (digits=8), a real moment."""

    map_metric = "column_values.ggzy_spec_time"
    success_keys = ("mostly", "digits")
    digits: int = 14
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["ggzy", "dates"], "contributors": ["ggzy-hub"]}


def _expectation(rule: TradingRule) -> Any:
    """The GX expectation checking one rule (meta['rule'] carries the rule name back)."""
    column = rule.params.get("column", rule.field)
    column = column.lower() if column else None
    common = {
        "meta": {"rule": rule.name},
        "severity": FailureSeverity.WARNING if rule.severity == WARNING else FailureSeverity.CRITICAL,
    }
    if rule.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=column, **common)
    if rule.kind == "length":
        return gxe.ExpectColumnValueLengthsToEqual(column=column, value=rule.params["length"], **common)
    if rule.kind == "regex":
        return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=rule.params["regex"], **common)
    if rule.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(rule.params["values"]), **common)
    if rule.kind == "spec_time":
        return ExpectColumnValuesToBeSpecTimes(column=column, digits=rule.params["digits"], **common)
    if rule.kind == "uscc_check":
        return ExpectColumnValuesToHaveValidUsccCheckDigit(column=column, **common)
    if rule.kind == "sql":
        return ExpectNoUnexpectedRows(unexpected_rows_query=rule.params["query"], **common)
    raise ValueError(f"unknown rule kind {rule.kind}")


def build_suite(
    table: CoreTable, key_fields: tuple[str, ...]
) -> tuple[gx.ExpectationSuite, dict[str, TradingRule]]:
    """The GX suite of one dataset and its rules by name."""
    rules = trading_rules(table, key_fields)
    suite = gx.ExpectationSuite(name=f"trading_{table.code}", expectations=[_expectation(r) for r in rules])
    return suite, {r.name: r for r in rules}


def batch_view(code: str) -> str:
    """Name of the temporary table GX reads one batch of a dataset through."""
    return f"ggzy_trading_{code}"


def batch_query(batch_id: str, fields: list[str]) -> str:
    """One batch's staged records with each spec field as a lower-case text column ('' read as NULL)."""
    checked = uuid.UUID(str(batch_id))
    columns = ", ".join(f"NULLIF(record->>'{f}', '') AS {f.lower()}" for f in fields)
    return f"SELECT source_row, {columns} FROM raw.trading_row WHERE batch_id = '{checked}'"


@dataclass
class _GxTrading:
    context: Any
    datasource: Any
    definitions: dict[str, Any] = field(default_factory=dict)
    suites: dict[str, tuple[gx.ExpectationSuite, dict[str, TradingRule]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_contexts: dict[str, _GxTrading] = {}
_contexts_lock = threading.Lock()


def _point_view(
    gx_engine: sa.Engine, code: str, batch_id: str, fields: list[str], *, shape_only: bool = False
) -> None:
    """(Re)fill the batch's temporary table in the session of one of GX's single-connection engines.

    A temporary table rather than a view: the fields are extracted from jsonb once, not once per rule.
    `shape_only` creates it empty: enough for GX to learn the asset's columns.
    """
    fill = " WITH NO DATA" if shape_only else ""
    with gx_engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {batch_view(code)}"))
        conn.execute(
            sa.text(f"CREATE TEMPORARY TABLE {batch_view(code)} AS {batch_query(batch_id, fields)}{fill}")
        )


def _gx_for(
    engine: sa.Engine, table: CoreTable, key_fields: tuple[str, ...], batch_id: str
) -> tuple[_GxTrading, Any]:
    """The cached GX context for the warehouse, with this dataset's asset and suite added on first use."""
    url = engine.url.render_as_string(hide_password=False)
    with _contexts_lock:
        found = _contexts.get(url)
        if found is None:
            context, datasource = warehouse_datasource(url, "trading_warehouse")
            found = _contexts[url] = _GxTrading(context, datasource)
        if table.code not in found.definitions:
            found.suites[table.code] = build_suite(table, key_fields)
            fields = _view_fields(table, key_fields, found.suites[table.code][1])
            # Empty tables: the asset only needs the columns; validation fills the execution engine's.
            for gx_engine in (found.datasource.get_engine(), found.datasource.get_execution_engine().engine):
                _point_view(gx_engine, table.code, batch_id, fields, shape_only=True)
            asset = found.datasource.add_table_asset(
                name=f"trading_{table.code}", table_name=batch_view(table.code)
            )
            found.definitions[table.code] = asset.add_batch_definition_whole_table("staged")
        return found, found.definitions[table.code]


def _view_fields(table: CoreTable, key_fields: tuple[str, ...], rules: dict[str, TradingRule]) -> list[str]:
    """The staged fields the batch view exposes: key, mapped and rule-read fields."""
    return list(dict.fromkeys((*key_fields, *table.fields(), *rule_columns(list(rules.values())))))


def _forget(engine: sa.Engine) -> None:
    with _contexts_lock:
        found = _contexts.pop(engine.url.render_as_string(hide_password=False), None)
    if found is not None:
        found.datasource.get_engine().dispose()
        found.datasource.get_execution_engine().engine.dispose()


KeyLookup = Callable[[list[int]], dict[int, str]]  # source rows -> their natural keys


def validate_trading_batch(
    engine: sa.Engine, table: CoreTable, key_fields: tuple[str, ...], batch_id: str, keys_of: KeyLookup
) -> ValidationOutcome:
    """Run every rule of the dataset on one staged batch; failures carry messages naming the record key.

    Natural keys are looked up (`keys_of`) for the failing rows only, not for the whole batch.
    """
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.scalar(
            sa.text("SELECT count(*) FROM raw.trading_row WHERE batch_id = :b"), {"b": str(batch_id)}
        )
    warehouse, definition = _gx_for(engine, table, key_fields, batch_id)
    fields = _view_fields(table, key_fields, warehouse.suites[table.code][1])
    try:
        with warehouse.lock:
            _point_view(warehouse.datasource.get_execution_engine().engine, table.code, batch_id, fields)
            suite, rules = warehouse.suites[table.code]
            results = _validate_in_two_passes(definition.get_batch(), suite, rows=int(rows or 0))
    except Exception:
        _forget(engine)
        raise
    outcome = ValidationOutcome(
        expectations_run=len(results), gx_success=all(r.success for r in results.values())
    )
    failing = {int(row[INDEX_COLUMN]) for r in results.values() if not r.success for row in _unexpected(r)}
    keys = keys_of(sorted(failing)) if failing else {}
    for result in results.values():
        _collect(outcome, result, rules, table.table, keys)
    for failures in outcome.failures.values():
        failures.sort(key=lambda f: (f.severity != ERROR, f.rule))
    outcome.run_seconds = time.perf_counter() - started
    return outcome


def _unexpected(result: Any) -> list[dict[str, Any]]:
    """An expectation's unexpected rows: a SQL rule's returned rows, or a column map's index list."""
    body = result.result or {}
    if "details" in body:
        return body["details"]["unexpected_rows"]
    return body.get("unexpected_index_list") or []


def _collect(
    outcome: ValidationOutcome, result: Any, rules: dict[str, TradingRule], table: str, keys: dict[int, str]
) -> None:
    """Add one expectation's unexpected rows to the outcome as failures of its rule."""
    name = ensure_rule_ran(result)
    if result.success:
        return
    rule = rules[name]
    unexpected = _unexpected(result)
    column = rule.params.get("column", rule.field)
    column = column.lower() if column else None
    for row in unexpected:
        value = row.get(column) if column else None
        source_row = int(row[INDEX_COLUMN])
        zh, en = rule.render(table, keys.get(source_row), None if value is None else str(value), row)
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
