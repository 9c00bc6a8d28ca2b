"""Trading data (公共资源交易平台系统数据规范, data-standards §3): raw landing, core datasets, market entities,
watermarks and the children waiting for their parent.

Raw zone: ONE landing table, raw.trading_row (dataset code + the record as jsonb under the spec's own
upper-case field names). Sixteen datasets with evolving field sets land in one place without a migration
per new field; every field the centre sends is kept exactly as named, including ones the core does not
map yet. (Personal ID numbers are replaced by mask + keyed hash before landing, see below.)

Core: one table per dataset with readable English column names. Every column mapped from the spec says
so in its comment, in a fixed grammar the pipeline reads back (ggzy.pipelines.trading.core_layout):
``<中文> <English> (spec: FIELD)``, optionally ``(spec: FIELD, masked)`` / ``(spec: FIELD, keyed hash)``
for personal ID numbers, and ``(spec: FIELD, market entity)`` for the core.market_entity reference of a
code column. Money columns (numeric, suffix _yuan) always hold 元: PRICE_UNIT 1 (万元) is multiplied by
10000 on the way in; the received unit stays in price_unit_received.

Revision ID: 0003_trading
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003_trading"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

T, TS, D, M, B, INT = "text", "timestamp", "date", "numeric(26, 6)", "boolean", "integer"

COMMON = [
    ("platform_code", "PLATFORM_CODE", T, "交易平台标识码 trading platform code"),
    (
        "pub_service_platform_code",
        "PUB_SERVICE_PLAT_CODE",
        T,
        "公共服务平台标识码 public service platform code",
    ),
    ("data_timestamp", "DATA_TIMESTAMP", TS, "数据时间戳 data timestamp"),
    ("trade_platform", "TRADE_PLAT", T, "交易平台（工程建设类） trading platform, engineering datasets"),
    (
        "pub_service_platform",
        "PUB_SERVICE_PLAT",
        T,
        "公共服务平台（工程建设类） public service platform, engineering",
    ),
]


def entity(prefix: str, field: str, zh: str) -> list[tuple[str, str, str, str]]:
    """A code column and its market-entity reference."""
    return [
        (
            f"{prefix}_code",
            field,
            T,
            f"{zh}代码（统一社会信用代码或组织机构代码） {prefix} USCC or organisation code",
        ),
        (
            f"{prefix}_entity_id",
            f"{field}, market entity",
            "bigint REFERENCES core.market_entity(id)",
            f"{zh}市场主体 market entity of {prefix}_code",
        ),
    ]


def money(name: str, field: str, zh: str) -> tuple[str, str, str, str]:
    """An amount normalised to 元."""
    return (f"{name}_yuan", field, M, f"{zh}（元，万元已换算） {name.replace('_', ' ')} in yuan")


PRICE_UNIT = ("price_unit_received", "PRICE_UNIT", T, "收到的价格单位 0 元 / 1 万元 price unit as received")

# dataset code -> (core table, Chinese + English title, natural key columns, [(column, spec, type, comment)])
DATASETS = {
    "500": ("project", "项目 Projects", ("project_code",), [
        ("project_code", "PROJECT_CODE", T, "项目编号 project code (17)"),
        ("project_name", "PROJECT_NAME", T, "项目名称 project name"),
        ("region_code", "REGION_CODE", T, "行政区划代码 region code"),
        ("investment_project_code", "INVEST_PROJECT_CODE", T, "投资项目统一代码 investment project code"),
        ("legal_person", "LEGAL_PERSON", T, "项目法人 project legal person"),
        ("industry_type", "INDUSTRIES_TYPE", T, "所属行业 industry"),
        ("fund_source", "FUND_SOURCE", T, "资金来源 source of funds"),
        ("created_time", "CREATE_TIME", TS, "创建时间 created"),
    ]),
    "501": ("tender_project", "招标项目 Tender projects", ("tender_project_code",), [
        ("project_code", "PROJECT_CODE", T, "项目编号 project code"),
        ("tender_project_code", "TENDER_PROJECT_CODE", T, "招标项目编号 tender project code (20)"),
        ("tender_project_name", "TENDER_PROJECT_NAME", T, "招标项目名称 tender project name"),
        ("tender_project_type", "TENDER_PROJECT_TYPE", T, "招标项目类型 tender project type"),
        ("region_code", "REGION_CODE", T, "行政区划代码 region code"),
        ("tenderer_name", "TENDERER_NAME", T, "招标人名称 tenderer name"),
        *entity("tenderer", "TENDERER_CODE", "招标人"),
        ("tender_agency_name", "TENDER_AGENCY_NAME", T, "招标代理机构名称 tender agency name"),
        *entity("tender_agency", "TENDER_AGENCY_CODE", "招标代理机构"),
        ("tender_mode", "TENDER_MODE", T, "招标方式 1 公开 / 2 邀请 tender mode 1 open, 2 invited"),
        ("supervise_dept_name", "SUPERVISE_DEPT_NAME", T, "监督部门名称 supervising department"),
        ("supervise_dept_code", "SUPERVISE_DEPT_CODE", T, "监督部门代码 supervising department code"),
        ("created_time", "CREATE_TIME", TS, "创建时间 created"),
    ]),
    "502": ("bid_section", "标段（包） Bid sections", ("bid_section_code",), [
        ("tender_project_code", "TENDER_PROJECT_CODE", T, "招标项目编号 tender project code"),
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code (23)"),
        ("bid_section_name", "BID_SECTION_NAME", T, "标段（包）名称 bid section name"),
        money("contract_reckon_price", "CONTRACT_RECKON_PRICE", "合同估算价（控制价）"),
        PRICE_UNIT,
        ("currency_code", "CURRENCY_CODE", T, "币种 currency"),
        ("region_code", "REGION_CODE", T, "行政区划代码 region code"),
        ("created_time", "CREATE_TIME", TS, "创建时间 created"),
    ]),
    "503": ("tender_announcement", "招标公告 Tender announcements", ("tender_project_code", "notice_name"), [
        ("tender_project_code", "TENDER_PROJECT_CODE", T, "招标项目编号 tender project code"),
        ("bid_section_codes", "BID_SECTION_CODES", T, "标段（包）编号列表 bid section codes"),
        ("notice_name", "NOTICE_NAME", T, "公告名称 notice name"),
        ("notice_send_time", "NOTICE_SEND_TIME", TS, "公告发布时间 notice published"),
        ("doc_get_start_time", "DOC_GET_START_TIME", TS, "招标文件获取开始时间 tender documents from"),
        ("doc_get_end_time", "DOC_GET_END_TIME", TS, "招标文件获取截止时间 tender documents until"),
        ("bid_doc_refer_end_time", "BID_DOC_REFER_END_TIME", TS, "投标文件递交截止时间 bid submission deadline"),
        ("bid_open_time", "BID_OPEN_TIME", TS, "开标时间 bid opening"),
        ("url", "URL", T, "公告链接 notice URL"),
    ]),
    "507": ("bid", "投标人名单/开标明细 Bids", ("bid_section_code", "bidder_code"), [
        ("tender_project_code", "TENDER_PROJECT_CODE", T, "招标项目编号 tender project code"),
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        ("bidder_name", "BIDDER_NAME", T, "投标人名称 bidder name"),
        *entity("bidder", "BIDDER_ORG_CODE", "投标人"),
        ("bidder_code_type", "BIDDER_CODE_TYPE", T, "投标人代码类型 bidder code type"),
        ("bidder_role", "BIDDER_ROLE", T, "投标人角色 bidder role"),
        ("is_dishonest", "IS_LOST", B, "是否失信人 listed as dishonest"),
        ("bid_manager", "BID_MANAGER", T, "项目负责人 bid manager"),
        ("project_manager_code", "PM_CODE", T, "项目负责人证书编号 project manager certificate"),
        ("margin_committed", "IS_COMMIT_MARGIN", B, "是否缴纳保证金 deposit paid"),
        ("margin_pay_form", "MARGIN_PAY_FORM", T, "保证金缴纳方式 deposit payment form"),
        ("margin_receive_time", "MARGIN_RECEIVE_TIME", TS, "保证金到账时间 deposit received"),
        money("bid_price", "BID_PRICE", "投标价格"),
        PRICE_UNIT,
        ("price_form_code", "PRICE_FORM_CODE", T, "报价形式 1 金额 2 费率 3 单价 9 其他 price form"),
        ("other_bid_price", "OTHER_BID_PRICE", T, "其他类型报价 non-amount bid"),
    ]),
    "508": ("evaluation_expert", "评标专家 Evaluation experts", ("bid_section_code", "expert_id_hash"), [
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        ("expert_name", "EXPERT_NAME", T, "专家姓名 expert name"),
        ("expert_id_masked", "ID_CARD, masked", T, "身份证件号码（脱敏） ID number, masked"),
        ("expert_id_hash", "ID_CARD, keyed hash", T, "身份证件号码（密钥哈希，用于匹配） ID number, keyed hash"),
        ("id_card_type", "ID_CARD_TYPE", T, "证件类型 ID document type"),
        ("expert_type", "EXPERT_TYPE", T, "专家类型 expert type"),
        ("is_chair", "IS_CHAIR_MAN", B, "是否评标委员会负责人 chairs the committee"),
    ]),
    "510": ("tender_candidate", "中标候选人 Winning candidates", ("bid_section_code", "bidder_code"), [
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        ("bidder_name", "BIDDER_NAME", T, "候选人名称 candidate name"),
        *entity("bidder", "BIDDER_CODE", "候选人"),
        ("candidate_rank", "RANK", INT, "排名 rank"),
        money("evaluation_price", "EVALUATION_PRICE", "评标价"),
        money("win_price", "WIN_PRICE", "中标价"),
        PRICE_UNIT,
    ]),
    "512": ("contract", "合同 Contracts", ("bid_section_code", "contract_name"), [
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        ("contract_name", "CONTRACT_NAME", T, "合同名称 contract name"),
        *entity("tenderer", "TENDERER_CODE", "招标人"),
        ("bidder_name", "BIDDER_NAME", T, "中标人名称 contractor name"),
        *entity("bidder", "BIDDER_CODE", "中标人"),
        money("contract_price", "CONTRACT_PRICE", "合同金额"),
        PRICE_UNIT,
        ("contract_sign_time", "CONTRACT_SIGN_TIME", TS, "合同签署时间 signed"),
        money("settle_price", "SETTLE_PRICE", "结算金额"),
        ("perform_change_content", "PERFORM_CHANGE_CONTENT", T, "合同变更内容 changes"),
        ("finish_time", "FINISH_TIME", TS, "完成时间 finished"),
    ]),
    "513": ("win_result", "中标结果公告 Award results", ("bid_section_code",), [
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        ("win_bidder_name", "WIN_BIDDER_NAME", T, "中标人名称 winner name"),
        *entity("win_bidder", "WIN_BIDDER_CODE", "中标人"),
        money("bid_amount", "BID_AMOUNT", "中标金额"),
        PRICE_UNIT,
        ("notice_send_time", "NOTICE_SEND_TIME", TS, "公告发布时间 published"),
        ("project_lead_name", "PROJECT_LEAD", T, "项目负责人 project lead"),
        ("project_lead_id_masked", "PROJECT_LEAD_ID, masked", T, "项目负责人身份证号（脱敏） lead ID, masked"),
        ("project_lead_id_hash", "PROJECT_LEAD_ID, keyed hash", T, "项目负责人身份证号（密钥哈希） lead ID, keyed hash"),
    ]),
    "519": ("bid_document_fingerprint", "投标文件特征码 Bid-document fingerprints", ("bid_section_code", "bidder_code"), [
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        ("bidder_name", "BIDDER_NAME", T, "投标人名称 bidder name"),
        *entity("bidder", "BIDDER_ORG_CODE", "投标人"),
        ("bid_document_name", "BID_DOCUMENT_NAME", T, "投标文件名称 document name"),
        ("bid_document_size", "BID_DOCUMENT_SIDE", T, "投标文件大小 document size"),
        ("bid_document_md5", "BID_DOCUMENT_MD5", T, "投标文件MD5 document MD5"),
        ("submitted_time", "TENDER_DOC_SUBMITTIME", TS, "投标文件递交时间 submitted"),
        ("cpu_id", "CPU_ID", T, "CPU序列号 CPU id"),
        ("hard_disk_serial", "HARD_DISK_SERIAL_NUMBER", T, "硬盘序列号 disk serial"),
        ("memory_serial", "MEMORY_SERIAL_NUMBER", T, "内存序列号 memory serial"),
        ("ip_address", "NET_ID", T, "IP地址 IP address"),
        ("mac_address", "MAC_ADDRESS", T, "MAC地址 MAC address"),
        ("valuation_xml", "VALUATION_XML", T, "计价软件信息（含加密锁号） pricing software info"),
        ("make_tool_xml", "MAKE_TOOL_XML", T, "制作工具信息 authoring tool info"),
    ]),
    "9010": ("bid_tool_fingerprint", "投标文件制作工具固化特征码 Bid-tool fingerprints", ("bid_section_code", "bidder_code"), [
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        *entity("bidder", "BIDDER_ORG_CODE", "投标人"),
        ("submitted_time", "SUBMITTIME", TS, "递交时间 submitted"),
        ("cpu_id", "CPU_ID", T, "CPU序列号 CPU id"),
        ("hard_disk_serial", "HARD_DISK_SERIAL_NUMBER", T, "硬盘序列号 disk serial"),
        ("memory_serial", "MEMORY_SERIAL_NUMBER", T, "内存序列号 memory serial"),
        ("ip_address", "NET_ID", T, "IP地址 IP address"),
        ("mac_address", "MAC_ADDRESS", T, "MAC地址 MAC address"),
        ("tool_version", "TOOL_VERSION", T, "工具版本 tool version"),
    ]),
    "9011": ("bid_deposit", "投标保证金缴纳信息 Bid deposits", ("bid_section_code", "bidder_code"), [
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        *entity("bidder", "BIDDER_ORG_CODE", "投标人"),
        ("margin_pay_form", "MARGIN_PAY_FORM", T, "缴纳方式 payment form"),
        ("margin_receive_time", "MARGIN_RECEIVE_TIME", TS, "到账时间 received"),
        ("margin_bank", "MARGIN_BANK", T, "缴纳银行 bank"),
        ("margin_account", "MARGIN_ACCOUNT", T, "缴纳账号 paying account"),
        money("margin_amount", "MARGIN_PAY", "保证金金额"),
        PRICE_UNIT,
    ]),
    "302": ("blacklist", "黑名单信息 Blacklist", ("blacklist_code",), [
        ("blacklist_code", "BLACKLIST_CODE", T, "黑名单编号 blacklist code (36)"),
        ("body_name", "BODY_NAME", T, "主体名称 body name"),
        *entity("body", "BODY_CODE", "主体"),
        ("body_type", "BODY_TYPE", T, "主体类型 body type"),
        ("record_reason", "RECORD_REASON", T, "列入原因 reason"),
        ("record_date", "RECORD_DATE", D, "列入日期 listed on"),
        ("government", "GOVERNMENT", T, "认定部门 deciding authority"),
        ("document_code", "DOCUMENT_CODE", T, "文号 document number"),
        ("revocation_status", "REVOCATION_STATUS", T, "撤销状态 revocation status"),
        ("confined_action", "CONFINED_ACTION", T, "限制行为 restricted actions"),
    ]),
    "303": ("blacklist_withdrawal", "撤销黑名单信息 Blacklist withdrawals", ("blacklist_code",), [
        ("blacklist_code", "BLACKLIST_CODE", T, "黑名单编号 blacklist code"),
        *entity("body", "BODY_CODE", "主体"),
        ("revocation_reasons", "REVOCATIONEASONS", T, "撤销原因 reasons (spec spelling)"),
        ("government", "GOVERNMENT", T, "认定部门 deciding authority"),
        ("document_code", "DOCUMENT_CODE", T, "文号 document number"),
        ("application_date", "APPLICATION_DATE", D, "申请日期 applied on"),
    ]),
    "402": ("project_alert", "项目报警信息 Project alerts", ("bid_section_code", "alert_date", "body_code"), [
        ("tender_project_code", "TENDER_PROJECT_CODE", T, "招标项目编号 tender project code"),
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        ("body_name", "BODY_NAME", T, "主体名称 body name"),
        *entity("body", "BODY_CODE", "主体"),
        ("supervisor_unit_name", "SUPERVISOR_UNIT_NAME", T, "监督单位 supervising unit"),
        ("supervisory_node", "SUPERVISORY_NODE", T, "监督环节 supervisory node"),
        ("alert_level", "ALERT_LEVEL", T, "报警级别 alert level"),
        ("alert_date", "ALERT_DATE", TS, "报警时间 alert time"),
        ("alert_info", "ALERT_INFO", T, "报警信息 alert text"),
        ("handled", "HANDLED", T, "是否处理 handled"),
        ("handle_result", "HANDLE_RESULT", T, "处理结果 outcome"),
    ]),
    "404": ("complaint", "投诉信息 Complaints", ("bid_section_code", "complaint_date", "complained_body_code"), [
        ("tender_project_code", "TENDER_PROJECT_CODE", T, "招标项目编号 tender project code"),
        ("bid_section_code", "BID_SECTION_CODE", T, "标段（包）编号 bid section code"),
        ("complainant_name", "COMPLAINT_NAME", T, "投诉人（保密） complainant, confidential"),
        ("complainant_phone", "COMPLAINT_PHONE", T, "投诉人电话（保密） complainant phone, confidential"),
        ("complainant_mail", "COMPLAINT_MAIL", T, "投诉人邮箱（保密） complainant e-mail, confidential"),
        ("complained_body_name", "COMPLAINTED_BODY_NAME", T, "被投诉主体名称 body complained about"),
        *entity("complained_body", "COMPLAINTED_BODY_CODE", "被投诉主体"),
        ("complaint_content", "COMPLAINT_CONTENT", T, "投诉内容 complaint"),
        ("complaint_date", "COMPLAINT_DATE", D, "投诉日期 complained on"),
        ("accept_date", "ACCEPT_DATE", D, "受理日期 accepted on"),
        ("handle_result", "HANDLE_RESULT", T, "处理结果 outcome"),
        ("handle_date", "HANDLE_DATE", D, "处理日期 handled on"),
        ("dealing_unit", "DEALING_UNIT", T, "处理单位 handling unit"),
    ]),
}  # fmt: skip


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _core_table(code: str) -> str:
    table, title, key, columns = DATASETS[code]
    columns = [*columns, *COMMON]
    body = ",\n    ".join(f"{name} {sqltype}" for name, _, sqltype, _ in columns)
    comments = "\n".join(
        f"COMMENT ON COLUMN core.{table}.{name} IS {_quote(f'{comment} (spec: {spec})')};"
        for name, spec, _, comment in columns
    )
    entity_indexes = "\n".join(
        f"CREATE INDEX ON core.{table} ({name});" for name, *_ in columns if name.endswith("_entity_id")
    )
    return f"""
CREATE TABLE core.{table} (
    id bigserial PRIMARY KEY,
    {body},
    warnings text[] NOT NULL DEFAULT '{{}}',
    version integer NOT NULL DEFAULT 1,
    content_hash text NOT NULL,
    first_batch_id uuid NOT NULL REFERENCES ops.batch(id),
    last_batch_id uuid NOT NULL REFERENCES ops.batch(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT {table}_natural_key UNIQUE NULLS NOT DISTINCT ({", ".join(key)})
);
COMMENT ON TABLE core.{table} IS {_quote(f"{title} (spec dataset {code})")};
{comments}
{entity_indexes}
"""


UPGRADE = (
    """
-- Landing: every received trading record, spec field names kept, one partition per batch.
CREATE TABLE raw.trading_row (
    batch_id uuid NOT NULL REFERENCES ops.batch(id) ON DELETE CASCADE,
    source_row integer NOT NULL,
    dataset text NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (batch_id, source_row)
);
COMMENT ON TABLE raw.trading_row IS
    '交易数据落地 Trading records as received (spec field names; personal IDs replaced by mask + keyed hash)';

-- Rows of a batch that were accepted into the waiting table (a subset of rows_loaded, so the
-- conservation CHECK rows_in = loaded + quarantined + duplicate stays as it is).
ALTER TABLE ops.batch ADD COLUMN rows_waiting integer;
ALTER TABLE ops.batch ADD CONSTRAINT rows_waiting_within_loaded
    CHECK (rows_waiting IS NULL OR status <> 'loaded' OR rows_waiting <= rows_loaded);

-- Incremental pulls: where each source + dataset stands. `since` is the DATA_TIMESTAMP watermark of the
-- last completed pull; `position` where the pull under way stands (API cursor or database keyset),
-- committed with each page's rows so a killed run resumes with no gap and no duplicate.
CREATE TABLE ops.trading_watermark (
    source text NOT NULL,
    dataset text NOT NULL,
    since text,
    position jsonb,
    open_batch_id uuid REFERENCES ops.batch(id),
    rows_pulled bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, dataset)
);
COMMENT ON TABLE ops.trading_watermark IS '增量水位 Incremental pull watermark per source and dataset';

-- Children whose parent has not arrived (e.g. a bid before its section): validated, kept here, retried
-- on every later run of their dataset, reported when they wait longer than the allowed days.
CREATE TABLE ops.trading_waiting (
    dataset text NOT NULL,
    natural_key text NOT NULL,
    parent_dataset text NOT NULL,
    parent_key text NOT NULL,
    record jsonb NOT NULL,
    warnings text[] NOT NULL DEFAULT '{}',
    batch_id uuid NOT NULL REFERENCES ops.batch(id),
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_tried timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 1,
    PRIMARY KEY (dataset, natural_key)
);
CREATE INDEX ON ops.trading_waiting (parent_dataset, parent_key);
COMMENT ON TABLE ops.trading_waiting IS '等待父记录的子记录 Children waiting for their parent record';

-- Market entities: one row per body, resolved by USCC (or by the organisation code, characters 9-17).
CREATE TABLE core.market_entity (
    id bigserial PRIMARY KEY,
    uscc text UNIQUE,
    org_code text NOT NULL,
    name text,
    uscc_check_ok boolean,
    first_seen timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX market_entity_org_code_without_uscc ON core.market_entity (org_code) WHERE uscc IS NULL;
CREATE INDEX ON core.market_entity (org_code);
COMMENT ON TABLE core.market_entity IS '市场主体 Market entities (bidders, tenderers, agencies, listed bodies)';
COMMENT ON COLUMN core.market_entity.uscc IS '统一社会信用代码 unified social credit code (GB 32100)';
COMMENT ON COLUMN core.market_entity.org_code IS '组织机构代码 organisation code (GB 11714; USCC characters 9-17)';

-- yyyyMMddHHmmss / yyyyMMdd text to timestamp; NULL when it is neither or names no real moment
-- (validation reports those). Nested CASE: each step runs only when the previous ones held.
CREATE FUNCTION core.spec_time(value text) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL OR value !~ '^[0-9]{8}([0-9]{6})?$' THEN NULL
        WHEN substr(value, 1, 4) = '0000' OR substr(value, 5, 2) NOT BETWEEN '01' AND '12' THEN NULL
        WHEN substr(value, 7, 2)::int NOT BETWEEN 1 AND extract(day FROM make_date(substr(value, 1, 4)::int,
             substr(value, 5, 2)::int, 1) + interval '1 month - 1 day')::int THEN NULL
        WHEN length(value) = 8 THEN make_timestamp(substr(value, 1, 4)::int, substr(value, 5, 2)::int,
             substr(value, 7, 2)::int, 0, 0, 0)
        WHEN substr(value, 9, 2) > '23' OR substr(value, 11, 2) > '59' OR substr(value, 13, 2) > '59' THEN NULL
        ELSE make_timestamp(substr(value, 1, 4)::int, substr(value, 5, 2)::int, substr(value, 7, 2)::int,
             substr(value, 9, 2)::int, substr(value, 11, 2)::int, substr(value, 13, 2)::int)
    END
$$;
"""
    + "".join(_core_table(code) for code in DATASETS)
    + """
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ops, raw, core TO ggzy_api;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ops, raw, core TO ggzy_api;
"""
)

DOWNGRADE = (
    "".join(f"DROP TABLE IF EXISTS core.{table};\n" for table, *_ in reversed(list(DATASETS.values())))
    + """
DROP FUNCTION IF EXISTS core.spec_time(text);
DROP TABLE IF EXISTS core.market_entity;
DROP TABLE IF EXISTS ops.trading_waiting;
DROP TABLE IF EXISTS ops.trading_watermark;
ALTER TABLE ops.batch DROP CONSTRAINT IF EXISTS rows_waiting_within_loaded;
ALTER TABLE ops.batch DROP COLUMN IF EXISTS rows_waiting;
DROP TABLE IF EXISTS raw.trading_row;
"""
)


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
