"""The penalty rule catalogue and its GX suite, without a database: names, severities, messages, patterns."""

from __future__ import annotations

import os
import re

os.environ["GX_ANALYTICS_ENABLED"] = "False"

import great_expectations as gx  # noqa: E402
import pytest  # noqa: E402

from connectors.penalties import FIELD_LABELS, PENALTY_FIELDS  # noqa: E402
from ggzy.identifiers import USCC_PLACEHOLDER, make_uscc  # noqa: E402
from quality.rules import (  # noqa: E402
    AMOUNT_PATTERN,
    NEGATIVE_AMOUNT_PATTERN,
    REAL_USCC_PATTERN,
    RULES,
    penalty_categories_ok,
    rule,
    split_penalty_categories,
)
from quality.suites import PENALTY_SUITE, configure_penalty_suite, penalty_expectations  # noqa: E402

# contracts.md, "Rule names (stable; they end up in quarantine rows and API responses)".
CONTRACT_RULES = {
    *(f"required:{f}" for f in (
        "cf_xdr_mc", "cf_xdr_lb", "cf_wsh", "cf_wfxw", "cf_sy", "cf_yj", "cf_cflb", "cf_nr", "cf_jdrq", "cf_yxq",
        "cf_cfjg", "cf_cfjgdm", "cf_sjly", "cf_sjlydm")),
    *(f"uscc_format:{f}" for f in ("cf_xdr_shxym", "cf_cfjgdm", "cf_sjlydm")),
    *(f"uscc_check_digit:{f}" for f in ("cf_xdr_shxym", "cf_cfjgdm", "cf_sjlydm")),
    "uscc_required_for_organisation", "placeholder_needs_business_reg", "id_number_required_for_person",
    "id_number_check_digit:cf_xdr_zjhm", "id_number_check_digit:cf_fr_zjhm",
    "vocabulary:cf_xdr_lb", "vocabulary:cf_cflb",
    "date_format:cf_jdrq", "date_format:cf_yxq", "date_format:cf_gsjzq",
    "date_order:decision_after_validity", "date_order:publicity_before_decision", "date_future:cf_jdrq",
    "amount_format:cf_nr_fk", "amount_format:cf_nr_wfff", "amount_negative:cf_nr_fk", "amount_negative:cf_nr_wfff",
    "fine_requires_amount", "decision_no_unique_per_authority",
}  # fmt: skip


def test_catalogue_has_exactly_the_contract_rules_once_each() -> None:
    """The rule names are the contract's, none missing, none extra, none twice."""
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert set(names) == CONTRACT_RULES


def test_only_check_digit_rules_are_warnings() -> None:
    """A checksum-only failure loads with a flag; every other rule quarantines."""
    warnings = {r.name for r in RULES if r.severity == "warning"}
    assert warnings == {n for n in CONTRACT_RULES if "check_digit" in n}
    assert {r.severity for r in RULES} == {"error", "warning"}


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.name)
def test_messages_name_the_field_and_the_value_in_both_languages(r) -> None:
    """Every template renders (no placeholder left) with the field's labels and the received value."""
    assert r.field in PENALTY_FIELDS
    label_zh, label_en = FIELD_LABELS[r.field]
    row = {f: f"<{f}>" for f in PENALTY_FIELDS} | {"other_rows": "7, 9"}
    zh, en = r.render("VALUE-X", row)
    assert not re.search(r"[{}]", zh + en)
    assert label_zh in zh and label_en in en
    if (
        not r.name.startswith("required:")
        and not r.name.endswith(("_for_organisation", "_for_person"))
        and r.name != "placeholder_needs_business_reg"
    ):
        assert "VALUE-X" in zh and "VALUE-X" in en


def test_missing_values_and_related_fields_in_messages() -> None:
    """An empty value reads as empty; cross-field rules show the other field's value."""
    zh, en = rule("fine_requires_amount").render(None, {"cf_cflb": "警告;罚款"})
    assert "（空）" in zh and "(empty)" in en and "警告;罚款" in zh + en
    zh, en = rule("date_order:decision_after_validity").render("2019-10-20", {"cf_yxq": "2019-10-17"})
    assert "2019-10-20" in zh and "2019-10-17" in en


@pytest.mark.parametrize(
    ("value", "items", "ok"),
    [
        ("罚款", ["罚款"], True),
        ("警告;罚款", ["警告", "罚款"], True),
        (" 警告 ； 罚款、没收违法所得 ", ["警告", "罚款", "没收违法所得"], True),
        ("没收违法所得、没收非法财物", ["没收违法所得", "没收非法财物"], True),
        ("暂扣或者吊销许可证、暂扣或者吊销执照", ["暂扣或者吊销许可证", "暂扣或者吊销执照"], True),
        ("法律、行政法规规定的其他行政处罚", ["法律、行政法规规定的其他行政处罚"], True),
        ("警告,通报批评，限制从业", ["警告", "通报批评", "限制从业"], True),
        ("警告;训诫", ["警告", "训诫"], False),
        ("法律", ["法律"], False),
        (";；", [], False),
        (None, [], False),
    ],
)
def test_penalty_categories_split_and_vocabulary(value, items, ok) -> None:
    """Multi-valued 处罚类别: every separator of the contract, both statutory lists, nothing else."""
    assert split_penalty_categories(value) == items
    assert penalty_categories_ok(value) is ok


@pytest.mark.parametrize(
    ("text", "is_amount", "is_negative"),
    [("0.2", True, False), ("12", True, False), ("+3.50", True, False), (".5", True, False), ("0", True, False),
     ("-0.2", True, True), ("-10", True, True), ("-0", True, False), ("-0.00", True, False),
     ("2千", False, False), ("1,000", False, False), ("", False, False), ("-", False, False), ("1.2.3", False, False)],
)  # fmt: skip
def test_amount_patterns(text, is_amount, is_negative) -> None:
    """Amounts are plain decimals; negative means below zero (-0 is not)."""
    assert bool(re.match(AMOUNT_PATTERN, text)) is is_amount
    assert bool(re.match(NEGATIVE_AMOUNT_PATTERN, text)) is is_negative


def test_authority_codes_must_be_real_codes() -> None:
    """An authority's code may not be the 个体工商户 placeholder; A/N/Y-prefixed codes are well-formed."""
    assert not re.match(REAL_USCC_PATTERN, USCC_PLACEHOLDER)
    assert re.match(REAL_USCC_PATTERN, "11230500001755309F")
    assert re.match(REAL_USCC_PATTERN, make_uscc("N2", "230500", "MA1B3N1N"))


def test_suite_has_one_expectation_per_rule_with_rule_name_and_severity() -> None:
    """Results map back to rules through meta['rule']; GX severity follows the rule's."""
    expectations = penalty_expectations()
    assert sorted(e.meta["rule"] for e in expectations) == sorted(r.name for r in RULES)
    for e in expectations:
        assert e.severity.value == ("warning" if rule(e.meta["rule"]).severity == "warning" else "critical")


def test_configure_penalty_suite_builds_in_an_ephemeral_context_repeatedly() -> None:
    """The suite is code: building it twice in one context replaces it, same content."""
    context = gx.get_context(mode="ephemeral")
    first = configure_penalty_suite(context)
    second = configure_penalty_suite(context)
    assert first.name == second.name == PENALTY_SUITE
    assert len(context.suites.get(PENALTY_SUITE).expectations) == len(RULES)
