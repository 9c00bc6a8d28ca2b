"""Credit: one restriction model for every blacklist the hub holds (Credit China lists, the exchange
centre's 302/303, penalty decisions that restrict), its full bitemporal history, 402-form alerts, and
a generic record reference on delivery events so a restriction reaches member units like a penalty does.

Revision ID: 0004_credit
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from alembic import op

revision = "0004_credit"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

UPGRADE = """
-- Staging for every credit list: one row per received change, the record as received (native field
-- names) in jsonb. quality/credit_suites.py reads one batch through a per-list view of typed columns.
CREATE TABLE raw.credit_row (
    batch_id uuid NOT NULL REFERENCES ops.batch(id) ON DELETE CASCADE,
    source_row integer NOT NULL,
    list text NOT NULL,
    change_seq bigint,
    changed_at text,
    change_type text,
    record jsonb NOT NULL,
    PRIMARY KEY (batch_id, source_row)
);

-- How far each source has been read (the last watermark of a committed pull).
CREATE TABLE ops.credit_watermark (
    source text PRIMARY KEY,
    watermark text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The restriction model: one row per list entry (source + source_key), current version.
-- active_from / active_until ([) half-open, in days) are what "restricted on date D" reads:
-- active_until = least(end_date + 1, removed_on); a removed entry stops flagging ON its removal date.
CREATE TABLE core.restriction (
    id bigserial PRIMARY KEY,
    source text NOT NULL CHECK (source IN ('credit_china_dishonest_debtor', 'serious_dishonesty_list',
        'exchange_blacklist_302', 'penalty_decision')),
    source_key text NOT NULL,                -- caseCode/debtor, list entry id, BLACKLIST_CODE, authority/decision no
    entity_key text NOT NULL,                -- USCC for organisations; 'P:' || keyed hash for natural persons
    entity_kind text NOT NULL CHECK (entity_kind IN ('organisation', 'person')),
    entity_name text NOT NULL,
    entity_uscc text,
    entity_id_masked text,                   -- natural persons: the masked identifier only
    basis_document text,                     -- 执行依据文号 / 列入文书号 / DOCUMENT_CODE / 决定书文号
    basis_unit text,                         -- 做出执行依据单位 / 认定部门 / GOVERNMENT / 处罚机关
    basis_text text,                         -- 列入依据 / 生效法律文书确定的义务 / 处罚依据
    reason text,                             -- 失信情形 / 列入事由 / RECORD_REASON / 违法行为
    restricted_behaviour text,               -- CONFINED_ACTION / 处罚类别 / 失信惩戒
    start_date date NOT NULL,
    end_date date,                           -- NULL: until removed
    removed_on date,                         -- 移出日期 / 撤销日期
    removal_document text,
    removal_reason text,
    active_from date NOT NULL,
    active_until date,                       -- NULL: open
    details jsonb NOT NULL DEFAULT '{}',
    version integer NOT NULL DEFAULT 1,
    content_hash text NOT NULL,
    known_from timestamptz NOT NULL,         -- when the source said what this version says
    first_batch_id uuid NOT NULL REFERENCES ops.batch(id),
    last_batch_id uuid NOT NULL REFERENCES ops.batch(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, source_key),
    CHECK (active_until IS NULL OR active_until >= active_from)
);
-- As-of lookups: every entry of one entity, with the dates the filter reads, from the index alone.
CREATE INDEX restriction_entity_asof ON core.restriction (entity_key, active_from)
    INCLUDE (active_until, id);
CREATE INDEX ON core.restriction (source, removed_on);
COMMENT ON TABLE core.restriction IS '失信限制 Restrictions from every list, current version';

-- Every version ever known: valid time (active_from/active_until) x transaction time (known_from/known_to),
-- enough to answer "restricted on D, as the hub knew it at K".
CREATE TABLE core.restriction_version (
    restriction_id bigint NOT NULL REFERENCES core.restriction(id),
    version integer NOT NULL,
    change_type text NOT NULL CHECK (change_type IN ('inclusion', 'correction', 'removal')),
    entity_key text NOT NULL,
    active_from date NOT NULL,
    active_until date,
    known_from timestamptz NOT NULL,
    known_to timestamptz,                    -- NULL: still the current version
    batch_id uuid NOT NULL REFERENCES ops.batch(id),
    content_hash text NOT NULL,
    record jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restriction_id, version)
);
CREATE INDEX restriction_version_entity_known ON core.restriction_version (entity_key, known_from)
    INCLUDE (known_to, active_from, active_until);
COMMENT ON TABLE core.restriction_version IS '失信限制历史版本 Every version of every restriction (bitemporal)';

-- Alerts in the PROJECT_ALERTING_INFO (402) form, plus what raised them.
CREATE TABLE core.alert (
    id bigserial PRIMARY KEY,
    alert_type text NOT NULL,                -- restricted_bidder / restricted_winner / is_lost_mismatch / restricted_contractor
    tender_project_code text,
    bid_section_code text NOT NULL,
    body_name text,
    body_code text NOT NULL,
    supervisor_unit_name text,
    supervisory_node text,
    alert_level text NOT NULL,
    alert_date date NOT NULL,
    alert_info text NOT NULL,
    handled text NOT NULL DEFAULT '0',
    handle_result text,
    restriction_id bigint REFERENCES core.restriction(id),
    evidence jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (alert_type, bid_section_code, body_code, restriction_id)
);
CREATE INDEX ON core.alert (body_code);
COMMENT ON TABLE core.alert IS '项目报警信息 Alerts in the 402 PROJECT_ALERTING_INFO form';

-- Delivery events may now carry any record (penalty decisions keep their columns and behaviour).
ALTER TABLE delivery.event ALTER COLUMN penalty_id DROP NOT NULL;
ALTER TABLE delivery.event ALTER COLUMN penalty_version DROP NOT NULL;
ALTER TABLE delivery.event ADD COLUMN IF NOT EXISTS record_type text NOT NULL DEFAULT 'penalty_decision';
ALTER TABLE delivery.event ADD COLUMN IF NOT EXISTS record_id bigint;
ALTER TABLE delivery.event ADD COLUMN IF NOT EXISTS record_version integer;
ALTER TABLE delivery.event ADD CONSTRAINT event_names_its_record CHECK (
    (penalty_id IS NOT NULL AND penalty_version IS NOT NULL)
    OR (record_type <> 'penalty_decision' AND record_id IS NOT NULL AND record_version IS NOT NULL));
CREATE UNIQUE INDEX IF NOT EXISTS event_record_version
    ON delivery.event (record_type, record_id, record_version) WHERE record_id IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON raw.credit_row, ops.credit_watermark, core.restriction,
    core.restriction_version, core.alert TO ggzy_api;
GRANT USAGE, SELECT ON SEQUENCE core.restriction_id_seq, core.alert_id_seq TO ggzy_api;
"""

DOWNGRADE = """
DROP INDEX IF EXISTS delivery.event_record_version;
DELETE FROM delivery.attempt a USING delivery.outbox o, delivery.event e
    WHERE o.id = a.outbox_id AND e.id = o.event_id AND e.record_type <> 'penalty_decision';
DELETE FROM delivery.outbox o USING delivery.event e WHERE e.id = o.event_id AND e.record_type <> 'penalty_decision';
DELETE FROM delivery.event WHERE record_type <> 'penalty_decision';
ALTER TABLE delivery.event DROP CONSTRAINT IF EXISTS event_names_its_record;
ALTER TABLE delivery.event DROP COLUMN IF EXISTS record_version, DROP COLUMN IF EXISTS record_id,
    DROP COLUMN IF EXISTS record_type;
ALTER TABLE delivery.event ALTER COLUMN penalty_id SET NOT NULL;
ALTER TABLE delivery.event ALTER COLUMN penalty_version SET NOT NULL;
DROP TABLE IF EXISTS core.alert, core.restriction_version, core.restriction, ops.credit_watermark, raw.credit_row;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
