"""Oversight channel: the read-only `library` schema, its reader roles and database-enforced sharing scope.

Revision ID: 0002_oversight
Revises: 0001_foundation
Create Date: 2026-11-29

Design (see ggzy/library.py for the Python side):

* `library` holds only security-barrier views, each documented column by column in Chinese and English.
  The views are owned by the migration owner, so they read the underlying tables with the owner's
  rights, and every view filters its rows by the *session scope* of the connection reading it.
* `ggzy_library_reader` (NOLOGIN) holds SELECT on the library views and nothing else.
  `ggzy_sql` (LOGIN, member of ggzy_library_reader only) is the role the API connects as for every
  library read, including the free SQL endpoint. Because the *session user* is ggzy_sql, neither
  `SET ROLE` nor `set_config('role', ...)` can reach any other role; it owns nothing, may not CREATE
  in any schema nor make temporary tables, and is no member of pg_read_server_files,
  pg_execute_server_program or pg_write_server_files (so no pg_read_file, no COPY ... PROGRAM).
* The sharing scope is bound to the *backend* (pid + backend start time) in `oversight.sql_scope`,
  written only by the API role through `oversight.bind_session()` when a reader connection is opened.
  A reader session cannot change its own scope: it has no write access to that table, and a custom
  setting (`SET LOCAL ggzy.unit`) was rejected on purpose because any SELECT can call set_config().
  No scope row means no rows (default deny).
* `oversight.open_query(sql)` opens a cursor for a user's statement inside PL/pgSQL: PostgreSQL's own
  parser refuses anything that is not exactly one row-returning query ("cannot open multi-query plan
  as cursor", "cannot open SET query as cursor"), and the function is STABLE, so SPI refuses any
  data-modifying statement; the API also runs it in a READ ONLY transaction with a statement timeout.

Adding views later (e.g. the trading datasets of issue 3): a new migration creates
`library.<name>` WITH (security_barrier) filtering on `(SELECT oversight.session_scope())`
('*' = every unit, else the unit code), comments the view and every column in Chinese and English,
and grants SELECT on it to ggzy_library_reader. Nothing is granted by default privileges, so a view
without a scope filter is never readable by accident.
"""

from alembic import context, op

revision = "0002_oversight"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

READER = "ggzy_library_reader"
SQL_LOGIN = "ggzy_sql"
SCOPE = "(SELECT oversight.session_scope())"


def _penalty_visible(penalty_id: str) -> str:
    """Predicate: the decision is visible to the session (all units, or owed to the session's unit)."""
    return (
        f"({SCOPE} = '*' OR EXISTS (SELECT 1 FROM delivery.outbox o JOIN delivery.event e ON e.id = o.event_id"
        f" WHERE e.penalty_id = {penalty_id} AND o.unit_code = {SCOPE}))"
    )


# name -> (view comment, FROM/WHERE clause, [(column, expression, column comment)])
VIEWS: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
    "penalty_decisions": (
        "行政处罚决定（当前版本，个人证件号脱敏）。成员单位仅见抄送给本单位的决定 / Administrative penalty "
        "decisions (双公示), current version, personal ID numbers masked; member units see only decisions "
        "delivered (抄送) to them",
        f"FROM core.penalty_decision p WHERE {_penalty_visible('p.id')}",
        [
            ("id", "p.id", "记录编号 / record id"),
            ("authority_code", "p.authority_code", "CF_CFJGDM 处罚机关统一社会信用代码 / deciding authority USCC"),
            ("authority_name", "p.authority_name", "CF_CFJG 处罚机关 / deciding authority"),
            ("decision_no", "p.decision_no", "CF_WSH 行政处罚决定书文号 / decision document number"),
            ("party_name", "p.party_name", "CF_XDR_MC 行政相对人名称 / party name"),
            ("party_category", "p.party_category", "CF_XDR_LB 行政相对人类别 / party category"),
            ("party_uscc", "p.party_uscc", "CF_XDR_SHXYM 统一社会信用代码 / party USCC"),
            ("party_business_reg_no", "p.party_business_reg_no", "CF_XDR_GSZC 工商注册号 / business registration no."),
            ("party_org_code", "p.party_org_code", "CF_XDR_ZZJG 组织机构代码 / organisation code"),
            ("party_tax_reg_no", "p.party_tax_reg_no", "CF_XDR_SWDJ 税务登记号 / tax registration no."),
            ("party_institution_cert_no", "p.party_institution_cert_no",
             "CF_XDR_SYDW 事业单位证书号 / public institution certificate no."),
            ("party_social_org_reg_no", "p.party_social_org_reg_no",
             "CF_XDR_SHZZ 社会组织登记证号 / social organisation registration no."),
            ("legal_rep_name", "p.legal_rep_name", "CF_FRDB 法定代表人 / legal representative"),
            ("legal_rep_id_type", "p.legal_rep_id_type", "CF_FR_ZJLX 法定代表人证件类型 / legal rep. ID type"),
            ("legal_rep_id_masked", "oversight.mask_id(p.legal_rep_id_masked)",
             "CF_FR_ZJHM 法定代表人证件号码（脱敏，解除脱敏需单独申请）/ legal rep. ID number, masked "
             "(unmasking is a separate, audited request)"),
            ("party_id_type", "p.party_id_type", "CF_XDR_ZJLX 证件类型 / party ID type"),
            ("party_id_masked", "oversight.mask_id(p.party_id_masked)",
             "CF_XDR_ZJHM 证件号码（脱敏）/ party ID number, masked"),
            ("violation_type", "p.violation_type", "CF_WFXW 违法行为类型 / violation type"),
            ("violation_facts", "p.violation_facts", "CF_SY 违法事实 / facts of the violation"),
            ("legal_basis", "p.legal_basis", "CF_YJ 处罚依据 / legal basis"),
            ("penalty_categories", "p.penalty_categories", "CF_CFLB 处罚类别（数组）/ penalty categories (array)"),
            ("penalty_content", "p.penalty_content", "CF_NR 处罚内容 / penalty content"),
            ("fine_yuan", "p.fine_yuan", "CF_NR_FK 罚款金额（元）/ fine in yuan"),
            ("confiscation_yuan", "p.confiscation_yuan",
             "CF_NR_WFFF 没收违法所得、非法财物金额（元）/ confiscated amount in yuan"),
            ("licence_affected", "p.licence_affected", "CF_NR_ZKDX 暂扣或吊销证照 / licence suspended or revoked"),
            ("decision_date", "p.decision_date", "CF_JDRQ 处罚决定日期 / decision date"),
            ("valid_until", "p.valid_until", "CF_YXQ 处罚有效期 / penalty valid until"),
            ("valid_long_term", "p.valid_long_term", "长期有效（2099-12-31）/ valid long-term"),
            ("publicity_until", "p.publicity_until", "CF_GSJZQ 公示截止期 / publicity until"),
            ("source_unit_name", "p.source_unit_name", "CF_SJLY 数据来源单位 / source unit"),
            ("source_unit_code", "p.source_unit_code", "CF_SJLYDM 数据来源单位统一社会信用代码 / source unit USCC"),
            ("remarks", "p.remarks", "BZ 备注 / remarks"),
            ("source_format", "p.source_format", "来源格式 current | legacy / format variant received"),
            ("warnings", "p.warnings", "入库时的校验警告 / warning rules the record was loaded with"),
            ("version", "p.version", "当前版本号 / current version number"),
            ("content_hash", "p.content_hash", "当前版本内容哈希 / content hash of the current version"),
            ("first_batch_id", "p.first_batch_id", "首次入库批次 / batch that first brought the decision"),
            ("last_batch_id", "p.last_batch_id", "最近更新批次 / batch of the latest version"),
            ("created_at", "p.created_at", "首次入库时间 / first loaded at"),
            ("updated_at", "p.updated_at", "最近更新时间 / last updated at"),
        ],
    ),
    "penalty_decision_versions": (
        "处罚决定的全部历史版本（记录中的个人证件号脱敏）/ Every recorded version of every visible decision, "
        "personal ID numbers in the record masked",
        f"FROM core.penalty_decision_version v WHERE {_penalty_visible('v.penalty_id')}",
        [
            ("penalty_id", "v.penalty_id", "处罚决定记录编号（penalty_decisions.id）/ decision record id"),
            ("version", "v.version", "版本号 / version number"),
            ("batch_id", "v.batch_id", "带来此版本的批次 / batch that brought this version"),
            ("content_hash", "v.content_hash", "此版本内容哈希 / content hash of this version"),
            ("recorded_at", "v.recorded_at", "记录时间 / recorded at"),
            ("record", "oversight.mask_record(v.record)",
             "该版本的完整记录（JSON，证件号脱敏，去掉匹配用哈希）/ the version's record as JSON, IDs masked, "
             "matching hashes removed"),
        ],
    ),
    "member_units": (
        "协同监管成员单位（不含密钥与推送地址）。成员单位仅见本单位 / Member units of the jurisdiction "
        "(no secrets, no endpoint URLs); a member unit sees only itself",
        f"FROM delivery.member_unit u WHERE {SCOPE} = '*' OR u.code = {SCOPE}",
        [
            ("code", "u.code", "单位代码 / unit code"),
            ("name", "u.name", "单位名称 / unit name"),
            ("role", "u.role", "单位角色（行业监管、纪检、审计、公安等）/ role of the unit"),
            ("uscc", "u.uscc", "统一社会信用代码 / unit USCC"),
            ("mode", "u.mode", "接收方式 push（推送）| pull（拉取）/ delivery mode"),
            ("status", "u.status", "状态 active | disabled / status"),
            ("disabled_at", "u.disabled_at", "停用时间 / disabled at"),
            ("disabled_reason", "u.disabled_reason", "停用原因 / reason for disabling"),
        ],
    ),
    "deliveries": (
        "抄送与签收记录：每条处罚事件对每个成员单位一行。成员单位仅见本单位 / Delivery (抄送) and "
        "acknowledgement (签收) records, one row per event and member unit; a member unit sees only its own",
        "FROM delivery.outbox o JOIN delivery.event e ON e.id = o.event_id"
        f" WHERE {SCOPE} = '*' OR o.unit_code = {SCOPE}",
        [
            ("delivery_id", "o.id", "投递编号（也是拉取游标）/ delivery id (also the pull cursor)"),
            ("message_id", "o.message_id", "消息编号 webhook-id，重试不变 / message id, stable across retries"),
            ("unit_code", "o.unit_code", "接收单位代码 / receiving unit"),
            ("event_id", "e.id", "事件编号 / event id"),
            ("event_type", "e.event_type", "事件类型 / event type"),
            ("penalty_id", "e.penalty_id", "处罚决定记录编号 / penalty decision record id"),
            ("penalty_version", "e.penalty_version", "处罚决定版本 / decision version delivered"),
            ("batch_id", "e.batch_id", "来源批次 / source batch"),
            ("document_hash", "e.document_hash", "所抄送文书的哈希 / hash of the delivered document"),
            ("status", "o.status",
             "状态 pending | delivered（已送达）| acknowledged（已签收）| failed | disabled / delivery status"),
            ("attempts", "o.attempts", "推送尝试次数 / push attempts"),
            ("first_attempt_at", "o.first_attempt_at", "首次推送时间 / first attempt at"),
            ("last_attempt_at", "o.last_attempt_at", "最近推送时间 / last attempt at"),
            ("delivered_at", "o.delivered_at", "送达时间（2xx 或被拉取）/ delivered at (2xx or pulled)"),
            ("delivered_via", "o.delivered_via", "送达方式 push | pull / delivered via"),
            ("acknowledged_at", "o.acknowledged_at", "签收时间 / acknowledged at"),
            ("ack_due", "o.ack_due", "签收期限（工作日）/ acknowledgement due date (working days)"),
            ("receipt", "o.receipt", "签收回执（签名的 JSON）/ the signed receipt"),
            ("last_http_status", "o.last_http_status", "最近一次 HTTP 状态码 / last HTTP status"),
            ("last_error", "o.last_error", "最近一次错误 / last error"),
            ("created_at", "o.created_at", "创建时间 / created at"),
        ],
    ),
    "delivery_attempts": (
        "每一次推送尝试。成员单位仅见本单位 / Every push attempt; a member unit sees only its own",
        "FROM delivery.attempt a JOIN delivery.outbox o ON o.id = a.outbox_id"
        f" WHERE {SCOPE} = '*' OR o.unit_code = {SCOPE}",
        [
            ("attempt_id", "a.id", "尝试编号 / attempt id"),
            ("delivery_id", "a.outbox_id", "投递编号（deliveries.delivery_id）/ delivery id"),
            ("unit_code", "o.unit_code", "接收单位代码 / receiving unit"),
            ("attempt_no", "a.attempt_no", "第几次尝试 / attempt number"),
            ("started_at", "a.started_at", "开始时间 / started at"),
            ("duration_ms", "a.duration_ms", "耗时（毫秒）/ duration in milliseconds"),
            ("http_status", "a.http_status", "HTTP 状态码 / HTTP status"),
            ("error", "a.error", "错误 / error"),
        ],
    ),
    "batches": (
        "批次清单：每个收到的文件、其哈希与行数守恒。成员单位仅见本单位报送的批次 / Batch manifest: every "
        "received file, its sha256 and row conservation; a member unit sees only batches it submitted",
        f"FROM ops.batch b WHERE {SCOPE} = '*' OR b.submitted_by = {SCOPE}",
        [
            ("id", "b.id", "批次编号 / batch id"),
            ("dataset", "b.dataset", "数据集 / dataset"),
            ("source", "b.source", "来源渠道 upload | drop | ... / source channel"),
            ("submitted_by", "b.submitted_by", "报送单位代码 / submitting unit"),
            ("filename", "b.filename", "文件名 / file name"),
            ("file_format", "b.file_format", "文件格式 / file format"),
            ("encoding", "b.encoding", "字符编码 / text encoding"),
            ("sha256", "b.sha256", "原始字节的 sha256 / sha256 of the exact bytes received"),
            ("byte_size", "b.byte_size", "字节数 / size in bytes"),
            ("received_at", "b.received_at", "接收时间 / received at"),
            ("status", "b.status", "状态 landed | loaded | failed | rejected / batch status"),
            ("rows_in", "b.rows_in", "收到行数 / rows received"),
            ("rows_loaded", "b.rows_loaded", "入库行数 / rows loaded"),
            ("rows_inserted", "b.rows_inserted", "新增行数 / rows inserted"),
            ("rows_updated", "b.rows_updated", "更新行数 / rows updated"),
            ("rows_quarantined", "b.rows_quarantined", "隔离行数 / rows quarantined"),
            ("rows_duplicate", "b.rows_duplicate", "重复行数 / duplicate rows"),
            ("rows_warned", "b.rows_warned", "带警告入库行数 / rows loaded with warnings"),
            ("error", "b.error", "失败原因 / error"),
            ("finished_at", "b.finished_at", "处理完成时间 / finished at"),
        ],
    ),
    "quarantine_summary": (
        "隔离统计：每个批次每条规则的隔离行数（不含原始行）/ Quarantine summary: rows per batch and rule "
        "(never the raw rows)",
        "FROM quality.quarantine_row q JOIN ops.batch b ON b.id = q.batch_id CROSS JOIN LATERAL unnest(q.rules) r(rule)"
        f" WHERE {SCOPE} = '*' OR b.submitted_by = {SCOPE} GROUP BY q.batch_id, q.dataset, r.rule",
        [
            ("batch_id", "q.batch_id", "批次编号 / batch id"),
            ("dataset", "q.dataset", "数据集 / dataset"),
            ("rule", "r.rule", "未通过的规则 / failed rule"),
            ("rows", "count(*)", "隔离行数 / rows quarantined by this rule"),
            ("first_quarantined_at", "min(q.quarantined_at)", "首次隔离时间 / first quarantined at"),
            ("last_quarantined_at", "max(q.quarantined_at)", "最近隔离时间 / last quarantined at"),
        ],
    ),
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _view_sql(name: str, comment: str, source: str, columns: list[tuple[str, str, str]]) -> str:
    select = ",\n    ".join(f"{expr} AS {column}" for column, expr, _ in columns)
    statements = [
        f"CREATE VIEW library.{name} WITH (security_barrier) AS SELECT\n    {select}\n{source};",
        f"COMMENT ON VIEW library.{name} IS {_literal(comment)};",
        *(f"COMMENT ON COLUMN library.{name}.{column} IS {_literal(text)};" for column, _, text in columns),
        f"GRANT SELECT ON library.{name} TO {READER};",
    ]
    return "\n".join(statements)


UPGRADE = f"""
CREATE SCHEMA oversight;
COMMENT ON SCHEMA oversight IS '监督通道内部：会话范围与查询函数 / Oversight channel internals: session scope and the query function';
CREATE SCHEMA library;
COMMENT ON SCHEMA library IS '监督查询库：只读视图，逐列中英文说明 / The oversight library: read-only views, documented column by column';

-- Roles are cluster-wide: create them once, tolerate their existence (other databases, re-runs).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER}') THEN
        CREATE ROLE {READER} NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SQL_LOGIN}') THEN
        CREATE ROLE {SQL_LOGIN} LOGIN INHERIT NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
            CONNECTION LIMIT 64;
    END IF;
END $$;
ALTER ROLE {SQL_LOGIN} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
GRANT {READER} TO {SQL_LOGIN};
-- Session defaults (the API also sets them per transaction): read-only, bounded, library first.
ALTER ROLE {SQL_LOGIN} SET default_transaction_read_only = on;
ALTER ROLE {SQL_LOGIN} SET statement_timeout = '30s';
ALTER ROLE {SQL_LOGIN} SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE {SQL_LOGIN} SET search_path = library;

-- No objects in public (PostgreSQL 15+ already keeps it closed). Temporary tables need a statement
-- other than a single query, which oversight.open_query() never runs, so TEMPORARY stays as it is.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Every library reader session logs in as the same role, and PostgreSQL shows a role its own sessions'
-- query text and lets it signal them: close that side channel (one unit must not see an investigator's
-- SQL) in this database. The owner is a superuser and the API role does not use these.
REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_backend_activity(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC;

-- Mask a personal ID number like ggzy.identifiers.mask_id_number: keep the first and last 4 characters.
CREATE FUNCTION oversight.mask_id(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN v IS NULL OR v = '' THEN v
        WHEN v ~ '^[0-9X]{{2,6}}[*]{{4,}}[0-9X]{{0,6}}$' THEN v
        WHEN length(v) <= 8 THEN repeat('*', length(v))
        ELSE left(v, 4) || repeat('*', length(v) - 8) || right(v, 4)
    END
$$;

-- Mask ID numbers inside a JSON record (keys like cf_xdr_zjhm, 证件号码, 身份证号) and drop keyed hashes.
CREATE FUNCTION oversight.mask_record(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(r) <> 'object' THEN r ELSE coalesce((
        SELECT jsonb_object_agg(key, CASE
            WHEN jsonb_typeof(value) = 'string' AND (strpos(lower(key), 'zjhm') > 0 OR strpos(key, '证件号码') > 0
                 OR strpos(key, '身份证号') > 0 OR right(lower(key), 10) = '_id_masked'
                 OR lower(key) IN ('id_number', 'party_id', 'legal_rep_id'))
            THEN to_jsonb(oversight.mask_id(value #>> '{{}}'))
            ELSE value END)
        FROM jsonb_each(r) WHERE right(lower(key), 8) <> '_id_hash'), '{{}}'::jsonb) END
$$;

-- Scope of each reader backend: '*' (every unit) or one unit code. Keyed by pid AND backend start,
-- so a recycled pid never inherits an old scope. Written only through bind_session() by the API role.
CREATE TABLE oversight.sql_scope (
    pid integer PRIMARY KEY,
    backend_start timestamptz NOT NULL,
    all_units boolean NOT NULL,
    unit_code text,
    token_id uuid,
    bound_at timestamptz NOT NULL DEFAULT now(),
    CHECK (all_units OR unit_code IS NOT NULL)
);
COMMENT ON TABLE oversight.sql_scope IS '读库会话的共享范围 / Sharing scope bound to each library reader backend';

CREATE FUNCTION oversight.session_scope() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, oversight AS $$
    SELECT CASE WHEN s.all_units THEN '*' ELSE s.unit_code END
    FROM oversight.sql_scope s, pg_stat_get_activity(pg_backend_pid()) a
    WHERE s.pid = pg_backend_pid() AND s.backend_start = a.backend_start
$$;
COMMENT ON FUNCTION oversight.session_scope() IS
    '当前会话的共享范围：* 为全部单位，否则为单位代码，无绑定则为空（不可见）/ scope of this backend: * = all units, a unit code, or NULL (sees nothing)';

CREATE FUNCTION oversight.bind_session(p_pid integer, p_all_units boolean, p_unit text, p_token uuid)
RETURNS boolean LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, oversight AS $$
DECLARE
    v_start timestamptz;
BEGIN
    -- Only a library reader backend can be bound; forget scopes of backends that are gone.
    SELECT a.backend_start INTO v_start FROM pg_stat_get_activity(p_pid) a
    WHERE a.usesysid = (SELECT oid FROM pg_roles WHERE rolname = '{SQL_LOGIN}');
    IF v_start IS NULL THEN
        RETURN false;
    END IF;
    DELETE FROM oversight.sql_scope s
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(s.pid) a WHERE a.backend_start = s.backend_start);
    INSERT INTO oversight.sql_scope (pid, backend_start, all_units, unit_code, token_id)
    VALUES (p_pid, v_start, p_all_units, CASE WHEN p_all_units THEN NULL ELSE p_unit END, p_token)
    ON CONFLICT (pid) DO UPDATE SET backend_start = excluded.backend_start, all_units = excluded.all_units,
        unit_code = excluded.unit_code, token_id = excluded.token_id, bound_at = now();
    RETURN true;
END
$$;

-- One user statement as a cursor: PostgreSQL parses it and refuses anything but a single row-returning
-- query; STABLE makes SPI refuse data-modifying statements. Runs with the caller's (reader's) rights.
CREATE FUNCTION oversight.open_query(p_name text, p_sql text) RETURNS refcursor
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
DECLARE
    cur refcursor := p_name;
BEGIN
    OPEN cur NO SCROLL FOR EXECUTE p_sql;
    RETURN cur;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA oversight FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA oversight FROM PUBLIC;
GRANT USAGE ON SCHEMA oversight TO {READER}, ggzy_api;
GRANT EXECUTE ON FUNCTION oversight.session_scope(), oversight.open_query(text, text),
    oversight.mask_id(text), oversight.mask_record(jsonb) TO {READER}, ggzy_api;
GRANT EXECUTE ON FUNCTION oversight.bind_session(integer, boolean, text, uuid) TO ggzy_api;
GRANT USAGE ON SCHEMA library TO {READER}, ggzy_api;

{chr(10).join(_view_sql(name, *spec[:2], spec[2]) for name, spec in VIEWS.items())}

-- Audit of the auditors: the API reads the log only through this function, and every call is audited.
CREATE FUNCTION audit.read_events(p_after bigint, p_limit integer, p_actor text, p_case text, p_action text)
RETURNS SETOF audit.event LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
    SELECT * FROM audit.event
    WHERE seq > p_after
      AND (p_actor IS NULL OR actor = p_actor)
      AND (p_case IS NULL OR case_ref = p_case)
      AND (p_action IS NULL OR starts_with(action, p_action))
    ORDER BY seq LIMIT least(greatest(p_limit, 1), 1000)
$$;
REVOKE ALL ON FUNCTION audit.read_events(bigint, integer, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.read_events(bigint, integer, text, text, text) TO ggzy_api;

-- The chain head for signed checkpoints (seq and hash only), readable by the API role.
CREATE FUNCTION audit.head() RETURNS TABLE (seq bigint, hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
    SELECT seq, hash FROM audit.chain_head WHERE id = 1
$$;
REVOKE ALL ON FUNCTION audit.head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.head() TO ggzy_api;
"""

DOWNGRADE = f"""
GRANT SELECT ON pg_catalog.pg_stat_activity TO PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_backend_activity(integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) TO PUBLIC;
DROP FUNCTION IF EXISTS audit.head();
DROP FUNCTION IF EXISTS audit.read_events(bigint, integer, text, text, text);
DROP SCHEMA IF EXISTS library CASCADE;
DROP SCHEMA IF EXISTS oversight CASCADE;
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SQL_LOGIN}') THEN
        REVOKE {READER} FROM {SQL_LOGIN};
    END IF;
END $$;
"""


def _reader_password() -> str | None:
    """The SQL login's password derived from the hub secret (like the API role's), when settings are known."""
    settings = context.config.attributes.get("settings")
    if settings is None:
        return None
    import hashlib

    return hashlib.sha256(b"ggzy-sql-role:" + settings.hub_secret()).hexdigest()[:32]


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)
    password = _reader_password()
    if password is not None:
        op.get_bind().exec_driver_sql(f"ALTER ROLE {SQL_LOGIN} PASSWORD '{password}'")


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
