"""The trading rule catalogue: every check a landed batch of spec records goes through, per dataset.

Rules are derived from the core schema's own documentation (migration 0003: each core column says which
spec field it holds, ``(spec: FIELD[, qualifier])``, and its SQL type says what the field must look like),
plus the spec's code hierarchy and event order. Rule names are stable (quarantine rows, reports):

- ``required:<FIELD>`` natural-key fields and DATA_TIMESTAMP present (error);
- ``code_length:<FIELD>`` PROJECT_CODE 17, TENDER_PROJECT_CODE 20, BID_SECTION_CODE 23 characters (error);
- ``code_hierarchy:<FIELD>`` a tender project code starts with its project code, a section code with its
  tender project code (error);
- ``time_format:<FIELD>`` yyyyMMddHHmmss (dates yyyyMMdd) naming a real moment (error);
- ``amount:<FIELD>`` a non-negative amount, up to 14 integer and 6 decimal digits (error);
- ``integer:<FIELD>``, ``enumeration:<FIELD>`` (PRICE_UNIT 0/1, TENDER_MODE 1/2, PRICE_FORM_CODE
  1/2/3/9, yes/no fields 0/1) (error);
- ``entity_code_format:<FIELD>`` an 18-character USCC or a 9-character organisation code (error);
  ``uscc_check_digit:<FIELD>`` wrong GB 32100 check character (warning: loaded and flagged, §1);
- ``event_order:*`` announcement before bid opening, result after opening, contract after result (error).

Messages are bilingual and name the dataset, the record's natural key, the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

ERROR = "error"
WARNING = "warning"

CODE_LENGTHS = {"PROJECT_CODE": 17, "TENDER_PROJECT_CODE": 20, "BID_SECTION_CODE": 23}
# (child field, parent field): the child code starts with the parent code (data-standards §3).
CODE_HIERARCHY = (("TENDER_PROJECT_CODE", "PROJECT_CODE"), ("BID_SECTION_CODE", "TENDER_PROJECT_CODE"))
ENUMERATIONS = {"PRICE_UNIT": ("0", "1"), "TENDER_MODE": ("1", "2"), "PRICE_FORM_CODE": ("1", "2", "3", "9")}
YES_NO = ("0", "1")
AMOUNT_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,6})?$"
INTEGER_PATTERN = r"^[0-9]{1,9}$"
USCC_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
ORG_CODE_SHAPE = r"^[0-9A-Z]{8}-?[0-9X]$"
TIMESTAMP_FIELD = "DATA_TIMESTAMP"
ID_CHECK_SUFFIX = (
    "__CHECK"  # staged by the pipeline next to a masked ID: "1" when its check character was right
)

_SPEC_COMMENT = re.compile(r"\(spec: ([A-Z0-9_]+)(?:, (masked|keyed hash|market entity))?\)\s*$")
_DATASET_COMMENT = re.compile(r"\(spec dataset (\d+)\)\s*$")


@dataclass(frozen=True)
class CoreColumn:
    """One core column documented as holding a spec field."""

    name: str
    spec: str
    qualifier: str  # '' | 'masked' | 'keyed hash' | 'market entity'
    data_type: str  # information_schema data_type: 'text', 'numeric', 'timestamp without time zone', ...


@dataclass(frozen=True)
class CoreTable:
    """A core dataset table as migration 0003 documents it."""

    code: str
    table: str
    columns: tuple[CoreColumn, ...]
    key_columns: tuple[str, ...]

    def fields(self) -> list[str]:
        """Spec fields the core maps, once each, in column order."""
        return list(dict.fromkeys(c.spec for c in self.columns))

    def typed(self, *data_types: str) -> list[str]:
        """Spec fields held by plain (unqualified) columns of these SQL types."""
        return [c.spec for c in self.columns if not c.qualifier and c.data_type in data_types]

    def entity_fields(self) -> list[str]:
        """Spec fields resolved to core.market_entity."""
        return [c.spec for c in self.columns if c.qualifier == "market entity"]

    def column_for(self, spec: str) -> str:
        """The plain core column holding a spec field."""
        return next(c.name for c in self.columns if c.spec == spec and c.qualifier in ("", "masked"))


def core_layout(conn: sa.Connection) -> dict[str, CoreTable]:
    """Every core trading table with its spec-documented columns, read from the schema's comments."""
    tables = conn.execute(
        sa.text(
            "SELECT c.relname, obj_description(c.oid, 'pg_class') AS doc FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'core' AND c.relkind = 'r'"
        )
    ).all()
    layout = {}
    for name, doc in tables:
        match = _DATASET_COMMENT.search(doc or "")
        if not match:
            continue
        columns = conn.execute(
            sa.text(
                "SELECT column_name, data_type, col_description(:t ::regclass, ordinal_position) AS doc"
                " FROM information_schema.columns WHERE table_schema = 'core' AND table_name = :n"
                " ORDER BY ordinal_position"
            ),
            {"t": f"core.{name}", "n": name},
        ).all()
        documented = []
        for column, data_type, doc_text in columns:
            spec = _SPEC_COMMENT.search(doc_text or "")
            if spec:
                documented.append(CoreColumn(column, spec.group(1), spec.group(2) or "", data_type))
        key = conn.scalar(
            sa.text(
                "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_constraint c"
                " CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
                " WHERE c.conname = :c AND c.conrelid = :t ::regclass"
            ),
            {"c": f"{name}_natural_key", "t": f"core.{name}"},
        )
        layout[match.group(1)] = CoreTable(match.group(1), name, tuple(documented), tuple(key))
    return layout


@dataclass(frozen=True)
class TradingRule:
    """One check of one dataset: stable name, field, severity, kind + parameters, bilingual message."""

    name: str
    dataset: str
    field: str | None
    severity: str
    kind: str  # not_null | length | starts_with | regex | in_set | spec_time | uscc_check | sql
    zh: str
    en: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(
        self, table: str, key: str | None, value: str | None, row: Mapping[str, Any]
    ) -> tuple[str, str]:
        """(zh, en) messages naming dataset, record key, field, rule and the value received."""
        params = _Defaults({k: "" if v is None else v for k, v in row.items()})
        params.update(value="（空）" if value in (None, "") else value, field=self.field or "")
        params.update(table=table)
        zh = (
            f"数据集 {self.dataset} {table} 记录 {key or '?'}："
            + self.zh.format_map(params)
            + f" [{self.name}]"
        )
        params["value"] = "(empty)" if value in (None, "") else value
        en = (
            f"dataset {self.dataset} {table}, record {key or '?'}: "
            + self.en.format_map(params)
            + f" [{self.name}]"
        )
        return zh, en


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return ""


# The core tables a dataset's rules read besides its own batch (the cross-dataset event order below). A batch
# of such a dataset is validated only once the merges queued before it are done (trading.BatchMerger);
# the other datasets' batches are validated while the batch before them merges.
RULES_READ_CORE: dict[str, tuple[str, ...]] = {"513": ("tender_announcement",), "512": ("win_result",)}


def _event_order_rules(code: str) -> list[TradingRule]:
    """Cross-field and cross-dataset event order (times compare as yyyyMMddHHmmss text)."""
    rules = []
    if code == "503":
        rules.append(
            TradingRule(
                "event_order:announcement_after_opening",
                code,
                "NOTICE_SEND_TIME",
                ERROR,
                "sql",
                "公告发布时间 NOTICE_SEND_TIME {value} 晚于开标时间 BID_OPEN_TIME {bid_open_time}",
                "announcement time NOTICE_SEND_TIME {value} is after the bid opening BID_OPEN_TIME {bid_open_time}",
                {
                    "query": """
                SELECT source_row, notice_send_time, bid_open_time FROM {batch}
                WHERE core.spec_time(notice_send_time) > core.spec_time(bid_open_time)"""
                },
            )
        )
    if code == "513":
        rules.append(
            TradingRule(
                "event_order:result_before_opening",
                code,
                "NOTICE_SEND_TIME",
                ERROR,
                "sql",
                "中标结果公告时间 NOTICE_SEND_TIME {value} 早于该标段开标时间 {opened}",
                "award result time NOTICE_SEND_TIME {value} is before the section's bid opening {opened}",
                {
                    "query": """
                SELECT b.source_row, b.notice_send_time, to_char(a.opened, 'YYYYMMDDHH24MISS') AS opened
                FROM {batch} b JOIN LATERAL (
                    SELECT max(t.bid_open_time) AS opened FROM core.tender_announcement t
                    WHERE t.tender_project_code = left(b.bid_section_code, 20)
                      AND (t.bid_section_codes IS NULL OR strpos(t.bid_section_codes, b.bid_section_code) > 0)
                ) a ON true
                WHERE a.opened IS NOT NULL AND core.spec_time(b.notice_send_time) < a.opened"""
                },
            )
        )
    if code == "512":
        rules.append(
            TradingRule(
                "event_order:contract_before_result",
                code,
                "CONTRACT_SIGN_TIME",
                ERROR,
                "sql",
                "合同签署时间 CONTRACT_SIGN_TIME {value} 早于中标结果公告时间 {announced}",
                "contract signing time CONTRACT_SIGN_TIME {value} is before the award result {announced}",
                {
                    "query": """
                SELECT b.source_row, b.contract_sign_time, to_char(w.notice_send_time, 'YYYYMMDDHH24MISS') AS announced
                FROM {batch} b JOIN core.win_result w ON w.bid_section_code = b.bid_section_code
                WHERE core.spec_time(b.contract_sign_time) < w.notice_send_time"""
                },
            )
        )
    return rules


def trading_rules(table: CoreTable, key_fields: tuple[str, ...]) -> list[TradingRule]:
    """Every rule of one dataset, from its core layout and natural key."""
    code, fields = table.code, table.fields()
    rules: list[TradingRule] = []
    for name in dict.fromkeys((*key_fields, TIMESTAMP_FIELD)):
        rules.append(
            TradingRule(
                f"required:{name}",
                code,
                name,
                ERROR,
                "not_null",
                "缺少必填字段 {field}",
                "required field {field} is missing",
            )
        )
    for name, length in CODE_LENGTHS.items():
        if name in fields:
            rules.append(
                TradingRule(
                    f"code_length:{name}",
                    code,
                    name,
                    ERROR,
                    "length",
                    f"{{field}} 应为 {length} 位，收到：{{value}}",
                    f"{{field}} must be {length} characters, got: {{value}}",
                    {"length": length},
                )
            )
    for child, parent in CODE_HIERARCHY:
        if child in fields and parent in fields:
            rules.append(
                TradingRule(
                    f"code_hierarchy:{child}",
                    code,
                    child,
                    ERROR,
                    "sql",
                    f"{{field}} {{value}} 不以其上级编号 {parent} {{parent}} 开头",
                    f"{{field}} {{value}} does not start with its parent code {parent} {{parent}}",
                    {
                        "query": f"""
                    SELECT source_row, {child.lower()}, {parent.lower()} AS parent FROM {{batch}}
                    WHERE {child.lower()} IS NOT NULL AND {parent.lower()} IS NOT NULL
                      AND left({child.lower()}, length({parent.lower()})) <> {parent.lower()}"""
                    },
                )
            )
    for name in table.typed("timestamp without time zone", "date"):
        digits = 14 if table.typed("timestamp without time zone").count(name) else 8
        shape = "yyyyMMddHHmmss" if digits == 14 else "yyyyMMdd"
        rules.append(
            TradingRule(
                f"time_format:{name}",
                code,
                name,
                ERROR,
                "spec_time",
                f"{{field}} 应为 {shape} 格式的有效时间，收到：{{value}}",
                f"{{field}} must be a real time written {shape}, got: {{value}}",
                {"digits": digits},
            )
        )
    for name in table.typed("numeric"):
        rules.append(
            TradingRule(
                f"amount:{name}",
                code,
                name,
                ERROR,
                "regex",
                "{field} 应为非负金额（最多14位整数、6位小数），收到：{value}",
                "{field} must be a non-negative amount (at most 14 integer and 6 decimal digits), got: {value}",
                {"regex": AMOUNT_PATTERN},
            )
        )
    for name in table.typed("integer"):
        rules.append(
            TradingRule(
                f"integer:{name}",
                code,
                name,
                ERROR,
                "regex",
                "{field} 应为整数，收到：{value}",
                "{field} must be a whole number, got: {value}",
                {"regex": INTEGER_PATTERN},
            )
        )
    enumerations = {n: v for n, v in ENUMERATIONS.items() if n in fields}
    enumerations.update({n: YES_NO for n in table.typed("boolean")})
    for name, values in enumerations.items():
        allowed = " / ".join(values)
        rules.append(
            TradingRule(
                f"enumeration:{name}",
                code,
                name,
                ERROR,
                "in_set",
                f"{{field}} 只能取 {allowed}，收到：{{value}}",
                f"{{field}} must be one of {allowed}, got: {{value}}",
                {"values": values},
            )
        )
    for name in table.entity_fields():
        rules.append(
            TradingRule(
                f"entity_code_format:{name}",
                code,
                name,
                ERROR,
                "regex",
                "{field} 应为18位统一社会信用代码或9位组织机构代码，收到：{value}",
                "{field} must be an 18-character USCC or a 9-character organisation code, got: {value}",
                {"regex": f"({USCC_SHAPE})|({ORG_CODE_SHAPE})"},
            )
        )
        rules.append(
            TradingRule(
                f"uscc_check_digit:{name}",
                code,
                name,
                WARNING,
                "uscc_check",
                "{field} {value} 的校验位不正确（GB 32100）；已加载并标记，请核对",
                "{field} {value} has a wrong check character (GB 32100); loaded with a warning, please verify",
            )
        )
    for name in [c.spec for c in table.columns if c.qualifier == "keyed hash"]:
        rules.append(
            TradingRule(
                f"id_number_check_digit:{name}",
                code,
                name,
                WARNING,
                "in_set",
                "{field} 的校验位不正确（GB 11643）；已加载并标记，请核对",
                "{field} has a wrong check character (GB 11643); loaded with a warning, please verify",
                {"values": ("1",), "column": name + ID_CHECK_SUFFIX},
            )
        )
    return rules + _event_order_rules(code)


def rule_columns(rules: list[TradingRule]) -> list[str]:
    """Staged fields the rules read (spec fields, plus derived ones such as ID_CARD__CHECK)."""
    return list(dict.fromkeys(c for r in rules if (c := r.params.get("column", r.field))))
