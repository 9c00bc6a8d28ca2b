"""Expectation suites as code: every rule of quality/rules.py as a Great Expectations 1.x expectation.

Each expectation carries its rule name in ``meta['rule']`` so validation results map back to the
catalogue, and the rule's severity as GX ``severity``. The suites expect the batch columns the runner
selects: ``source_row``, ``source_format`` and the 30 CF fields with empty strings already turned into
NULL (so the built-in not-null check treats '' as missing). Cross-field and cross-row rules are SQL
(``ExpectNoUnexpectedRows``) over ``{batch}``; those queries select ``source_row`` and the columns their
messages mention.
"""

from __future__ import annotations

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"  # the hub must not phone home

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: E402
from great_expectations.expectations.row_conditions import Column  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from ggzy.identifiers import USCC_PLACEHOLDER  # noqa: E402
from quality.expectations import (  # noqa: E402
    ExpectColumnValuesToBeIsoDates,
    ExpectColumnValuesToHaveValidIdNumberCheckDigit,
    ExpectColumnValuesToHaveValidUsccCheckDigit,
    ExpectNoUnexpectedRows,
    iso_date_shape_sql,
)
from quality.rules import (  # noqa: E402
    AMOUNT_FIELDS,
    AMOUNT_PATTERN,
    CATEGORY_SEPARATORS,
    DATE_FIELDS,
    FINE,
    ID_NUMBER_FIELDS,
    NATURAL_PERSON,
    NEGATIVE_AMOUNT_PATTERN,
    NOT_REQUIRED_FOR_LEGACY,
    ORGANISATION,
    PARTY_CATEGORIES,
    PENALTY_CATEGORIES,
    REAL_USCC_PATTERN,
    REQUIRED_FIELDS,
    RULES,
    UNSPLIT_CATEGORY,
    USCC_FIELDS,
    USCC_PATTERN,
    WARNING,
    Rule,
    rule,
)

PENALTY_SUITE = "penalty_row"


def _literal(text: str) -> str:
    """A SQL string literal safe inside an unexpected_rows_query (quotes doubled, braces escaped for GX)."""
    return "'" + text.replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"


def _categories_sql(column: str) -> str:
    """The non-empty items of a multi-valued 处罚类别 column, as a set-returning SQL expression."""
    # UNSPLIT_CATEGORY contains '、' itself: read it as 其他 (its meaning) so the split keeps it whole.
    return (
        f"regexp_split_to_table(replace(btrim({column}), {_literal(UNSPLIT_CATEGORY)}, {_literal('其他')}),"
        f" {_literal(CATEGORY_SEPARATORS)})"
    )


def _is_date(column: str) -> str:
    """SQL text: the column has the YYYY-MM-DD shape (date_format reports impossible days)."""
    shape = iso_date_shape_sql(sa.column(column))
    sql = str(shape.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return "(" + sql.replace("{", "{{").replace("}", "}}") + ")"


def _vocabulary_array() -> str:
    return "ARRAY[" + ", ".join(_literal(c) for c in PENALTY_CATEGORIES) + "]::text[]"


# Every cross-field / cross-row rule as one SQL query over the batch; each selects source_row plus the
# columns its rule's message uses. YYYY-MM-DD text compares like the dates it names (COLLATE "C").
RULE_QUERIES: dict[str, str] = {
    "vocabulary:cf_cflb": f"""
        SELECT source_row, cf_cflb FROM {{batch}}
        WHERE cf_cflb IS NOT NULL AND cf_cflb <> ALL ({_vocabulary_array()}) AND (
            EXISTS (SELECT 1 FROM {_categories_sql("cf_cflb")} AS item
                    WHERE btrim(item) <> '' AND btrim(item) <> ALL ({_vocabulary_array()}))
            OR NOT EXISTS (SELECT 1 FROM {_categories_sql("cf_cflb")} AS item WHERE btrim(item) <> ''))
    """,
    "date_order:decision_after_validity": f"""
        SELECT source_row, cf_jdrq, cf_yxq FROM {{batch}}
        WHERE {_is_date("cf_jdrq")} AND {_is_date("cf_yxq")} AND cf_jdrq COLLATE "C" > cf_yxq COLLATE "C"
    """,
    "date_order:publicity_before_decision": f"""
        SELECT source_row, cf_gsjzq, cf_jdrq FROM {{batch}}
        WHERE {_is_date("cf_jdrq")} AND {_is_date("cf_gsjzq")} AND cf_gsjzq COLLATE "C" < cf_jdrq COLLATE "C"
    """,
    # "Today" is the day in China, whatever the server's time zone.
    "date_future:cf_jdrq": f"""
        SELECT source_row, cf_jdrq FROM {{batch}}
        WHERE {_is_date("cf_jdrq")}
          AND cf_jdrq COLLATE "C" > to_char((now() AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM-DD')
    """,
    "fine_requires_amount": f"""
        SELECT source_row, cf_cflb, cf_nr_fk FROM {{batch}}
        WHERE EXISTS (SELECT 1 FROM {_categories_sql("cf_cflb")} AS item WHERE btrim(item) = {_literal(FINE)})
          AND (cf_nr_fk IS NULL
               OR CASE WHEN cf_nr_fk ~ {_literal(AMOUNT_PATTERN)} THEN cf_nr_fk::numeric = 0 ELSE false END)
    """,
    # Exact duplicate rows were removed before staging: rows left sharing a key differ in content.
    "decision_no_unique_per_authority": """
        SELECT source_row, cf_wsh, cf_cfjgdm, other_rows FROM (
            SELECT source_row, cf_wsh, cf_cfjgdm,
                   count(*) OVER w AS n,
                   array_to_string(array_remove(array_agg(source_row) OVER w, source_row), ', ') AS other_rows
            FROM {batch}
            WHERE cf_cfjgdm IS NOT NULL AND cf_wsh IS NOT NULL
            WINDOW w AS (PARTITION BY cf_cfjgdm, cf_wsh)
        ) AS keyed
        WHERE n > 1
    """,
}


def _severity(r: Rule) -> FailureSeverity:
    return FailureSeverity.WARNING if r.severity == WARNING else FailureSeverity.CRITICAL


def _for(name: str) -> dict:
    """The keyword arguments every expectation of a rule carries: rule name, severity, description."""
    r = rule(name)
    return {"meta": {"rule": r.name, "severity": r.severity}, "severity": _severity(r), "description": r.en}


def penalty_expectations() -> list[gx.expectations.Expectation]:
    """One expectation per rule of the penalty catalogue (the suite's content, without a context)."""
    current_format = Column("source_format") == "current"
    expectations: list[gx.expectations.Expectation] = []
    for f in REQUIRED_FIELDS:
        condition = current_format if f in NOT_REQUIRED_FOR_LEGACY else None
        expectations.append(
            gxe.ExpectColumnValuesToNotBeNull(column=f, row_condition=condition, **_for(f"required:{f}"))
        )
    for f in USCC_FIELDS:
        if f == "cf_xdr_shxym":  # the party's code may be the 个体工商户 placeholder (its own rule below)
            fmt = gxe.ExpectColumnValuesToMatchRegex(
                column=f,
                regex=USCC_PATTERN,
                row_condition=Column(f) != USCC_PLACEHOLDER,
                **_for(f"uscc_format:{f}"),
            )
        else:
            fmt = gxe.ExpectColumnValuesToMatchRegex(
                column=f, regex=REAL_USCC_PATTERN, **_for(f"uscc_format:{f}")
            )
        expectations.append(fmt)
        expectations.append(
            ExpectColumnValuesToHaveValidUsccCheckDigit(column=f, **_for(f"uscc_check_digit:{f}"))
        )
    expectations += [
        gxe.ExpectColumnValuesToNotBeNull(
            column="cf_xdr_shxym",
            row_condition=Column("cf_xdr_lb") == ORGANISATION,
            **_for("uscc_required_for_organisation"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="cf_xdr_gszc",
            row_condition=Column("cf_xdr_shxym") == USCC_PLACEHOLDER,
            **_for("placeholder_needs_business_reg"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="cf_xdr_zjhm",
            row_condition=Column("cf_xdr_lb") == NATURAL_PERSON,
            **_for("id_number_required_for_person"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="cf_xdr_lb", value_set=list(PARTY_CATEGORIES), **_for("vocabulary:cf_xdr_lb")
        ),
    ]
    for f in ID_NUMBER_FIELDS:
        expectations.append(
            ExpectColumnValuesToHaveValidIdNumberCheckDigit(column=f, **_for(f"id_number_check_digit:{f}"))
        )
    for f in DATE_FIELDS:
        expectations.append(ExpectColumnValuesToBeIsoDates(column=f, **_for(f"date_format:{f}")))
    for f in AMOUNT_FIELDS:
        expectations.append(
            gxe.ExpectColumnValuesToMatchRegex(column=f, regex=AMOUNT_PATTERN, **_for(f"amount_format:{f}"))
        )
        expectations.append(
            gxe.ExpectColumnValuesToNotMatchRegex(
                column=f, regex=NEGATIVE_AMOUNT_PATTERN, **_for(f"amount_negative:{f}")
            )
        )
    for name, query in RULE_QUERIES.items():
        expectations.append(ExpectNoUnexpectedRows(unexpected_rows_query=query, **_for(name)))

    covered = {e.meta["rule"] for e in expectations}
    missing = {r.name for r in RULES} - covered
    if missing:  # every rule of the catalogue must be checked; fail loudly at build time otherwise
        raise RuntimeError(f"rules without an expectation: {sorted(missing)}")
    return expectations


def configure_penalty_suite(context: gx.data_context.AbstractDataContext) -> gx.ExpectationSuite:
    """Build (or rebuild) the penalty suite in context: every catalogue rule as an expectation."""
    return context.suites.add_or_update(
        gx.ExpectationSuite(name=PENALTY_SUITE, expectations=penalty_expectations())
    )
