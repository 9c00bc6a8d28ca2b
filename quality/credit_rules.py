"""Validation of the credit lists as code: per list, the typed columns read from staging and every rule as a
Great Expectations 1.x expectation (identifier checks, dates, reasons, document numbers).

Each list is staged in raw.credit_row (record jsonb under the source's own field names); ``batch_query``
turns one batch of one list into columns with ASCII names, blanks read as NULL. Rules reuse
``quality.rules.Rule`` (stable names that end up in quarantine rows) and the custom expectations of
``quality.expectations``; cross-field rules are SQL over ``{batch}`` (``ExpectNoUnexpectedRows``).
"""

from __future__ import annotations

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"  # the hub must not phone home

import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: E402
from great_expectations.expectations.row_conditions import Column  # noqa: E402

from quality.expectations import (  # noqa: E402
    ExpectColumnValuesToBeIsoDates,
    ExpectColumnValuesToHaveValidUsccCheckDigit,
    ExpectNoUnexpectedRows,
)
from quality.rules import ERROR, REAL_USCC_PATTERN, WARNING, Rule  # noqa: E402

CHANGE_TYPES = ("add", "correct", "remove")
# Court case numbers and 执行依据文号: (2025)豫0802执123号; Chinese or ASCII brackets.
CASE_NO_PATTERN = r"^[(（〔\[]\d{4}[)）〕\]].+号$"
# Administrative document numbers: 豫人社〔2025〕7号.
DOC_NO_PATTERN = r"[〔\[【(（]\d{4}[〕\]】)）].*\d+号$"
ORG_CODE_PATTERN = r"^[0-9A-Z]{8}-?[0-9X]$"
MASKED_OR_ID_PATTERN = r"^([0-9X]{2,6}\*{4,}[0-9X]{0,6}|[0-9]{17}[0-9X]|[0-9]{15})$"
PERSON = "自然人"
ORGANISATION = "企业或其他组织"


@dataclass(frozen=True)
class ListSpec:
    """One credit list: its staging columns (ASCII alias -> the source's field name) and its dataset names."""

    name: str  # list name on the channel ('dishonest_debtor', ...)
    dataset: str  # ops.batch dataset
    source: str  # core.restriction source
    columns: dict[str, str]
    key_columns: tuple[str, ...]  # the natural key, in staging aliases

    @property
    def view(self) -> str:
        """The temporary view GX reads this list's batch through."""
        return f"ggzy_credit_{self.name}_batch"

    def batch_query(self, batch_id: str) -> str:
        """SELECT one batch of this list with typed, named columns (blank text read as NULL)."""
        checked = uuid.UUID(str(batch_id))
        cols = ", ".join(f"NULLIF(btrim(record->>'{native}'), '') AS {alias}" for alias, native in self.columns.items())
        return (
            f"SELECT source_row, change_seq, changed_at, change_type, {cols} FROM raw.credit_row"
            f" WHERE batch_id = '{checked}' AND list = '{self.name}'"
        )


DISHONEST_DEBTOR = ListSpec(
    "dishonest_debtor", "credit_dishonest_debtor", "credit_china_dishonest_debtor",
    {"case_code": "caseCode", "iname": "iname", "card_num": "cardNum", "party_type": "partyTypeName",
     "business_entity": "businessEntity", "court_name": "courtName", "area_name": "areaName", "gist_id": "gistId",
     "gist_unit": "gistUnit", "reg_date": "regDate", "publish_date": "publishDate", "duty": "duty",
     "performance": "performance", "disrupt_type_name": "disruptTypeName", "status": "status",
     "remove_date": "removeDate", "remove_gist_id": "removeGistId"},
    ("case_code", "card_num"),
)  # fmt: skip
SERIOUS_DISHONESTY = ListSpec(
    "serious_dishonesty", "credit_serious_dishonesty", "serious_dishonesty_list",
    {"entry_id": "记录编号", "subject_name": "主体名称", "uscc": "统一社会信用代码", "reason": "列入事由",
     "basis": "列入依据", "listing_doc_no": "列入文书号", "listed_on": "列入日期", "authority": "认定部门",
     "removed_on": "移出日期", "removal_reason": "移出事由", "removal_doc_no": "移出文书号"},
    ("entry_id",),
)  # fmt: skip
EXCHANGE_BLACKLIST = ListSpec(
    "exchange_blacklist", "credit_exchange_blacklist", "exchange_blacklist_302",
    {"blacklist_code": "BLACKLIST_CODE", "body_name": "BODY_NAME", "body_code": "BODY_CODE", "body_type": "BODY_TYPE",
     "record_reason": "RECORD_REASON", "record_date": "RECORD_DATE", "government": "GOVERNMENT",
     "document_code": "DOCUMENT_CODE", "revocation_status": "REVOCATION_STATUS", "confined_action": "CONFINED_ACTION",
     "withdraw_date": "APPLICATION_DATE", "withdraw_document": "WITHDRAW_DOCUMENT_CODE",
     "withdraw_reason": "REVOCATIONEASONS"},
    ("blacklist_code",),
)  # fmt: skip
LIST_SPECS: dict[str, ListSpec] = {s.name: s for s in (DISHONEST_DEBTOR, SERIOUS_DISHONESTY, EXCHANGE_BLACKLIST)}

# field alias -> (zh label, en label), for messages
LABELS: dict[str, tuple[str, str]] = {
    "change_type": ("变更类型", "change type"), "changed_at": ("变更时间", "change time"),
    "case_code": ("案号", "case number"), "iname": ("被执行人姓名/名称", "debtor name"),
    "card_num": ("身份证号码/组织机构代码", "ID / organisation code"), "party_type": ("失信人类型", "debtor type"),
    "court_name": ("执行法院", "enforcing court"), "gist_id": ("执行依据文号", "enforcement basis document"),
    "reg_date": ("立案时间", "case registration date"), "publish_date": ("发布时间", "publication date"),
    "disrupt_type_name": ("失信被执行人行为具体情形", "dishonest behaviour"), "remove_date": ("移除日期", "removal date"),
    "entry_id": ("记录编号", "entry id"), "subject_name": ("主体名称", "entity name"),
    "uscc": ("统一社会信用代码", "unified social credit code"), "reason": ("列入事由", "reason for listing"),
    "basis": ("列入依据", "basis for listing"), "listing_doc_no": ("列入文书号", "listing document number"),
    "listed_on": ("列入日期", "listing date"), "authority": ("认定部门", "listing authority"),
    "removed_on": ("移出日期", "removal date"), "removal_doc_no": ("移出文书号", "removal document number"),
    "blacklist_code": ("黑名单编号", "blacklist code"), "body_name": ("主体名称", "entity name"),
    "body_code": ("主体代码", "entity code"), "record_reason": ("列入原因", "reason for listing"),
    "record_date": ("列入日期", "listing date"), "document_code": ("文件编号", "document number"),
    "withdraw_date": ("撤销日期", "withdrawal date"),
}  # fmt: skip


def _braces(text: str) -> str:
    """Escape braces for a GX unexpected_rows_query (it is str.format-ed with {batch})."""
    return text.replace("{", "{{").replace("}", "}}")


def _rule(name: str, field: str, severity: str, zh: str, en: str) -> Rule:
    label_zh, label_en = LABELS.get(field, (field, field))
    return Rule(name, field, severity, zh.replace("{field_zh}", label_zh), en.replace("{field_en}", label_en))


def _meta(r: Rule) -> dict:
    severity = FailureSeverity.WARNING if r.severity == WARNING else FailureSeverity.CRITICAL
    return {"meta": {"rule": r.name, "severity": r.severity}, "severity": severity, "description": r.en}


def _required(field: str) -> tuple[Rule, gxe.Expectation]:
    r = _rule(f"required:{field}", field, ERROR, "缺少必填字段「{field_zh}」", "Required field '{field_en}' is missing")
    return r, gxe.ExpectColumnValuesToNotBeNull(column=field, **_meta(r))


def _date(field: str) -> tuple[Rule, gxe.Expectation]:
    r = _rule(f"date_format:{field}", field, ERROR, "「{field_zh}」不是有效日期（YYYY-MM-DD）：{value}",
              "'{field_en}' is not a valid date (YYYY-MM-DD): {value}")  # fmt: skip
    return r, ExpectColumnValuesToBeIsoDates(column=field, **_meta(r))


def _regex(name: str, field: str, severity: str, regex: str, zh: str, en: str, **kw) -> tuple[Rule, gxe.Expectation]:
    r = _rule(name, field, severity, zh, en)
    return r, gxe.ExpectColumnValuesToMatchRegex(column=field, regex=regex, **kw, **_meta(r))


def _sql(name: str, field: str, severity: str, zh: str, en: str, query: str) -> tuple[Rule, gxe.Expectation]:
    r = _rule(name, field, severity, zh, en)
    return r, ExpectNoUnexpectedRows(unexpected_rows_query=query, **_meta(r))


def _uscc_check(field: str) -> tuple[Rule, gxe.Expectation]:
    r = _rule(f"uscc_check_digit:{field}", field, WARNING,
              "「{field_zh}」{value} 的校验位不正确；已加载并标记，请核对",
              "'{field_en}' {value} has a wrong check character; loaded with a warning, please verify")  # fmt: skip
    return r, ExpectColumnValuesToHaveValidUsccCheckDigit(column=field, **_meta(r))


def _date_order(name: str, later: str, earlier: str, zh: str, en: str) -> tuple[Rule, gxe.Expectation]:
    query = (
        f"SELECT source_row, {later}, {earlier} FROM {{batch}} WHERE {later} ~ '^\\d{{{{4}}}}-\\d{{{{2}}}}-\\d{{{{2}}}}$'"
        f" AND {earlier} ~ '^\\d{{{{4}}}}-\\d{{{{2}}}}-\\d{{{{2}}}}$' AND {later} COLLATE \"C\" < {earlier} COLLATE \"C\""
    )
    return _sql(name, later, ERROR, zh, en, query)


def _common() -> list[tuple[Rule, gxe.Expectation]]:
    vocab = _rule("vocabulary:change_type", "change_type", ERROR, "「{field_zh}」只能是 add / correct / remove，收到：{value}",
                  "'{field_en}' must be add / correct / remove, got: {value}")  # fmt: skip
    return [
        _required("change_type"),
        (vocab, gxe.ExpectColumnValuesToBeInSet(column="change_type", value_set=list(CHANGE_TYPES), **_meta(vocab))),
        _regex("date_format:changed_at", "changed_at", ERROR, r"^\d{14}$", "「{field_zh}」应为 yyyyMMddHHmmss：{value}",
               "'{field_en}' must be yyyyMMddHHmmss: {value}"),
    ]  # fmt: skip


def _removal_requires_date(field: str) -> tuple[Rule, gxe.Expectation]:
    r = _rule("removal_requires_date", field, ERROR, "移出（remove）变更必须填写「{field_zh}」",
              "A removal must carry the '{field_en}'")  # fmt: skip
    return r, gxe.ExpectColumnValuesToNotBeNull(column=field, row_condition=Column("change_type") == "remove", **_meta(r))


def dishonest_debtor_rules() -> list[tuple[Rule, gxe.Expectation]]:
    """失信被执行人: required fields, case/document numbers, identifiers by debtor type, dates and their order."""
    id_query = f"""
        SELECT source_row, card_num, party_type FROM {{batch}} WHERE card_num IS NOT NULL AND (
            (party_type = '{PERSON}' AND card_num !~ '{_braces(MASKED_OR_ID_PATTERN)}')
            OR (party_type = '{ORGANISATION}' AND NOT (coalesce(quality.uscc_format_ok(card_num), false)
                                                      OR card_num ~ '{_braces(ORG_CODE_PATTERN)}')))
    """
    party = _rule("vocabulary:party_type", "party_type", ERROR, f"「{{field_zh}}」只能是 {PERSON} / {ORGANISATION}，收到：{{value}}",
                  f"'{{field_en}}' must be {PERSON} / {ORGANISATION}, got: {{value}}")  # fmt: skip
    return [
        *_common(),
        *(_required(f) for f in ("case_code", "iname", "card_num", "party_type", "court_name", "gist_id", "reg_date",
                                 "publish_date", "disrupt_type_name")),
        _regex("document_no_format:case_code", "case_code", ERROR, CASE_NO_PATTERN,
               "「{field_zh}」不是法院案号格式（如 (2025)豫0802执123号）：{value}",
               "'{field_en}' is not a court case number such as (2025)豫0802执123号: {value}"),
        _regex("document_no_format:gist_id", "gist_id", WARNING, CASE_NO_PATTERN + "|" + DOC_NO_PATTERN,
               "「{field_zh}」不像文书编号：{value}；已加载并标记", "'{field_en}' does not look like a document number: {value}"),
        (party, gxe.ExpectColumnValuesToBeInSet(column="party_type", value_set=[PERSON, ORGANISATION], **_meta(party))),
        _sql("identifier_format:card_num", "card_num", ERROR,
             "「{field_zh}」与失信人类型（{party_type}）不符：自然人应为脱敏身份证号，企业应为统一社会信用代码或组织机构代码：{value}",
             "'{field_en}' does not fit the debtor type ({party_type}): a person needs a (masked) ID number, an"
             " organisation a USCC or organisation code: {value}", id_query),
        _uscc_check("card_num"),
        *(_date(f) for f in ("reg_date", "publish_date", "remove_date")),
        _date_order("date_order:publish_before_registration", "publish_date", "reg_date",
                    "「{field_zh}」{value} 早于立案时间 {reg_date}", "'{field_en}' {value} is before the case registration {reg_date}"),
        _date_order("date_order:removal_before_registration", "remove_date", "reg_date",
                    "「{field_zh}」{value} 早于立案时间 {reg_date}", "'{field_en}' {value} is before the case registration {reg_date}"),
        _removal_requires_date("remove_date"),
    ]  # fmt: skip


def serious_dishonesty_rules() -> list[tuple[Rule, gxe.Expectation]]:
    """严重失信主体名单: required fields, USCC format and check digit, dates, removal date and document."""
    doc_query = "SELECT source_row, removed_on, removal_doc_no FROM {batch} WHERE removed_on IS NOT NULL AND removal_doc_no IS NULL"
    return [
        *_common(),
        *(_required(f) for f in ("entry_id", "subject_name", "uscc", "reason", "basis", "listing_doc_no", "listed_on",
                                 "authority")),
        _regex("uscc_format:uscc", "uscc", ERROR, REAL_USCC_PATTERN,
               "「{field_zh}」不是有效的统一社会信用代码（应为18位，GB 32100-2015）：{value}",
               "'{field_en}' is not a well-formed unified social credit code (18 characters, GB 32100-2015): {value}"),
        _uscc_check("uscc"),
        _regex("document_no_format:listing_doc_no", "listing_doc_no", WARNING, DOC_NO_PATTERN,
               "「{field_zh}」不像文书编号（如 豫人社〔2025〕7号）：{value}；已加载并标记",
               "'{field_en}' does not look like a document number such as 豫人社〔2025〕7号: {value}"),
        *(_date(f) for f in ("listed_on", "removed_on")),
        _date_order("date_order:removal_before_listing", "removed_on", "listed_on",
                    "「{field_zh}」{value} 早于列入日期 {listed_on}", "'{field_en}' {value} is before the listing date {listed_on}"),
        _removal_requires_date("removed_on"),
        _sql("removal_requires_document", "removal_doc_no", ERROR, "已移出（{removed_on}）但缺少「{field_zh}」",
             "Removed on {removed_on} but the '{field_en}' is missing", doc_query),
    ]  # fmt: skip


def exchange_blacklist_rules() -> list[tuple[Rule, gxe.Expectation]]:
    """302/303: required fields, dates, withdrawal after listing."""
    return [
        *_common(),
        *(_required(f) for f in ("blacklist_code", "body_name", "body_code", "record_reason", "record_date",
                                 "document_code")),
        _uscc_check("body_code"),
        *(_date(f) for f in ("record_date", "withdraw_date")),
        _date_order("date_order:withdrawal_before_record", "withdraw_date", "record_date",
                    "「{field_zh}」{value} 早于列入日期 {record_date}", "'{field_en}' {value} is before the listing date {record_date}"),
    ]  # fmt: skip


RULE_SETS = {
    "dishonest_debtor": dishonest_debtor_rules,
    "serious_dishonesty": serious_dishonesty_rules,
    "exchange_blacklist": exchange_blacklist_rules,
}


def rules_for(list_name: str) -> dict[str, Rule]:
    """The rule catalogue of one list, by name."""
    return {r.name: r for r, _ in RULE_SETS[list_name]()}


def configure_credit_suite(context: gx.data_context.AbstractDataContext, list_name: str) -> gx.ExpectationSuite:
    """Build (or rebuild) one list's suite in context."""
    expectations = [e for _, e in RULE_SETS[list_name]()]
    return context.suites.add_or_update(gx.ExpectationSuite(name=f"credit_{list_name}", expectations=expectations))
