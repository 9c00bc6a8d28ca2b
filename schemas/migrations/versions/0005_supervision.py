"""Supervision: per-section and per-entity suspicion scores with their indicators, identity hits per bidder
pair, scoring runs, the watch list (重点关注对象名单) with its history, alert handling history and the
monthly reports; core.alert (0004_credit, the 402 PROJECT_ALERTING_INFO form) gains the legal articles,
score, routing and handling columns the bid-rigging alerts need.

Revision ID: 0005_supervision
Revises: 0003_trading (depends on 0004_credit for core.alert and the generic delivery.event record columns)
Create Date: 2026-11-29
"""

from alembic import op

revision = "0005_supervision"
down_revision = "0003_trading"
branch_labels = None
depends_on = ("0004_credit",)

UPGRADE = """
CREATE SCHEMA IF NOT EXISTS supervision;

-- One row per scoring or report run: what it looked at and what it found.
CREATE TABLE supervision.run (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('score', 'monthly_report')),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    changed_since timestamptz,               -- rescore: trading rows updated after this moment
    sections_scored integer,
    alerts_raised integer,
    parameters jsonb NOT NULL DEFAULT '{}',
    figures jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    error text
);

-- Combined suspicion score per bid section (latest), with every indicator's value, status and evidence.
CREATE TABLE supervision.section_score (
    bid_section_code text PRIMARY KEY,
    tender_project_code text,
    n_bids integer NOT NULL,
    score numeric(6, 4),                     -- NULL when score_status = 'insufficient_data'
    score_status text NOT NULL CHECK (score_status IN ('calculated', 'insufficient_data', 'not_applicable')),
    flags text[] NOT NULL DEFAULT '{}',
    contributions jsonb NOT NULL DEFAULT '{}',   -- flag -> share of the score (adds up to the score)
    indicators jsonb NOT NULL DEFAULT '{}',      -- indicator -> {value, status, evidence}
    legal_basis text[] NOT NULL DEFAULT '{}',
    run_id bigint NOT NULL REFERENCES supervision.run(id),
    scored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON supervision.section_score (score DESC NULLS LAST);
COMMENT ON TABLE supervision.section_score IS '标段可疑度评分 Suspicion score per bid section, explained';

-- Combined suspicion score per market entity (bidder), explained.
CREATE TABLE supervision.entity_score (
    entity_code text PRIMARY KEY,            -- BIDDER_ORG_CODE as received (USCC)
    entity_name text,
    score numeric(6, 4) NOT NULL,
    bids integer NOT NULL,
    wins integer NOT NULL,
    flags text[] NOT NULL DEFAULT '{}',
    contributions jsonb NOT NULL DEFAULT '{}',
    indicators jsonb NOT NULL DEFAULT '{}',
    legal_basis text[] NOT NULL DEFAULT '{}',
    run_id bigint NOT NULL REFERENCES supervision.run(id),
    scored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON supervision.entity_score (score DESC);
COMMENT ON TABLE supervision.entity_score IS '市场主体可疑度评分 Suspicion score per market entity, explained';

-- Identity evidence per bidder pair in one section (条例第三十四条、第四十条).
CREATE TABLE supervision.pair_hit (
    bid_section_code text NOT NULL,
    bidder_a text NOT NULL,
    bidder_b text NOT NULL,
    indicator text NOT NULL,
    shared_value text NOT NULL,
    legal_article text NOT NULL,
    run_id bigint NOT NULL REFERENCES supervision.run(id),
    PRIMARY KEY (bid_section_code, bidder_a, bidder_b, indicator),
    CHECK (bidder_a < bidder_b)
);
CREATE INDEX ON supervision.pair_hit (bidder_a);
CREATE INDEX ON supervision.pair_hit (bidder_b);
COMMENT ON TABLE supervision.pair_hit IS '投标人两两身份关联证据 Identity evidence per bidder pair and section';

-- The watch list (重点关注对象名单): one row per stay on the list; leaving sets left_on, rows are never deleted.
CREATE TABLE supervision.watch_entry (
    id bigserial PRIMARY KEY,
    subject_kind text NOT NULL CHECK (subject_kind IN ('entity', 'project')),
    subject_code text NOT NULL,              -- USCC of an entity / TENDER_PROJECT_CODE of a project
    subject_name text,
    reason_code text NOT NULL,               -- high_entity_score / project_alert / restriction
    reason text NOT NULL,                    -- bilingual sentence with the figures
    source_ref text,                         -- alert id, restriction id, entity score run
    score numeric(6, 4),
    entered_on date NOT NULL,
    left_on date,
    left_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (left_on IS NULL OR left_on >= entered_on)
);
CREATE UNIQUE INDEX watch_entry_current ON supervision.watch_entry (subject_kind, subject_code, reason_code)
    WHERE left_on IS NULL;
COMMENT ON TABLE supervision.watch_entry IS '重点关注对象名单 Watch list: entities and projects, reason, entered and left';

-- What the supervising department reported back about an alert, every time it did.
CREATE TABLE supervision.alert_handling (
    id bigserial PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES core.alert(id),
    handled text NOT NULL CHECK (handled IN ('0', '1')),
    handle_result text,
    handled_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON supervision.alert_handling (alert_id);

-- Monthly reports written to GGZY_HOME/reports, with the hashes of what was delivered.
CREATE TABLE supervision.monthly_report (
    id bigserial PRIMARY KEY,
    month date NOT NULL,
    html_path text NOT NULL,
    pdf_path text NOT NULL,
    html_sha256 text NOT NULL,
    pdf_sha256 text NOT NULL,
    figures jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON supervision.monthly_report (month);

-- Bid-rigging alerts reuse core.alert (402 form) and add what they need.
ALTER TABLE core.alert ADD COLUMN IF NOT EXISTS legal_basis text[] NOT NULL DEFAULT '{}';
ALTER TABLE core.alert ADD COLUMN IF NOT EXISTS score numeric(6, 4);
ALTER TABLE core.alert ADD COLUMN IF NOT EXISTS supervise_dept_code text;
ALTER TABLE core.alert ADD COLUMN IF NOT EXISTS routed_unit_code text;
ALTER TABLE core.alert ADD COLUMN IF NOT EXISTS handled_at timestamptz;
ALTER TABLE core.alert ADD COLUMN IF NOT EXISTS handled_by text;
ALTER TABLE core.alert ADD COLUMN IF NOT EXISTS run_id bigint REFERENCES supervision.run(id);
ALTER TABLE core.alert ADD CONSTRAINT alert_handled_flag CHECK (handled IN ('0', '1'));

GRANT USAGE ON SCHEMA supervision TO ggzy_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA supervision TO ggzy_api;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA supervision TO ggzy_api;
"""

DOWNGRADE = """
ALTER TABLE core.alert DROP CONSTRAINT IF EXISTS alert_handled_flag;
ALTER TABLE core.alert DROP COLUMN IF EXISTS run_id, DROP COLUMN IF EXISTS handled_by,
    DROP COLUMN IF EXISTS handled_at, DROP COLUMN IF EXISTS routed_unit_code,
    DROP COLUMN IF EXISTS supervise_dept_code, DROP COLUMN IF EXISTS score, DROP COLUMN IF EXISTS legal_basis;
DROP SCHEMA IF EXISTS supervision CASCADE;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
