"""Foundation: batch manifest, raw staging, quarantine, penalty core with history, delivery outbox,
API tokens and the hash-chained audit log.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

# The penalty fields of the 双公示 current format (data-standards §2), lower-cased CF_ codes.
PENALTY_FIELDS = [
    "cf_xdr_mc", "cf_xdr_lb", "cf_xdr_shxym", "cf_xdr_gszc", "cf_xdr_zzjg", "cf_xdr_swdj", "cf_xdr_sydw",
    "cf_xdr_shzz", "cf_frdb", "cf_fr_zjlx", "cf_fr_zjhm", "cf_xdr_zjlx", "cf_xdr_zjhm", "cf_wsh", "cf_wfxw",
    "cf_sy", "cf_yj", "cf_cflb", "cf_nr", "cf_nr_fk", "cf_nr_wfff", "cf_nr_zkdx", "cf_jdrq", "cf_yxq",
    "cf_gsjzq", "cf_cfjg", "cf_cfjgdm", "cf_sjly", "cf_sjlydm", "bz",
]  # fmt: skip

# GB 32100-2015 check character: sum(value(char_i) * weight_i) over the first 17 characters.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTED_SUM = " + ".join(
    f"(strpos('{USCC_ALPHABET}', substr(code, {i}, 1)) - 1) * {w}"
    for i, w in enumerate((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28), start=1)
)

UPGRADE = f"""
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS quality;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS protected;
CREATE SCHEMA IF NOT EXISTS delivery;
CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS audit;

-- Batch manifest: one row per file (or page) received. Evidence of what arrived: exact bytes on disk,
-- their sha256, a Parquet copy, and the row conservation figures once processed.
CREATE TABLE ops.batch (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dataset text NOT NULL,
    source text NOT NULL,
    submitted_by text,
    filename text,
    file_format text,
    encoding text,
    sha256 text NOT NULL,
    byte_size bigint NOT NULL,
    raw_path text NOT NULL,
    parquet_path text,
    received_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'landed'
        CHECK (status IN ('landed', 'loaded', 'failed', 'rejected')),
    rows_in integer,
    rows_loaded integer,
    rows_inserted integer,
    rows_updated integer,
    rows_quarantined integer,
    rows_duplicate integer,
    rows_warned integer,
    error text,
    finished_at timestamptz,
    UNIQUE (dataset, sha256),
    CONSTRAINT rows_conserved CHECK (
        status <> 'loaded' OR rows_in = rows_loaded + rows_quarantined + rows_duplicate)
);
COMMENT ON TABLE ops.batch IS '批次清单 Batch manifest: every received file, its hash and row conservation';

-- Raw staging for penalty rows: every landed row as text under its CF_ code. The row exactly as received
-- stays in the raw zone (bytes + Parquet). Great Expectations validates one batch_id partition of this table.
CREATE TABLE raw.penalty_row (
    batch_id uuid NOT NULL REFERENCES ops.batch(id) ON DELETE CASCADE,
    source_row integer NOT NULL,
    source_format text NOT NULL CHECK (source_format IN ('current', 'legacy')),
    {", ".join(f"{c} text" for c in PENALTY_FIELDS)},
    PRIMARY KEY (batch_id, source_row)
);

-- Quarantine: rows that failed a rule, with every rule and the raw row. Never dropped.
CREATE TABLE quality.quarantine_row (
    id bigserial PRIMARY KEY,
    batch_id uuid NOT NULL REFERENCES ops.batch(id),
    dataset text NOT NULL,
    source_row integer NOT NULL,
    natural_key text,
    rules text[] NOT NULL,
    errors jsonb NOT NULL,
    raw_record jsonb NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (batch_id, source_row)
);
CREATE INDEX ON quality.quarantine_row (dataset, quarantined_at);

-- USCC (GB 32100-2015) format and check digit in SQL, so expectations run inside PostgreSQL.
CREATE FUNCTION quality.uscc_format_ok(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT code ~ '^[0-9A-HJ-NPQRTUWXY]{{2}}[0-9]{{6}}[0-9A-HJ-NPQRTUWXY]{{10}}$'
$$;
-- One expression (no FROM) so PostgreSQL inlines it: validation calls it on every row of a batch.
CREATE FUNCTION quality.uscc_check_digit_ok(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN quality.uscc_format_ok(code) THEN
        substr('{USCC_ALPHABET}', (31 - ({USCC_WEIGHTED_SUM}) % 31) % 31 + 1, 1) = substr(code, 18, 1)
    END
$$;

-- Personal ID numbers: kept encrypted, keyed by their keyed hash; everything else holds hash + mask.
CREATE TABLE protected.personal_id (
    id_hash text PRIMARY KEY,
    ciphertext text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now()
);

-- Core: administrative penalty decisions, one row per (authority, decision number), current version.
CREATE TABLE core.penalty_decision (
    id bigserial PRIMARY KEY,
    authority_code text NOT NULL,            -- CF_CFJGDM 处罚机关统一社会信用代码
    decision_no text NOT NULL,               -- CF_WSH 行政处罚决定书文号
    party_name text NOT NULL,                -- CF_XDR_MC 行政相对人名称
    party_category text NOT NULL,            -- CF_XDR_LB 行政相对人类别
    party_uscc text,                         -- CF_XDR_SHXYM 统一社会信用代码
    party_business_reg_no text,              -- CF_XDR_GSZC 工商注册号
    party_org_code text,                     -- CF_XDR_ZZJG 组织机构代码
    party_tax_reg_no text,                   -- CF_XDR_SWDJ 税务登记号
    party_institution_cert_no text,          -- CF_XDR_SYDW 事业单位证书号
    party_social_org_reg_no text,            -- CF_XDR_SHZZ 社会组织登记证号
    legal_rep_name text,                     -- CF_FRDB 法定代表人
    legal_rep_id_type text,                  -- CF_FR_ZJLX 法定代表人证件类型
    legal_rep_id_masked text,                -- CF_FR_ZJHM 法定代表人证件号码 (masked)
    legal_rep_id_hash text,                  --   keyed hash for matching
    party_id_type text,                      -- CF_XDR_ZJLX 证件类型
    party_id_masked text,                    -- CF_XDR_ZJHM 证件号码 (masked)
    party_id_hash text,                      --   keyed hash for matching
    violation_type text NOT NULL,            -- CF_WFXW 违法行为类型
    violation_facts text,                    -- CF_SY 违法事实
    legal_basis text,                        -- CF_YJ 处罚依据
    penalty_categories text[] NOT NULL,      -- CF_CFLB 处罚类别
    penalty_content text,                    -- CF_NR 处罚内容
    fine_yuan numeric(22, 2),                -- CF_NR_FK 罚款金额 (received in 万元, stored in 元)
    confiscation_yuan numeric(22, 2),        -- CF_NR_WFFF 没收违法所得、没收非法财物的金额
    licence_affected text,                   -- CF_NR_ZKDX 暂扣或吊销证照名称及编号
    decision_date date NOT NULL,             -- CF_JDRQ 处罚决定日期
    valid_until date,                        -- CF_YXQ 处罚有效期 (2099-12-31 = 长期)
    valid_long_term boolean NOT NULL DEFAULT false,
    publicity_until date,                    -- CF_GSJZQ 公示截止期
    authority_name text NOT NULL,            -- CF_CFJG 处罚机关
    source_unit_name text,                   -- CF_SJLY 数据来源单位
    source_unit_code text,                   -- CF_SJLYDM 数据来源单位统一社会信用代码
    remarks text,                            -- BZ 备注
    source_format text NOT NULL,
    warnings text[] NOT NULL DEFAULT '{{}}',
    version integer NOT NULL DEFAULT 1,
    content_hash text NOT NULL,
    first_batch_id uuid NOT NULL REFERENCES ops.batch(id),
    last_batch_id uuid NOT NULL REFERENCES ops.batch(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (authority_code, decision_no)
);
CREATE INDEX ON core.penalty_decision (party_uscc);
CREATE INDEX ON core.penalty_decision (decision_date);
COMMENT ON TABLE core.penalty_decision IS '行政处罚决定 Administrative penalty decisions (双公示), current version';

CREATE TABLE core.penalty_decision_version (
    penalty_id bigint NOT NULL REFERENCES core.penalty_decision(id),
    version integer NOT NULL,
    batch_id uuid NOT NULL REFERENCES ops.batch(id),
    content_hash text NOT NULL,
    record jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (penalty_id, version)
);
COMMENT ON TABLE core.penalty_decision_version IS '处罚决定历史版本 Every version of every decision';

-- Delivery: member units, the events owed to them, and one outbox row per (event, unit).
CREATE TABLE delivery.member_unit (
    code text PRIMARY KEY,
    name text NOT NULL,
    role text NOT NULL,
    uscc text,
    mode text NOT NULL CHECK (mode IN ('push', 'pull')),
    endpoint_url text,
    secret text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_at timestamptz,
    disabled_reason text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE delivery.event (
    id bigserial PRIMARY KEY,
    event_type text NOT NULL,
    penalty_id bigint NOT NULL REFERENCES core.penalty_decision(id),
    penalty_version integer NOT NULL,
    batch_id uuid NOT NULL REFERENCES ops.batch(id),
    document jsonb NOT NULL,
    document_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (penalty_id, penalty_version)
);

CREATE TABLE delivery.outbox (
    id bigserial PRIMARY KEY,
    message_id text NOT NULL UNIQUE DEFAULT ('msg_' || replace(gen_random_uuid()::text, '-', '')),
    event_id bigint NOT NULL REFERENCES delivery.event(id),
    unit_code text NOT NULL REFERENCES delivery.member_unit(code),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'acknowledged', 'failed', 'disabled')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    first_attempt_at timestamptz,
    last_attempt_at timestamptz,
    delivered_at timestamptz,
    delivered_via text,
    acknowledged_at timestamptz,
    ack_due date,
    receipt jsonb,
    last_http_status integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, unit_code)
);
CREATE INDEX outbox_due ON delivery.outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_unit_cursor ON delivery.outbox (unit_code, id);

CREATE TABLE delivery.attempt (
    id bigserial PRIMARY KEY,
    outbox_id bigint NOT NULL REFERENCES delivery.outbox(id),
    attempt_no integer NOT NULL,
    started_at timestamptz NOT NULL,
    duration_ms integer,
    http_status integer,
    error text,
    response_excerpt text
);
CREATE INDEX ON delivery.attempt (outbox_id);

-- API tokens, stored as sha256 hashes only.
CREATE TABLE auth.token (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash text NOT NULL UNIQUE,
    token_prefix text NOT NULL,
    person text NOT NULL,
    org_code text NOT NULL,
    role text NOT NULL CHECK (role IN ('oversight', 'member', 'engineer', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    last_used_at timestamptz,
    note text
);

-- Tamper-evident audit log: gap-free sequence, each row hashing the previous one.
CREATE TABLE audit.event (
    seq bigint PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor text,
    org_code text,
    role text,
    token_id uuid,
    case_ref text,
    purpose text,
    action text NOT NULL,
    params text,
    row_count bigint,
    result_sha256 text,
    client_addr text,
    layout_version smallint NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
COMMENT ON TABLE audit.event IS '审计日志 Hash-chained audit log; verify with `ggzy audit verify`';

CREATE TABLE audit.chain_head (
    id smallint PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO audit.chain_head VALUES (1, 0, repeat('0', 64));

-- Layout v1: the fields below, NULL written as \\N, joined by U+001F, UTF-8, sha256, lower-case hex.
-- ggzy.audit.row_hash recomputes the same bytes independently in Python.
CREATE FUNCTION audit.row_hash_v1(
    p_seq bigint, p_time timestamptz, p_actor text, p_org text, p_role text, p_token uuid, p_case text,
    p_purpose text, p_action text, p_params text, p_rows bigint, p_result text, p_client text, p_prev text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws(chr(31),
        'v1', p_seq::text,
        to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        coalesce(p_actor, '\\N'), coalesce(p_org, '\\N'), coalesce(p_role, '\\N'),
        coalesce(p_token::text, '\\N'), coalesce(p_case, '\\N'), coalesce(p_purpose, '\\N'),
        p_action, coalesce(p_params, '\\N'), coalesce(p_rows::text, '\\N'),
        coalesce(p_result, '\\N'), coalesce(p_client, '\\N'), p_prev), 'UTF8')), 'hex')
$$;

CREATE FUNCTION audit.append(
    p_actor text, p_org text, p_role text, p_token uuid, p_case text, p_purpose text,
    p_action text, p_params text, p_rows bigint, p_result text, p_client text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
DECLARE
    head record;
    v_seq bigint;
    v_time timestamptz := clock_timestamp();
    v_hash text;
BEGIN
    -- The one-row head is the serialisation point: append order equals commit order.
    SELECT seq, hash INTO head FROM audit.chain_head WHERE id = 1 FOR UPDATE;
    v_seq := head.seq + 1;
    v_hash := audit.row_hash_v1(v_seq, v_time, p_actor, p_org, p_role, p_token, p_case, p_purpose,
                                p_action, p_params, p_rows, p_result, p_client, head.hash);
    INSERT INTO audit.event VALUES (v_seq, v_time, p_actor, p_org, p_role, p_token, p_case, p_purpose,
                                    p_action, p_params, p_rows, p_result, p_client, 1, head.hash, v_hash);
    UPDATE audit.chain_head SET seq = v_seq, hash = v_hash WHERE id = 1;
    RETURN v_seq;
END
$$;

-- Defence in depth: even the owner cannot UPDATE or DELETE audit rows without disabling this trigger.
CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.event is append-only (审计日志只允许追加)';
END
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.event
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- The API's role: works the pipelines and the delivery tables, but reaches the audit log only
-- through audit.append(); no UPDATE/DELETE/TRUNCATE there, and it owns nothing.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ggzy_api') THEN
        CREATE ROLE ggzy_api LOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA ops, raw, quality, core, protected, delivery, auth, audit TO ggzy_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ops, raw, quality, core, protected, delivery, auth
    TO ggzy_api;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ops, raw, quality, core, protected, delivery, auth TO ggzy_api;
REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC, ggzy_api;
REVOKE ALL ON FUNCTION audit.append(text, text, text, uuid, text, text, text, text, bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.append(text, text, text, uuid, text, text, text, text, bigint, text, text)
    TO ggzy_api;
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS audit, auth, delivery, protected, core, quality, raw, ops CASCADE;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
