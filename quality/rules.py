"""The penalty rule catalogue: every check a landed 双公示 batch goes through, named, graded and explained.

Rule names are stable: they end up in quarantine rows, warning flags and API responses. Each rule has a
severity ('error': the row is quarantined; 'warning': the row is loaded and flagged) and a message in
Chinese and English. Message templates may use ``{field_zh}``/``{field_en}`` (the field's label),
``{value}`` (the received value) and any other column of the failing row (``{cf_yxq}``, ...), plus
``{other_rows}`` for the duplicate rule. quality/suites.py turns every rule into a GX expectation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.penalties import FIELD_LABELS
from ggzy.identifiers import USCC_PLACEHOLDER, USCC_RE

ERROR = "error"
WARNING = "warning"

# data-standards §2: required in the current format; the legacy 20-field format cannot carry some of them.
REQUIRED_FIELDS = (
    "cf_xdr_mc", "cf_xdr_lb", "cf_wsh", "cf_wfxw", "cf_sy", "cf_yj", "cf_cflb", "cf_nr", "cf_jdrq", "cf_yxq",
    "cf_cfjg", "cf_cfjgdm", "cf_sjly", "cf_sjlydm",
)  # fmt: skip
NOT_REQUIRED_FOR_LEGACY = ("cf_yxq", "cf_sjly", "cf_sjlydm", "cf_xdr_lb")
USCC_FIELDS = ("cf_xdr_shxym", "cf_cfjgdm", "cf_sjlydm")
ID_NUMBER_FIELDS = ("cf_xdr_zjhm", "cf_fr_zjhm")
DATE_FIELDS = ("cf_jdrq", "cf_yxq", "cf_gsjzq")
AMOUNT_FIELDS = ("cf_nr_fk", "cf_nr_wfff")

ORGANISATION = "法人及非法人组织"
NATURAL_PERSON = "自然人"
INDIVIDUAL_BUSINESS = "个体工商户"
PARTY_CATEGORIES = (ORGANISATION, NATURAL_PERSON, INDIVIDUAL_BUSINESS)

FINE = "罚款"
# 行政处罚法 (2021) art. 9.
PENALTY_CATEGORIES_2021 = (
    "警告", "通报批评", FINE, "没收违法所得", "没收非法财物", "暂扣许可证件", "降低资质等级", "吊销许可证件",
    "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业", "行政拘留", "其他",
)  # fmt: skip
# The one art. 8 item that itself contains '、' and must not be split.
UNSPLIT_CATEGORY = "法律、行政法规规定的其他行政处罚"
# 行政处罚法 (1996/2017) art. 8, as its items read once split on '、' like every other list separator.
PENALTY_CATEGORIES_PRE_2021 = (
    "警告", FINE, "没收违法所得", "没收非法财物", "责令停产停业", "暂扣或者吊销许可证", "暂扣或者吊销执照",
    "行政拘留", UNSPLIT_CATEGORY,
)  # fmt: skip
PENALTY_CATEGORIES = tuple(dict.fromkeys(PENALTY_CATEGORIES_2021 + PENALTY_CATEGORIES_PRE_2021))
# Separators of the multi-valued 处罚类别 (e.g. '警告;罚款'); '、' also splits art. 8 items such as
# '没收违法所得、没收非法财物' into two art. 9 categories.
CATEGORY_SEPARATORS = r"\s*[;；,，、]\s*"

USCC_PATTERN = USCC_RE.pattern
# A USCC that is not the 个体工商户 placeholder (an authority or a data source always has a real code).
REAL_USCC_PATTERN = "^(?!" + re.escape(USCC_PLACEHOLDER) + "$)" + USCC_PATTERN.removeprefix("^")
AMOUNT_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
NEGATIVE_AMOUNT_PATTERN = r"^-(?=[0-9.]*[1-9])([0-9]+(\.[0-9]*)?|\.[0-9]+)$"

_EMPTY = {"zh": "（空）", "en": "(empty)"}


@dataclass(frozen=True)
class Rule:
    """One validation rule: stable name, the field it concerns, severity and bilingual message templates."""

    name: str
    field: str | None
    severity: str  # 'error' (quarantine) | 'warning' (load + flag)
    zh: str
    en: str

    def render(self, value: str | None, row: Mapping[str, Any] | None = None) -> tuple[str, str]:
        """The (zh, en) messages for one failing row, naming the field and the received value."""
        label_zh, label_en = (
            FIELD_LABELS.get(self.field, (self.field, self.field)) if self.field else ("", "")
        )
        params: dict[str, Any] = {k: ("" if v is None else v) for k, v in (row or {}).items()}
        params.update(field_zh=label_zh, field_en=label_en)
        zh = self.zh.format_map(_Defaults(params, value=_shown(value, "zh")))
        en = self.en.format_map(_Defaults(params, value=_shown(value, "en")))
        return zh, en


class _Defaults(dict):
    """format_map mapping: unknown placeholders render empty instead of raising."""

    def __init__(self, params: dict[str, Any], **extra: Any) -> None:
        super().__init__(params, **extra)

    def __missing__(self, key: str) -> str:
        return ""


def _shown(value: str | None, lang: str) -> str:
    return _EMPTY[lang] if value is None or value == "" else value


def _each(prefix: str, fields: tuple[str, ...], severity: str, zh: str, en: str) -> list[Rule]:
    """One rule per field, named '<prefix>:<field>', sharing templates."""
    return [Rule(f"{prefix}:{f}", f, severity, zh, en) for f in fields]


def _catalogue() -> tuple[Rule, ...]:
    return (
        *_each("required", REQUIRED_FIELDS, ERROR, "缺少必填字段「{field_zh}」", "Required field '{field_en}' is missing"),
        *_each(
            "uscc_format", USCC_FIELDS, ERROR,
            "「{field_zh}」不是有效的统一社会信用代码（应为18位，GB 32100-2015）：{value}",
            "'{field_en}' is not a well-formed unified social credit code (18 characters, GB 32100-2015): {value}",
        ),
        *_each(
            "uscc_check_digit", USCC_FIELDS, WARNING,
            "「{field_zh}」{value} 的校验位不正确；已加载并标记，请核对",
            "'{field_en}' {value} has a wrong check character; loaded with a warning, please verify",
        ),
        Rule(
            "uscc_required_for_organisation", "cf_xdr_shxym", ERROR,
            "行政相对人类别为“法人及非法人组织”时必须填写「{field_zh}」",
            "'{field_en}' is required when the party is a legal person or unincorporated organisation",
        ),
        Rule(
            "placeholder_needs_business_reg", "cf_xdr_gszc", ERROR,
            f"统一社会信用代码为占位码 {USCC_PLACEHOLDER} 时必须填写「{{field_zh}}」",
            f"'{{field_en}}' is required when the credit code is the placeholder {USCC_PLACEHOLDER}",
        ),
        Rule(
            "id_number_required_for_person", "cf_xdr_zjhm", ERROR,
            "行政相对人类别为“自然人”时必须填写「{field_zh}」",
            "'{field_en}' is required when the party is a natural person",
        ),
        *_each(
            "id_number_check_digit", ID_NUMBER_FIELDS, WARNING,
            "「{field_zh}」{value} 的校验位不正确（GB 11643）；已加载并标记，请核对",
            "'{field_en}' {value} has a wrong check character (GB 11643); loaded with a warning, please verify",
        ),
        Rule(
            "vocabulary:cf_xdr_lb", "cf_xdr_lb", ERROR,
            "「{field_zh}」只能是 法人及非法人组织 / 自然人 / 个体工商户，收到：{value}",
            "'{field_en}' must be 法人及非法人组织 / 自然人 / 个体工商户, got: {value}",
        ),
        Rule(
            "vocabulary:cf_cflb", "cf_cflb", ERROR,
            "「{field_zh}」含有行政处罚法未列明的处罚种类（多个类别用分号分隔）：{value}",
            "'{field_en}' holds a category not listed by the Administrative Penalty Law"
            " (separate several with ';'): {value}",
        ),
        *_each(
            "date_format", DATE_FIELDS, ERROR,
            "「{field_zh}」不是有效日期（YYYY-MM-DD 或 YYYY/MM/DD）：{value}",
            "'{field_en}' is not a valid date (YYYY-MM-DD or YYYY/MM/DD): {value}",
        ),
        Rule(
            "date_order:decision_after_validity", "cf_jdrq", ERROR,
            "「{field_zh}」{value} 晚于处罚有效期 {cf_yxq}",
            "'{field_en}' {value} is after the end of validity {cf_yxq}",
        ),
        Rule(
            "date_order:publicity_before_decision", "cf_gsjzq", ERROR,
            "「{field_zh}」{value} 早于处罚决定日期 {cf_jdrq}",
            "'{field_en}' {value} is before the decision date {cf_jdrq}",
        ),
        Rule("date_future:cf_jdrq", "cf_jdrq", ERROR, "「{field_zh}」{value} 晚于今天", "'{field_en}' {value} is in the future"),
        *_each(
            "amount_format", AMOUNT_FIELDS, ERROR,
            "「{field_zh}」应为以万元计的数字（如 0.2 表示2000元），收到：{value}",
            "'{field_en}' must be a number in units of 10,000 yuan (0.2 = 2,000 yuan), got: {value}",
        ),
        *_each(
            "amount_negative", AMOUNT_FIELDS, ERROR,
            "「{field_zh}」不能为负数：{value}", "'{field_en}' cannot be negative: {value}",
        ),
        Rule(
            "fine_requires_amount", "cf_nr_fk", ERROR,
            "处罚类别包含“罚款”（{cf_cflb}），但「{field_zh}」为空或为0：{value}",
            "The penalty categories include a fine ({cf_cflb}) but '{field_en}' is empty or zero: {value}",
        ),
        Rule(
            "decision_no_unique_per_authority", "cf_wsh", ERROR,
            "同一处罚机关（{cf_cfjgdm}）的「{field_zh}」{value} 在本批次中与第 {other_rows} 行重复且内容不同",
            "'{field_en}' {value} of the same authority ({cf_cfjgdm}) also appears, with different content,"
            " in row(s) {other_rows} of this batch",
        ),
    )  # fmt: skip


RULES: tuple[Rule, ...] = _catalogue()
RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}


def rule(name: str) -> Rule:
    """The catalogue entry for a rule name (KeyError for an unknown name)."""
    return RULES_BY_NAME[name]


def split_penalty_categories(value: str | None) -> list[str]:
    """The items of a multi-valued 处罚类别 ('警告;罚款' -> ['警告', '罚款']), as the vocabulary rule reads them."""
    if not value:
        return []
    protected = value.replace(UNSPLIT_CATEGORY, "\0")
    items = (i.strip().replace("\0", UNSPLIT_CATEGORY) for i in re.split(CATEGORY_SEPARATORS, protected))
    return [i for i in items if i]


def penalty_categories_ok(value: str | None) -> bool:
    """True when a 处罚类别 value lists at least one category and every one is in the 2021 or pre-2021 list."""
    items = split_penalty_categories(value)
    return bool(items) and all(i in PENALTY_CATEGORIES for i in items)
