"""Request and response models of the hub API (documented field by field in Chinese and English)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE = 500


class PenaltyFilters(BaseModel):
    """Filters and paging of GET /v1/penalties; unknown parameters are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    party_uscc: str | None = Field(
        None, max_length=18, description="行政相对人统一社会信用代码（精确）/ party USCC, exact"
    )
    party_name: str | None = Field(
        None, max_length=200, description="行政相对人名称（包含）/ party name contains"
    )
    authority_code: str | None = Field(
        None, max_length=18, description="处罚机关统一社会信用代码 / authority USCC"
    )
    decision_date_from: date | None = Field(
        None, description="处罚决定日期起（含）/ decision date from (inclusive)"
    )
    decision_date_to: date | None = Field(
        None, description="处罚决定日期止（含）/ decision date to (inclusive)"
    )
    category: str | None = Field(
        None, max_length=50, description="处罚类别，如 罚款 / penalty category, e.g. 罚款"
    )
    limit: int = Field(
        50, ge=1, le=MAX_PAGE, description=f"每页条数（最多 {MAX_PAGE}）/ page size (max {MAX_PAGE})"
    )
    cursor: str | None = Field(
        None, max_length=200, description="上一页返回的 next_cursor / next_cursor of the previous page"
    )
    offset: int | None = Field(
        None, ge=0, le=1_000_000, description="偏移量（与 cursor 二选一）/ offset (instead of cursor)"
    )


class PenaltyDecision(BaseModel):
    """One administrative penalty decision (双公示), current version; personal ID numbers masked."""

    id: int = Field(description="记录编号 / record id")
    authority_code: str = Field(description="CF_CFJGDM 处罚机关统一社会信用代码 / authority USCC")
    authority_name: str = Field(description="CF_CFJG 处罚机关 / deciding authority")
    decision_no: str = Field(description="CF_WSH 行政处罚决定书文号 / decision document number")
    party_name: str = Field(description="CF_XDR_MC 行政相对人名称 / party name")
    party_category: str = Field(description="CF_XDR_LB 行政相对人类别 / party category")
    party_uscc: str | None = Field(description="CF_XDR_SHXYM 统一社会信用代码 / party USCC")
    party_business_reg_no: str | None = Field(
        description="CF_XDR_GSZC 工商注册号 / business registration no."
    )
    party_org_code: str | None = Field(description="CF_XDR_ZZJG 组织机构代码 / organisation code")
    party_tax_reg_no: str | None = Field(description="CF_XDR_SWDJ 税务登记号 / tax registration no.")
    party_institution_cert_no: str | None = Field(
        description="CF_XDR_SYDW 事业单位证书号 / public institution cert no."
    )
    party_social_org_reg_no: str | None = Field(
        description="CF_XDR_SHZZ 社会组织登记证号 / social organisation reg. no."
    )
    legal_rep_name: str | None = Field(description="CF_FRDB 法定代表人 / legal representative")
    legal_rep_id_type: str | None = Field(description="CF_FR_ZJLX 法定代表人证件类型 / legal rep. ID type")
    legal_rep_id_masked: str | None = Field(
        description="CF_FR_ZJHM 法定代表人证件号码（脱敏）/ legal rep. ID, masked"
    )
    party_id_type: str | None = Field(description="CF_XDR_ZJLX 证件类型 / party ID type")
    party_id_masked: str | None = Field(description="CF_XDR_ZJHM 证件号码（脱敏）/ party ID number, masked")
    violation_type: str = Field(description="CF_WFXW 违法行为类型 / violation type")
    violation_facts: str | None = Field(description="CF_SY 违法事实 / facts")
    legal_basis: str | None = Field(description="CF_YJ 处罚依据 / legal basis")
    penalty_categories: list[str] = Field(description="CF_CFLB 处罚类别 / penalty categories")
    penalty_content: str | None = Field(description="CF_NR 处罚内容 / penalty content")
    fine_yuan: Decimal | None = Field(description="CF_NR_FK 罚款金额（元）/ fine in yuan")
    confiscation_yuan: Decimal | None = Field(description="CF_NR_WFFF 没收金额（元）/ confiscation in yuan")
    licence_affected: str | None = Field(
        description="CF_NR_ZKDX 暂扣或吊销证照 / licence suspended or revoked"
    )
    decision_date: date = Field(description="CF_JDRQ 处罚决定日期 / decision date")
    valid_until: date | None = Field(description="CF_YXQ 处罚有效期 / valid until")
    valid_long_term: bool = Field(description="长期有效（2099-12-31）/ valid long-term")
    publicity_until: date | None = Field(description="CF_GSJZQ 公示截止期 / publicity until")
    source_unit_name: str | None = Field(description="CF_SJLY 数据来源单位 / source unit")
    source_unit_code: str | None = Field(
        description="CF_SJLYDM 数据来源单位统一社会信用代码 / source unit USCC"
    )
    remarks: str | None = Field(description="BZ 备注 / remarks")
    source_format: str = Field(description="来源格式 current | legacy / format variant received")
    warnings: list[str] = Field(description="校验警告（已入库）/ warning rules the record was loaded with")
    version: int = Field(description="当前版本号 / current version")
    content_hash: str = Field(description="内容哈希 / content hash of this version")
    first_batch_id: UUID = Field(description="首次入库批次 / first batch")
    last_batch_id: UUID = Field(description="最近更新批次 / latest batch")
    created_at: datetime
    updated_at: datetime


class Paging(BaseModel):
    """Where this page sits: pass next_cursor back as `cursor` for the next page."""

    limit: int
    offset: int | None = None
    cursor: str | None = None
    returned: int = Field(description="本页条数 / rows on this page")
    has_more: bool
    next_cursor: str | None = Field(
        description="下一页游标，无更多时为空 / cursor of the next page, null at the end"
    )


class PenaltyPage(BaseModel):
    """A page of penalty decisions, newest decision date first."""

    items: list[PenaltyDecision]
    paging: Paging


class PenaltyVersion(BaseModel):
    """One historical version of a decision as it was recorded."""

    version: int
    batch_id: UUID = Field(description="带来此版本的批次 / batch that brought this version")
    content_hash: str
    recorded_at: datetime
    record: dict[str, Any] = Field(
        description="该版本的记录（证件号脱敏）/ the record of that version, IDs masked"
    )


class PenaltyDetail(BaseModel):
    """A decision's current version and its whole version history."""

    penalty: PenaltyDecision
    versions: list[PenaltyVersion]


class Batch(BaseModel):
    """A batch manifest row: one received file, its hash and its row conservation figures."""

    id: UUID
    dataset: str
    source: str
    submitted_by: str | None
    filename: str | None
    file_format: str | None
    encoding: str | None
    sha256: str
    byte_size: int
    received_at: datetime
    status: str = Field(description="landed | loaded | failed | rejected")
    rows_in: int | None
    rows_loaded: int | None
    rows_inserted: int | None
    rows_updated: int | None
    rows_quarantined: int | None
    rows_duplicate: int | None
    rows_warned: int | None
    error: str | None
    finished_at: datetime | None


class QuarantinedRow(BaseModel):
    """A row that failed a rule: its rules, bilingual messages and the raw row (IDs masked)."""

    batch_id: UUID
    dataset: str
    source_row: int = Field(description="文件中的行号（表头为第 1 行）/ row number in the file (header = 1)")
    natural_key: str | None
    rules: list[str] = Field(description="未通过的规则名 / failed rule names")
    errors: Any = Field(
        description="每条规则的错误 [{rule, field, value, zh, en}] / one entry per failed rule"
    )
    raw_record: dict[str, Any]
    quarantined_at: datetime


class SubmissionDetail(BaseModel):
    """A submitted batch and (a page of) its quarantined rows."""

    batch: Batch
    quarantined: list[QuarantinedRow]
    paging: Paging


class BatchPage(BaseModel):
    """A page of batch manifests, newest first."""

    items: list[Batch]
    paging: Paging


class QuarantinePage(BaseModel):
    """A page of quarantined rows, newest first."""

    items: list[QuarantinedRow]
    paging: Paging


class SubmissionReport(BaseModel):
    """What happened to an uploaded file (ggzy.pipelines.penalties.BatchReport.to_dict())."""

    model_config = ConfigDict(extra="allow")

    batch_id: str
    dataset: str
    filename: str | None
    sha256: str
    status: str
    rows_in: int | None
    rows_loaded: int | None
    rows_inserted: int | None
    rows_updated: int | None
    rows_quarantined: int | None
    rows_duplicate: int | None
    rows_warned: int | None
    already_processed: bool
    quarantined: list[dict[str, Any]] = Field(
        description="[{row, rules, errors: [{rule, field, value, zh, en}]}]"
    )


class FeedPage(BaseModel):
    """The pull feed of a member unit: events after a cursor (ggzy.delivery.feed.read_feed)."""

    model_config = ConfigDict(extra="allow")

    items: list[dict[str, Any]]
    next_cursor: int = Field(description="下次请求的 after 参数 / pass as `after` next time")


class Receipt(BaseModel):
    """Outcome of a signed acknowledgement (签收) (ggzy.delivery.receipts.record_receipt)."""

    model_config = ConfigDict(extra="allow")


class DeliveryStatus(BaseModel):
    """Delivery and acknowledgement counts, overall and per unit (ggzy.delivery.report.delivery_status)."""

    model_config = ConfigDict(extra="allow")


class OverdueReport(BaseModel):
    """Units whose acknowledgement is overdue by the profile's working-day deadline."""

    as_of: date
    items: list[dict[str, Any]]


class Health(BaseModel):
    """Liveness: the process answers (no data)."""

    status: str


def _is_personal_id_key(key: str) -> bool:
    lowered = key.lower()
    return (
        "zjhm" in lowered  # CF_XDR_ZJHM, CF_FR_ZJHM
        or "证件号码" in key  # the template's Chinese headers, as raw rows carry them
        or "身份证号" in key
        or lowered.endswith("_id_masked")
        or lowered in {"id_number", "party_id", "legal_rep_id"}
    )


def mask_personal_ids(value: Any) -> Any:
    """Defence in depth for JSON records leaving the hub: mask ID numbers, drop their keyed hashes."""
    from ggzy.identifiers import mask_id_number

    if isinstance(value, list):
        return [mask_personal_ids(item) for item in value]
    if not isinstance(value, dict):
        return value
    masked: dict[str, Any] = {}
    field = str(value.get("field") or "")
    for key, item in value.items():
        if key.lower().endswith("_id_hash"):
            continue
        if isinstance(item, str) and (
            _is_personal_id_key(key) or (key == "value" and _is_personal_id_key(field))
        ):
            masked[key] = mask_id_number(item)
        else:
            masked[key] = mask_personal_ids(item)
    return masked


# ---------------------------------------------------------------- oversight channel (issue 5)


class LibraryColumn(BaseModel):
    """One column of a library view."""

    name: str
    type: str = Field(description="PostgreSQL 类型 / PostgreSQL type")
    comment: str | None = Field(description="中英文说明 / Chinese and English description")


class LibraryView(BaseModel):
    """One read-only view of the oversight library."""

    name: str = Field(description="视图名（library 模式）/ view name in schema library")
    comment: str | None
    columns: list[LibraryColumn]


class LibraryCatalog(BaseModel):
    """Every library view the caller may read, documented column by column."""

    views: list[LibraryView]


class LibraryRows(BaseModel):
    """A page of one library view's rows."""

    view: str
    items: list[dict[str, Any]]
    paging: Paging


class BilingualNote(BaseModel):
    """A note in Chinese and English."""

    zh: str
    en: str


class ProfileSection(BaseModel):
    """One section of an entity profile; absent datasets are empty with a note."""

    available: bool = Field(description="数据集是否已接入 / whether the dataset is in the hub")
    items: list[dict[str, Any]]
    truncated: bool = Field(description="是否超过每节上限被截断 / cut at the per-section cap")
    note: BilingualNote | None = None


class EntityProfile(BaseModel):
    """Everything the library holds about one market entity (by USCC)."""

    uscc: str
    names: list[str] = Field(description="记录中出现的名称 / names the entity appears under")
    sections: dict[str, ProfileSection] = Field(
        description="penalties, bids, wins, restrictions, alerts, co_bidders"
    )


class SectionDossier(BaseModel):
    """Everything the library holds about one bid section (标段)."""

    bid_section_code: str
    section: dict[str, Any] = Field(
        description="library.sections 中该标段的一行 / the section's row of library.sections"
    )
    tender_project: dict[str, Any] | None = Field(
        description="所属招标项目 / its tender project (library.tender_projects)"
    )
    parts: dict[str, ProfileSection] = Field(
        description="announcements, bids, fingerprints, deposits, experts, candidates, result, contracts, "
        "complaints, alerts, exchange_alerts, scores（个人信息脱敏；成员单位仅见共享部分 / personal data masked; "
        "member units see only their share)"
    )


class SqlRequest(BaseModel):
    """One read-only SQL query over the library views."""

    model_config = ConfigDict(extra="forbid")

    sql: str = Field(
        min_length=1, max_length=20_000, description="一条 SELECT 语句 / exactly one SELECT statement"
    )
    max_rows: int = Field(1000, ge=1, le=10_000, description="最多返回行数 / row cap (max 10000)")
    timeout_ms: int = Field(10_000, ge=100, le=30_000, description="语句超时毫秒 / statement timeout in ms")


class SqlColumn(BaseModel):
    """A result column."""

    name: str
    type: str


class SqlResultBody(BaseModel):
    """The rows of a SQL query, capped at max_rows."""

    columns: list[SqlColumn]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="结果超过 max_rows 被截断 / more rows existed than max_rows")
    sql_sha256: str = Field(description="所执行 SQL 文本的 sha256 / sha256 of the SQL text run")


class UnmaskRequest(BaseModel):
    """Which personal ID number to reveal, for the case in X-Case-Ref."""

    model_config = ConfigDict(extra="forbid")

    penalty_id: int = Field(ge=1, le=2**63 - 1, description="处罚决定记录编号 / penalty decision record id")
    field: Literal["party_id", "legal_rep_id"] = Field(
        description="party_id 行政相对人证件号 | legal_rep_id 法定代表人证件号 / which ID number"
    )


class UnmaskResult(BaseModel):
    """The revealed ID number (never cached; the request is its own audit event)."""

    penalty_id: int
    field: str
    id_type: str | None
    id_number: str


class AuditEvent(BaseModel):
    """One row of the hash-chained audit log."""

    model_config = ConfigDict(extra="allow")

    seq: int
    occurred_at: datetime
    actor: str | None
    org_code: str | None
    role: str | None
    case_ref: str | None
    purpose: str | None
    action: str
    params: str | None
    row_count: int | None
    result_sha256: str | None
    client_addr: str | None
    hash: str


class AuditEventPage(BaseModel):
    """Audit events after a sequence number, oldest first."""

    items: list[AuditEvent]
    next_after: int = Field(description="下次请求的 after / pass as `after` next time")


class AuditCheckpoint(BaseModel):
    """The audit chain head signed with the hub's ed25519 key (verify with `ggzy audit verify --checkpoint`)."""

    format: str
    seq: int = Field(description="最新序号 / latest sequence number")
    hash: str = Field(description="该行哈希 / that row's hash")
    created_at: str
    database: str
    public_key: str = Field(description="ed25519 公钥（base64）/ public key, base64 of 32 raw bytes")
    signature: str = Field(
        description="ed25519 签名（base64）/ signature over the canonical JSON of the other fields"
    )
