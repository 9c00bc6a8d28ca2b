"""Oversight library over the trading, credit and supervision data: sections, bids, wins, restrictions,
alerts, co-bidders, complaints, the watch list and the rest of a section's dossier.

Revision ID: 0006_library_trading
Revises: 0002_oversight, 0005_supervision (merge of the heads; 0005 already depends on 0003 and 0004)
Create Date: 2026-11-29

Follows the pattern documented in 0002_oversight: every view is a security barrier filtered on
`(SELECT oversight.session_scope())`, commented in Chinese and English view by view and column by column,
SELECT granted to ggzy_library_reader only.

Sharing scope, decided per view:

* SHARED (every bound session, i.e. every member unit and every oversight body): the trading records the
  exchange centre publishes or hands to all supervising departments (tender projects, sections,
  announcements, bids, evaluation experts with masked IDs, candidates, results, contracts), co-bidding
  derived from them, complaints (complainants masked) and restrictions (public credit lists).
* OVERSIGHT ONLY ('*'): investigative material: bid-document and tool fingerprints, deposit payments,
  suspicion scores, the watch list and the exchange centre's own 402 alerts (they carry no routing).
* ROUTED: the hub's alerts (core.alert) are seen by oversight bodies and by the unit they were routed to
  (core.alert.routed_unit_code) only.

Column comments of columns taken unchanged from a core table are copied from that table's column comment
(which 0003_trading writes as ``<中文> <English> (spec: FIELD)``) when the migration runs; every other column
carries its own comment here. A column without a comment fails the migration.
"""

from alembic import op

revision = "0006_library_trading"
down_revision = ("0002_oversight", "0005_supervision")
branch_labels = None
depends_on = None

READER = "ggzy_library_reader"
SCOPE = "(SELECT oversight.session_scope())"
SHARED = f"{SCOPE} IS NOT NULL"
OVERSIGHT_ONLY = f"{SCOPE} = '*'"

# view -> (view comment, FROM/WHERE clause, {alias: core table}, [(column, expression, comment or None)])
# A None comment is copied from the core column the expression `alias.column` names.
VIEWS: dict[str, tuple[str, str, dict[str, str], list[tuple[str, str, str | None]]]] = {
    "tender_projects": (
        "招标项目（501）。全部成员单位共享 / Tender projects (dataset 501); shared with every member unit",
        f"FROM core.tender_project tp LEFT JOIN core.project p ON p.project_code = tp.project_code WHERE {SHARED}",
        {"tp": "core.tender_project", "p": "core.project"},
        [
            ("tender_project_code", "tp.tender_project_code", None),
            ("tender_project_name", "tp.tender_project_name", None),
            ("tender_project_type", "tp.tender_project_type", None),
            ("project_code", "tp.project_code", None),
            ("project_name", "p.project_name", None),
            ("investment_project_code", "p.investment_project_code", None),
            ("industry_type", "p.industry_type", None),
            ("fund_source", "p.fund_source", None),
            ("region_code", "tp.region_code", None),
            ("tenderer_name", "tp.tenderer_name", None),
            ("tenderer_code", "tp.tenderer_code", None),
            ("tender_agency_name", "tp.tender_agency_name", None),
            ("tender_agency_code", "tp.tender_agency_code", None),
            ("tender_mode", "tp.tender_mode", None),
            ("supervise_dept_name", "tp.supervise_dept_name", None),
            ("supervise_dept_code", "tp.supervise_dept_code", None),
            ("created_time", "tp.created_time", None),
            ("updated_at", "tp.updated_at", "最近更新时间 / last updated at"),
        ],
    ),
    "sections": (
        "标段（包）：每个标段一行，含招标项目、估算价、区划、监督部门与关键日期。全部成员单位共享 / Bid sections "
        "(标段), one row each with tender project, estimate, region, supervising department and key dates; "
        "shared with every member unit",
        "FROM core.bid_section bs LEFT JOIN core.tender_project tp ON tp.tender_project_code = bs.tender_project_code"
        " LEFT JOIN core.project p ON p.project_code = tp.project_code"
        " LEFT JOIN LATERAL (SELECT min(a.notice_send_time) AS notice_send_time,"
        " max(a.bid_doc_refer_end_time) AS bid_doc_refer_end_time, max(a.bid_open_time) AS bid_open_time"
        " FROM core.tender_announcement a WHERE a.tender_project_code = bs.tender_project_code"
        " AND (a.bid_section_codes IS NULL OR strpos(a.bid_section_codes, bs.bid_section_code) > 0)) an ON true"
        " LEFT JOIN core.win_result wr ON wr.bid_section_code = bs.bid_section_code"
        " LEFT JOIN LATERAL (SELECT count(*) AS n FROM core.bid b WHERE b.bid_section_code = bs.bid_section_code) nb"
        f" ON true WHERE {SHARED}",
        {"bs": "core.bid_section", "tp": "core.tender_project", "p": "core.project"},
        [
            ("bid_section_code", "bs.bid_section_code", None),
            ("bid_section_name", "bs.bid_section_name", None),
            ("tender_project_code", "bs.tender_project_code", None),
            ("tender_project_name", "tp.tender_project_name", None),
            ("tender_project_type", "tp.tender_project_type", None),
            ("project_code", "tp.project_code", None),
            ("project_name", "p.project_name", None),
            ("contract_reckon_price_yuan", "bs.contract_reckon_price_yuan", None),
            ("price_unit_received", "bs.price_unit_received", None),
            ("currency_code", "bs.currency_code", None),
            ("region_code", "coalesce(bs.region_code, tp.region_code)",
             "行政区划代码（标段，缺省取招标项目）/ region code of the section, else of the tender project"),
            ("tenderer_name", "tp.tenderer_name", None),
            ("tenderer_code", "tp.tenderer_code", None),
            ("tender_agency_name", "tp.tender_agency_name", None),
            ("tender_mode", "tp.tender_mode", None),
            ("supervise_dept_name", "tp.supervise_dept_name", None),
            ("supervise_dept_code", "tp.supervise_dept_code", None),
            ("notice_send_time", "an.notice_send_time", "招标公告首次发布时间 / tender notice first published"),
            ("bid_doc_refer_end_time", "an.bid_doc_refer_end_time", "投标文件递交截止时间 / bid submission deadline"),
            ("bid_open_time", "an.bid_open_time", "开标时间 / bid opening"),
            ("win_notice_time", "wr.notice_send_time", "中标结果公告时间 / award result published"),
            ("bids_received", "nb.n", "收到的投标数 / number of bids received"),
            ("created_time", "bs.created_time", None),
            ("updated_at", "bs.updated_at", "最近更新时间 / last updated at"),
        ],
    ),
    "announcements": (
        "招标公告（503）。全部成员单位共享 / Tender announcements (503); shared with every member unit",
        f"FROM core.tender_announcement a WHERE {SHARED}",
        {"a": "core.tender_announcement"},
        [
            ("announcement_id", "a.id", "记录编号 / record id"),
            ("tender_project_code", "a.tender_project_code", None),
            ("bid_section_codes", "a.bid_section_codes", None),
            ("notice_name", "a.notice_name", None),
            ("notice_send_time", "a.notice_send_time", None),
            ("doc_get_start_time", "a.doc_get_start_time", None),
            ("doc_get_end_time", "a.doc_get_end_time", None),
            ("bid_doc_refer_end_time", "a.bid_doc_refer_end_time", None),
            ("bid_open_time", "a.bid_open_time", None),
            ("url", "a.url", None),
        ],
    ),
    "bids": (
        "投标（507 开标明细），价格以元计。全部成员单位共享 / Bids (507), prices in yuan; shared with every member unit",
        "FROM core.bid b LEFT JOIN core.bid_section bs ON bs.bid_section_code = b.bid_section_code"
        f" WHERE {SHARED}",
        {"b": "core.bid", "bs": "core.bid_section"},
        [
            ("bid_id", "b.id", "记录编号 / record id"),
            ("bid_section_code", "b.bid_section_code", None),
            ("bid_section_name", "bs.bid_section_name", None),
            ("tender_project_code", "b.tender_project_code", None),
            ("bidder_uscc", "b.bidder_code",
             "投标人统一社会信用代码（按收到的代码，个别为组织机构代码）/ bidder USCC as received (rarely an "
             "organisation code)"),
            ("bidder_name", "b.bidder_name", None),
            ("bidder_code_type", "b.bidder_code_type", None),
            ("bidder_role", "b.bidder_role", None),
            ("bid_price_yuan", "b.bid_price_yuan", None),
            ("price_unit_received", "b.price_unit_received", None),
            ("price_form_code", "b.price_form_code", None),
            ("other_bid_price", "b.other_bid_price", None),
            ("contract_reckon_price_yuan", "bs.contract_reckon_price_yuan", None),
            ("is_dishonest", "b.is_dishonest", None),
            ("margin_committed", "b.margin_committed", None),
            ("margin_pay_form", "b.margin_pay_form", None),
            ("margin_receive_time", "b.margin_receive_time", None),
            ("bid_manager", "b.bid_manager", None),
            ("project_manager_code", "b.project_manager_code", None),
            ("won", "EXISTS (SELECT 1 FROM core.win_result w WHERE w.bid_section_code = b.bid_section_code"
             " AND w.win_bidder_code = b.bidder_code)", "是否中标 / whether this bid won the section"),
            ("warnings", "b.warnings", "入库时的校验警告 / warning rules the record was loaded with"),
            ("updated_at", "b.updated_at", "最近更新时间 / last updated at"),
        ],
    ),
    "experts": (
        "评标专家（508），身份证件号脱敏。全部成员单位共享 / Evaluation experts (508), ID numbers masked; shared "
        "with every member unit",
        f"FROM core.evaluation_expert e WHERE {SHARED}",
        {"e": "core.evaluation_expert"},
        [
            ("expert_record_id", "e.id", "记录编号 / record id"),
            ("bid_section_code", "e.bid_section_code", None),
            ("expert_name", "e.expert_name", None),
            ("expert_id_masked", "oversight.mask_id(e.expert_id_masked)",
             "身份证件号码（脱敏）/ ID number, masked"),
            ("id_card_type", "e.id_card_type", None),
            ("expert_type", "e.expert_type", None),
            ("is_chair", "e.is_chair", None),
        ],
    ),
    "candidates": (
        "中标候选人（510）。全部成员单位共享 / Winning candidates (510); shared with every member unit",
        f"FROM core.tender_candidate c WHERE {SHARED}",
        {"c": "core.tender_candidate"},
        [
            ("candidate_id", "c.id", "记录编号 / record id"),
            ("bid_section_code", "c.bid_section_code", None),
            ("bidder_uscc", "c.bidder_code", "候选人统一社会信用代码 / candidate USCC as received"),
            ("bidder_name", "c.bidder_name", None),
            ("candidate_rank", "c.candidate_rank", None),
            ("evaluation_price_yuan", "c.evaluation_price_yuan", None),
            ("win_price_yuan", "c.win_price_yuan", None),
            ("price_unit_received", "c.price_unit_received", None),
        ],
    ),
    "wins": (
        "中标结果（513），金额以元计，项目负责人证件号脱敏。全部成员单位共享 / Award results (513), amounts in yuan, "
        "project lead ID masked; shared with every member unit",
        "FROM core.win_result w LEFT JOIN core.bid_section bs ON bs.bid_section_code = w.bid_section_code"
        f" WHERE {SHARED}",
        {"w": "core.win_result", "bs": "core.bid_section"},
        [
            ("win_id", "w.id", "记录编号 / record id"),
            ("bid_section_code", "w.bid_section_code", None),
            ("bid_section_name", "bs.bid_section_name", None),
            ("tender_project_code", "bs.tender_project_code", None),
            ("winner_uscc", "w.win_bidder_code", "中标人统一社会信用代码（按收到的代码）/ winner USCC as received"),
            ("winner_name", "w.win_bidder_name", None),
            ("bid_amount_yuan", "w.bid_amount_yuan", None),
            ("price_unit_received", "w.price_unit_received", None),
            ("contract_reckon_price_yuan", "bs.contract_reckon_price_yuan", None),
            ("notice_send_time", "w.notice_send_time", None),
            ("project_lead_name", "w.project_lead_name", None),
            ("project_lead_id_masked", "oversight.mask_id(w.project_lead_id_masked)",
             "项目负责人身份证号（脱敏）/ project lead ID number, masked"),
        ],
    ),
    "contracts": (
        "合同（512），金额以元计。全部成员单位共享 / Contracts (512), amounts in yuan; shared with every member unit",
        f"FROM core.contract c WHERE {SHARED}",
        {"c": "core.contract"},
        [
            ("contract_id", "c.id", "记录编号 / record id"),
            ("bid_section_code", "c.bid_section_code", None),
            ("contract_name", "c.contract_name", None),
            ("tenderer_code", "c.tenderer_code", None),
            ("contractor_uscc", "c.bidder_code", "中标人（承包人）统一社会信用代码 / contractor USCC as received"),
            ("contractor_name", "c.bidder_name", None),
            ("contract_price_yuan", "c.contract_price_yuan", None),
            ("price_unit_received", "c.price_unit_received", None),
            ("contract_sign_time", "c.contract_sign_time", None),
            ("settle_price_yuan", "c.settle_price_yuan", None),
            ("perform_change_content", "c.perform_change_content", None),
            ("finish_time", "c.finish_time", None),
        ],
    ),
    "fingerprints": (
        "投标文件特征码（519）与制作工具特征码（9010）：设备与文件指纹。仅监督机构可见 / Bid-document (519) and "
        "bid-tool (9010) fingerprints: machine and file identifiers; oversight bodies only",
        "FROM (SELECT 'document' AS kind, f.id, f.bid_section_code, f.bidder_code, f.bidder_name, f.bid_document_name,"
        " f.bid_document_md5, f.submitted_time, f.cpu_id, f.hard_disk_serial, f.memory_serial, f.ip_address,"
        " f.mac_address, NULL::text AS tool_version FROM core.bid_document_fingerprint f"
        " UNION ALL SELECT 'tool', t.id, t.bid_section_code, t.bidder_code, NULL, NULL, NULL, t.submitted_time,"
        " t.cpu_id, t.hard_disk_serial, t.memory_serial, t.ip_address, t.mac_address, t.tool_version"
        f" FROM core.bid_tool_fingerprint t) f WHERE {OVERSIGHT_ONLY}",
        {"f": "core.bid_document_fingerprint"},
        [
            ("kind", "f.kind", "来源 document（519 投标文件）| tool（9010 制作工具）/ source dataset"),
            ("fingerprint_id", "f.id", "所在数据集中的记录编号 / record id within its dataset"),
            ("bid_section_code", "f.bid_section_code", None),
            ("bidder_uscc", "f.bidder_code", "投标人统一社会信用代码 / bidder USCC as received"),
            ("bidder_name", "f.bidder_name", None),
            ("bid_document_name", "f.bid_document_name", None),
            ("bid_document_md5", "f.bid_document_md5", None),
            ("submitted_time", "f.submitted_time", None),
            ("cpu_id", "f.cpu_id", None),
            ("hard_disk_serial", "f.hard_disk_serial", None),
            ("memory_serial", "f.memory_serial", None),
            ("ip_address", "f.ip_address", None),
            ("mac_address", "f.mac_address", None),
            ("tool_version", "f.tool_version", "工具版本（仅 9010）/ tool version (9010 only)"),
        ],
    ),
    "deposits": (
        "投标保证金缴纳（9011），账号脱敏。仅监督机构可见 / Bid deposits (9011), paying account masked; oversight "
        "bodies only",
        f"FROM core.bid_deposit d WHERE {OVERSIGHT_ONLY}",
        {"d": "core.bid_deposit"},
        [
            ("deposit_id", "d.id", "记录编号 / record id"),
            ("bid_section_code", "d.bid_section_code", None),
            ("bidder_uscc", "d.bidder_code", "投标人统一社会信用代码 / bidder USCC as received"),
            ("margin_pay_form", "d.margin_pay_form", None),
            ("margin_receive_time", "d.margin_receive_time", None),
            ("margin_bank", "d.margin_bank", None),
            ("margin_account_masked", "oversight.mask_id(d.margin_account)",
             "缴纳账号（脱敏，保留前后四位）/ paying account, masked (first and last 4 kept)"),
            ("margin_amount_yuan", "d.margin_amount_yuan", None),
            ("price_unit_received", "d.price_unit_received", None),
        ],
    ),
    "restrictions": (
        "失信限制（信用中国名单、交易中心黑名单 302/303、限制性处罚），自然人仅有脱敏证件号。全部成员单位共享 / "
        "Restrictions from every list (Credit China, exchange blacklist 302/303, restricting penalties); "
        "natural persons only by masked ID; shared with every member unit",
        f"FROM core.restriction r WHERE {SHARED}",
        {"r": "core.restriction"},
        [
            ("restriction_id", "r.id", "记录编号 / record id"),
            ("source", "r.source",
             "来源名单 credit_china_dishonest_debtor | serious_dishonesty_list | exchange_blacklist_302 | "
             "penalty_decision / source list"),
            ("source_key", "CASE WHEN r.entity_kind = 'person' THEN NULL ELSE r.source_key END",
             "名单中的条目编号（自然人不显示）/ entry key in its list (withheld for natural persons)"),
            ("entity_uscc", "r.entity_uscc", "主体统一社会信用代码（组织）/ USCC of the organisation"),
            ("entity_name", "r.entity_name", "主体名称 / name of the restricted party"),
            ("entity_kind", "r.entity_kind", "主体类别 organisation（组织）| person（自然人）/ kind of party"),
            ("entity_id_masked", "oversight.mask_id(r.entity_id_masked)", "自然人证件号（脱敏）/ person's ID, masked"),
            ("basis_document", "r.basis_document", "依据文书号 / basis document number"),
            ("basis_unit", "r.basis_unit", "认定或执行依据单位 / deciding unit"),
            ("basis_text", "r.basis_text", "列入依据 / basis for listing"),
            ("reason", "r.reason", "列入事由或失信情形 / reason for listing"),
            ("restricted_behaviour", "r.restricted_behaviour", "限制行为 / restricted behaviour"),
            ("start_date", "r.start_date", "开始日期 / start date"),
            ("end_date", "r.end_date", "截止日期（空为至移出）/ end date (empty: until removed)"),
            ("removed_on", "r.removed_on", "移出或撤销日期 / removed on"),
            ("removal_document", "r.removal_document", "移出文书号 / removal document"),
            ("removal_reason", "r.removal_reason", "移出原因 / removal reason"),
            ("active_from", "r.active_from", "生效起（含）/ in force from (inclusive)"),
            ("active_until", "r.active_until", "生效止（不含，空为仍有效）/ in force until (exclusive; empty: open)"),
            ("active_today", "r.active_from <= current_date AND (r.active_until IS NULL OR r.active_until > current_date)",
             "今日是否有效 / in force today"),
            ("version", "r.version", "当前版本号 / current version number"),
            ("known_from", "r.known_from", "来源给出此版本的时间 / when the source stated this version"),
            ("updated_at", "r.updated_at", "最近更新时间 / last updated at"),
        ],
    ),
    "alerts": (
        "本中心发出的项目报警（402 格式），含法律依据与处理情况。成员单位仅见推送给本单位的报警 / Alerts raised by "
        "the hub in the 402 PROJECT_ALERTING_INFO form, with legal basis and handling; a member unit sees only "
        "alerts routed to it",
        f"FROM core.alert a WHERE {SCOPE} = '*' OR a.routed_unit_code = {SCOPE}",
        {"a": "core.alert"},
        [
            ("alert_id", "a.id", "报警编号 / alert id"),
            ("alert_type", "a.alert_type", "报警类型（如 restricted_bidder、bid_rigging）/ alert type"),
            ("tender_project_code", "a.tender_project_code", "TENDER_PROJECT_CODE 招标项目编号 / tender project code"),
            ("bid_section_code", "a.bid_section_code", "BID_SECTION_CODE 标段（包）编号 / bid section code"),
            ("body_name", "a.body_name", "BODY_NAME 主体名称 / body name"),
            ("entity_uscc", "a.body_code", "BODY_CODE 主体代码（统一社会信用代码）/ body code (USCC)"),
            ("supervisor_unit_name", "a.supervisor_unit_name", "SUPERVISOR_UNIT_NAME 监督单位 / supervising unit"),
            ("supervisory_node", "a.supervisory_node", "SUPERVISORY_NODE 监督环节 / supervisory node"),
            ("alert_level", "a.alert_level", "ALERT_LEVEL 报警级别 / alert level"),
            ("alert_date", "a.alert_date", "ALERT_DATE 报警日期 / alert date"),
            ("alert_info", "a.alert_info", "ALERT_INFO 报警信息 / alert text"),
            ("legal_basis", "a.legal_basis", "法律依据条款（数组）/ legal articles (array)"),
            ("score", "a.score", "可疑度评分 / suspicion score"),
            ("supervise_dept_code", "a.supervise_dept_code", "监督部门代码 / supervising department code"),
            ("routed_unit_code", "a.routed_unit_code", "推送至的成员单位 / member unit the alert was routed to"),
            ("handled", "a.handled", "HANDLED 是否处理 0 | 1 / handled"),
            ("handle_result", "a.handle_result", "HANDLE_RESULT 处理结果 / outcome"),
            ("handled_at", "a.handled_at", "处理时间 / handled at"),
            ("handled_by", "a.handled_by", "处理单位 / handled by"),
            ("restriction_id", "a.restriction_id", "触发报警的失信限制（restrictions.restriction_id）/ restriction"),
            ("evidence", "oversight.mask_record(a.evidence)", "证据（JSON，证件号脱敏）/ evidence as JSON, IDs masked"),
            ("created_at", "a.created_at", "生成时间 / raised at"),
        ],
    ),
    "exchange_alerts": (
        "交易中心报送的项目报警（402），无推送单位。仅监督机构可见 / Project alerts (402) received from the exchange "
        "centre (not routed to a unit); oversight bodies only",
        f"FROM core.project_alert x WHERE {OVERSIGHT_ONLY}",
        {"x": "core.project_alert"},
        [
            ("alert_record_id", "x.id", "记录编号 / record id"),
            ("tender_project_code", "x.tender_project_code", None),
            ("bid_section_code", "x.bid_section_code", None),
            ("body_name", "x.body_name", None),
            ("entity_uscc", "x.body_code", "主体统一社会信用代码 / body USCC as received"),
            ("supervisor_unit_name", "x.supervisor_unit_name", None),
            ("supervisory_node", "x.supervisory_node", None),
            ("alert_level", "x.alert_level", None),
            ("alert_date", "x.alert_date", None),
            ("alert_info", "x.alert_info", None),
            ("handled", "x.handled", None),
            ("handle_result", "x.handle_result", None),
        ],
    ),
    "co_bidders": (
        "共同投标：两个投标人在同一标段投标的次数与标段。全部成员单位共享 / Co-bidding: how often and in which "
        "sections two bidders bid in the same section; shared with every member unit",
        "FROM core.bid a JOIN core.bid b ON b.bid_section_code = a.bid_section_code AND b.bidder_code <> a.bidder_code"
        f" WHERE {SHARED} GROUP BY a.bidder_code, b.bidder_code",
        {},
        [
            ("sections_together", "count(DISTINCT a.bid_section_code)", "共同投标的标段数 / sections bid together"),
            ("entity_uscc", "a.bidder_code", "主体统一社会信用代码 / USCC of the entity"),
            ("entity_name", "max(a.bidder_name)", "主体名称 / name of the entity"),
            ("co_bidder_uscc", "b.bidder_code", "共同投标人统一社会信用代码 / USCC of the co-bidder"),
            ("co_bidder_name", "max(b.bidder_name)", "共同投标人名称 / name of the co-bidder"),
            ("bid_section_codes", "array_agg(DISTINCT a.bid_section_code ORDER BY a.bid_section_code)",
             "共同投标的标段编号（数组）/ codes of the sections bid together (array)"),
        ],
    ),
    "complaints": (
        "投诉（404），投诉人身份保密（姓名、电话、邮箱仅保留首字符）。全部成员单位共享 / Complaints (404); "
        "complainants are confidential (name, phone and e-mail masked to their first character); shared with "
        "every member unit",
        f"FROM core.complaint c WHERE {SHARED}",
        {"c": "core.complaint"},
        [
            ("complaint_id", "c.id", "记录编号 / record id"),
            ("tender_project_code", "c.tender_project_code", None),
            ("bid_section_code", "c.bid_section_code", None),
            ("complainant_name_masked", "oversight.mask_contact(c.complainant_name)",
             "投诉人（保密，脱敏）/ complainant, confidential: masked"),
            ("complainant_phone_masked", "oversight.mask_contact(c.complainant_phone)",
             "投诉人电话（保密，脱敏）/ complainant phone, confidential: masked"),
            ("complainant_mail_masked", "oversight.mask_contact(c.complainant_mail)",
             "投诉人邮箱（保密，脱敏）/ complainant e-mail, confidential: masked"),
            ("complained_body_name", "c.complained_body_name", None),
            ("complained_body_uscc", "c.complained_body_code", "被投诉主体统一社会信用代码 / USCC of the body complained about"),
            ("complaint_content", "c.complaint_content", None),
            ("complaint_date", "c.complaint_date", None),
            ("accept_date", "c.accept_date", None),
            ("handle_result", "c.handle_result", None),
            ("handle_date", "c.handle_date", None),
            ("dealing_unit", "c.dealing_unit", None),
        ],
    ),
    "section_scores": (
        "标段可疑度评分及各指标与证据。仅监督机构可见 / Suspicion score per bid section with every indicator and its "
        "evidence; oversight bodies only",
        f"FROM supervision.section_score s WHERE {OVERSIGHT_ONLY}",
        {},
        [
            ("bid_section_code", "s.bid_section_code", "标段（包）编号 / bid section code"),
            ("tender_project_code", "s.tender_project_code", "招标项目编号 / tender project code"),
            ("n_bids", "s.n_bids", "投标数 / number of bids"),
            ("score", "s.score", "综合可疑度（数据不足时为空）/ combined suspicion score (empty: insufficient data)"),
            ("score_status", "s.score_status", "calculated | insufficient_data | not_applicable 评分状态 / score status"),
            ("flags", "s.flags", "触发的指标（数组）/ indicators that fired (array)"),
            ("contributions", "s.contributions", "各指标对评分的贡献（JSON）/ share of the score per indicator (JSON)"),
            ("indicators", "s.indicators", "各指标的值、状态与证据（JSON）/ every indicator's value, status, evidence"),
            ("legal_basis", "s.legal_basis", "法律依据条款（数组）/ legal articles (array)"),
            ("scored_at", "s.scored_at", "评分时间 / scored at"),
        ],
    ),
    "entity_scores": (
        "市场主体可疑度评分。仅监督机构可见 / Suspicion score per market entity; oversight bodies only",
        f"FROM supervision.entity_score s WHERE {OVERSIGHT_ONLY}",
        {},
        [
            ("entity_uscc", "s.entity_code", "主体统一社会信用代码 / USCC of the entity"),
            ("entity_name", "s.entity_name", "主体名称 / entity name"),
            ("score", "s.score", "综合可疑度 / combined suspicion score"),
            ("bids", "s.bids", "投标数 / bids"),
            ("wins", "s.wins", "中标数 / wins"),
            ("flags", "s.flags", "触发的指标（数组）/ indicators that fired (array)"),
            ("contributions", "s.contributions", "各指标对评分的贡献（JSON）/ share of the score per indicator (JSON)"),
            ("indicators", "s.indicators", "各指标的值、状态与证据（JSON）/ every indicator's value, status, evidence"),
            ("legal_basis", "s.legal_basis", "法律依据条款（数组）/ legal articles (array)"),
            ("scored_at", "s.scored_at", "评分时间 / scored at"),
        ],
    ),
    "watchlist": (
        "重点关注对象名单：主体与项目、原因、列入与移出日期（含历史）。仅监督机构可见 / The watch list (重点关注对象"
        "名单): entities and projects, reason, entered and left (with history); oversight bodies only",
        f"FROM supervision.watch_entry w WHERE {OVERSIGHT_ONLY}",
        {},
        [
            ("entry_id", "w.id", "记录编号 / entry id"),
            ("subject_kind", "w.subject_kind", "对象类别 entity（主体）| project（项目）/ kind of subject"),
            ("subject_code", "w.subject_code", "主体统一社会信用代码或招标项目编号 / entity USCC or tender project code"),
            ("subject_name", "w.subject_name", "对象名称 / subject name"),
            ("reason_code", "w.reason_code", "列入原因代码 / reason code"),
            ("reason", "w.reason", "列入原因（含数据）/ reason with its figures"),
            ("source_ref", "w.source_ref", "来源（报警、限制或评分运行）/ source reference"),
            ("score", "w.score", "列入时的评分 / score when entered"),
            ("entered_on", "w.entered_on", "列入日期 / entered on"),
            ("left_on", "w.left_on", "移出日期（空为仍在名单）/ left on (empty: still listed)"),
            ("left_reason", "w.left_reason", "移出原因 / reason for leaving"),
            ("on_list", "w.left_on IS NULL", "目前是否在名单上 / currently on the list"),
        ],
    ),
}  # fmt: skip

_CORE_COMMENTS_SQL = """
SELECT n.nspname || '.' || c.relname AS tbl, a.attname AS col, col_description(c.oid, a.attnum) AS comment
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'core' AND a.attnum > 0 AND NOT a.attisdropped
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment(view: str, tables: dict[str, str], column: str, expr: str, text: str | None, known: dict) -> str:
    """The column's own comment, or the comment of the core column its expression names."""
    if text is not None:
        return text
    alias, _, source = expr.partition(".")
    copied = known.get((tables.get(alias), source))
    if not copied:
        raise RuntimeError(f"library.{view}.{column}: no comment and none on {expr} to copy")
    return copied


def upgrade_sql(known: dict[tuple[str, str], str]) -> str:
    """Every statement of the upgrade, given the core column comments {(table, column): comment}."""
    statements = [
        """
-- Complainants are confidential: keep the first character only (the length is not revealed either).
CREATE FUNCTION oversight.mask_contact(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL OR v = '' THEN v ELSE left(v, 1) || '**' END
$$;
REVOKE ALL ON FUNCTION oversight.mask_contact(text) FROM PUBLIC;""",
        f"GRANT EXECUTE ON FUNCTION oversight.mask_contact(text) TO {READER}, ggzy_api;",
    ]
    for name, (comment, source, tables, columns) in VIEWS.items():
        select = ",\n    ".join(f"{expr} AS {column}" for column, expr, _ in columns)
        statements += [
            f"CREATE VIEW library.{name} WITH (security_barrier) AS SELECT\n    {select}\n{source};",
            f"COMMENT ON VIEW library.{name} IS {_literal(comment)};",
            *(
                f"COMMENT ON COLUMN library.{name}.{column} IS "
                f"{_literal(_comment(name, tables, column, expr, text, known))};"
                for column, expr, text in columns
            ),
            f"GRANT SELECT ON library.{name} TO {READER};",
        ]
    return "\n".join(statements)


def core_comments(conn) -> dict[tuple[str, str], str]:
    """{(schema.table, column): comment} of every core column."""
    return {
        (row.tbl, row.col): row.comment for row in conn.exec_driver_sql(_CORE_COMMENTS_SQL) if row.comment
    }


def upgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql(upgrade_sql(core_comments(conn)))


def downgrade() -> None:
    views = ", ".join(f"library.{name}" for name in VIEWS)
    op.get_bind().exec_driver_sql(
        f"DROP VIEW IF EXISTS {views}; DROP FUNCTION IF EXISTS oversight.mask_contact(text);"
    )
