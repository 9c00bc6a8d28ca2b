"""Custom Great Expectations 1.x expectations for Chinese identifiers and dates, each with a pandas and a
SQLAlchemy implementation (GX picks the one matching the batch's execution engine).

- ``ExpectColumnValuesToHaveValidUsccCheckDigit``: GB 32100 check character; the SQL side calls
  ``quality.uscc_check_digit_ok`` (migration 0001), the pandas side ``ggzy.identifiers``. Values that are
  not USCC-shaped pass (the format rule reports them) and so does the 个体工商户 placeholder ("no code").
- ``ExpectColumnValuesToHaveValidIdNumberCheckDigit``: GB 11643 check character of unmasked 18-character
  citizen ID numbers; masked, 15-digit and other documents pass.
- ``ExpectColumnValuesToBeIsoDates``: YYYY-MM-DD and a real calendar date.
- ``ExpectNoUnexpectedRows``: ``UnexpectedRowsExpectation`` that returns *every* unexpected row (the
  built-in keeps the first 200) and runs its query once instead of twice.

Importing this module registers the expectations and their metrics with GX.
"""

from __future__ import annotations

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"  # the hub must not phone home

import re  # noqa: E402
from datetime import date  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

import pandas as pd  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine  # noqa: E402
from great_expectations.expectations import UnexpectedRowsExpectation  # noqa: E402
from great_expectations.expectations.expectation import ColumnMapExpectation  # noqa: E402
from great_expectations.expectations.metrics.map_metric_provider import (  # noqa: E402
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.expectations.metrics.query_metrics.query_table.query_table import QueryTable  # noqa: E402

from ggzy.identifiers import (  # noqa: E402
    ID18_RE,
    ID_CHECK,
    ID_WEIGHTS,
    USCC_PLACEHOLDER,
    id_number_ok,
    is_uscc_placeholder,
    uscc_check_digit_ok,
    uscc_format_ok,
)

# A real calendar date needs the shape first; year 0000 does not exist.
ISO_DATE_SHAPE = r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_ISO_DATE_RE = re.compile(ISO_DATE_SHAPE)


def uscc_check_digit_acceptable(code: str) -> bool:
    """The check-digit rule's verdict on one value: the placeholder and non-USCC shapes are not its business."""
    return is_uscc_placeholder(code) or not uscc_format_ok(code) or uscc_check_digit_ok(code)


def id_number_check_digit_acceptable(number: str) -> bool:
    """The ID check-digit rule's verdict: only unmasked 18-character numbers are checked."""
    return not ID18_RE.match(number.upper()) or id_number_ok(number)


def is_iso_date(value: str) -> bool:
    """True for a YYYY-MM-DD string naming a real calendar date."""
    if not _ISO_DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


class ColumnValuesUsccCheckDigitOk(ColumnMapMetricProvider):
    """Metric: the USCC check character is right (or the value is the placeholder / not USCC-shaped)."""

    condition_metric_name = "column_values.ggzy_uscc_check_digit_ok"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.astype(str).map(uscc_check_digit_acceptable)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column: Any, _table: Any, **kwargs: Any) -> Any:
        # quality.uscc_check_digit_ok is NULL for a value that is not USCC-shaped (the format rule's case),
        # and NOT NULL is not true: such values, and the placeholder, are never among the failing codes.
        # The check costs ~2.4 us a call and a batch names each bidder many times: it runs once per distinct
        # code, and each row is only looked up (a hashed subplan) among the codes that failed it. The check
        # is on min(code) in HAVING, the one value of its group: on the bare column PostgreSQL would move it
        # into WHERE, before the grouping, and call it for every row again. A bare column name in the
        # subquery resolves to the subquery's own alias of the batch (GX's selectable may not carry columns).
        code = sa.column(column.name)
        failing = (
            sa.select(code)
            .select_from(_table.alias())
            .where(code != USCC_PLACEHOLDER)
            .group_by(code)
            .having(sa.not_(sa.func.quality.uscc_check_digit_ok(sa.func.min(code))))
        )
        return column.not_in(failing)


class ExpectColumnValuesToHaveValidUsccCheckDigit(ColumnMapExpectation):
    """Expect the 18th character of each unified social credit code to be its GB 32100 check character."""

    map_metric = "column_values.ggzy_uscc_check_digit_ok"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = {
        "tags": ["ggzy", "identifiers"],
        "contributors": ["ggzy-hub"],
    }


def _id_number_check_digit_sql(column: Any) -> Any:
    """GB 11643 in SQL: sum(digit * weight) mod 11 indexes the check string '10X98765432'."""
    total = sum(sa.cast(sa.func.substr(column, i + 1, 1), sa.Integer) * w for i, w in enumerate(ID_WEIGHTS))
    expected = sa.func.substr(sa.literal(ID_CHECK), sa.func.mod(total, 11) + 1, 1)
    shaped = sa.func.upper(column).op("~")(ID18_RE.pattern)
    return sa.case((shaped, expected == sa.func.upper(sa.func.substr(column, 18, 1))), else_=sa.true())


class ColumnValuesIdNumberCheckDigitOk(ColumnMapMetricProvider):
    """Metric: an unmasked 18-character citizen ID number carries its GB 11643 check character."""

    condition_metric_name = "column_values.ggzy_id_number_check_digit_ok"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.astype(str).map(id_number_check_digit_acceptable)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column: Any, **kwargs: Any) -> Any:
        return _id_number_check_digit_sql(column)


class ExpectColumnValuesToHaveValidIdNumberCheckDigit(ColumnMapExpectation):
    """Expect unmasked 18-character citizen ID numbers to carry the right GB 11643 check character."""

    map_metric = "column_values.ggzy_id_number_check_digit_ok"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = {
        "tags": ["ggzy", "identifiers"],
        "contributors": ["ggzy-hub"],
    }


def iso_date_shape_sql(column: Any) -> Any:
    """SQL: the value looks like YYYY-MM-DD (LIKE + translate: several times cheaper than a regex)."""
    return sa.and_(column.like("____-__-__"), sa.func.translate(column, "0123456789", "") == "--")


def _iso_date_sql(column: Any) -> Any:
    """SQL: YYYY-MM-DD naming a real day (month 1-12, day within the month, leap years per Gregorian rule)."""

    def part(start: int, length: int) -> Any:
        return sa.cast(sa.func.substr(column, start, length), sa.Integer)

    year, month, day = part(1, 4), part(6, 2), part(9, 2)
    leap = sa.and_(year % 4 == 0, sa.or_(year % 100 != 0, year % 400 == 0))
    last_day = sa.case((month == 2, sa.case((leap, 29), else_=28)), (month.in_([4, 6, 9, 11]), 30), else_=31)
    # CASE guards the casts: they run only on values of the right shape.
    return sa.case(
        (iso_date_shape_sql(column), sa.and_(year > 0, month.between(1, 12), day.between(1, last_day))),
        else_=sa.false(),
    )


class ColumnValuesIsoDate(ColumnMapMetricProvider):
    """Metric: the value is a YYYY-MM-DD string naming a real calendar date."""

    condition_metric_name = "column_values.ggzy_iso_date"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.astype(str).map(is_iso_date)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column: Any, **kwargs: Any) -> Any:
        return _iso_date_sql(column)


class ExpectColumnValuesToBeIsoDates(ColumnMapExpectation):
    """Expect every value to be an ISO date (YYYY-MM-DD) that exists in the calendar (no 2023-02-30)."""

    map_metric = "column_values.ggzy_iso_date"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["ggzy", "dates"], "contributors": ["ggzy-hub"]}


class AllUnexpectedRowsQueryTable(QueryTable):
    """Metric: every row the unexpected-rows query returns (the built-in metric stops at 200)."""

    metric_name = "ggzy_unexpected_rows_query.all_rows"
    value_keys = ("unexpected_rows_query", "fetch_all")
    default_kwarg_values: ClassVar[dict] = {"fetch_all": True}
    query_param_name: ClassVar[str] = "unexpected_rows_query"


class ExpectNoUnexpectedRows(UnexpectedRowsExpectation):
    """UnexpectedRowsExpectation that reports every unexpected row, so a large batch quarantines them all."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("ggzy_unexpected_rows_query.all_rows",)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict:
        rows = metrics["ggzy_unexpected_rows_query.all_rows"]
        return {
            "success": not rows,
            "result": {"observed_value": len(rows), "details": {"unexpected_rows": rows}},
        }
