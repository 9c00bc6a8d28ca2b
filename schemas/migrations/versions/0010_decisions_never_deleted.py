"""A published penalty decision is never deleted, so what names it is checked once per statement.

A 双公示 decision, once published and copied to the member units, is corrected by a new version (its
history is core.penalty_decision_version), never removed: the hub must be able to show what it sent. This
migration makes that a rule of the database (DELETE, TRUNCATE and changing a decision's id are refused) and
uses it: the two foreign keys naming a decision, core.penalty_decision_version.penalty_id and
delivery.event.penalty_id, were checked with one query per written row (about 3.5 s of a 200,000-row merge).
Because a decision can never disappear, one existence check per statement over the statement's new rows
(a transition table) guarantees the same, with no lock to take. A database superuser can still lift the rule
for a repair (ALTER TABLE core.penalty_decision DISABLE TRIGGER decision_kept), deliberately and visibly.

Revision ID: 0010_decisions_never_deleted
Revises: 0009_batch_refs_by_statement
Create Date: 2026-11-29
"""

from alembic import op

revision = "0010_decisions_never_deleted"
down_revision = "0009_batch_refs_by_statement"
branch_labels = None
depends_on = None

# (table, column) pairs that name a decision; each loses its foreign key and gains the statement check.
NAMING = (("core.penalty_decision_version", "penalty_id"), ("delivery.event", "penalty_id"))

UPGRADE = """
CREATE FUNCTION core.refuse_decision_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a published penalty decision is corrected by a new version, never deleted or re-keyed (%)',
        CASE WHEN TG_LEVEL = 'ROW' THEN 'core.penalty_decision id ' || OLD.id ELSE TG_OP END
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER decision_kept BEFORE DELETE OR UPDATE OF id ON core.penalty_decision
    FOR EACH ROW EXECUTE FUNCTION core.refuse_decision_removal();
CREATE TRIGGER decision_kept_truncate BEFORE TRUNCATE ON core.penalty_decision
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_decision_removal();

-- AFTER INSERT / UPDATE, per statement: every decision id the new rows name (column TG_ARGV[0]) exists.
CREATE FUNCTION core.check_decision_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    EXECUTE format('SELECT n.%1$I FROM new_rows n WHERE n.%1$I IS NOT NULL AND NOT EXISTS'
                   ' (SELECT 1 FROM core.penalty_decision d WHERE d.id = n.%1$I) LIMIT 1', TG_ARGV[0])
        INTO missing;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table %.% names penalty decision % = %, which is not in core.penalty_decision',
            TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0], missing
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = TG_ARGV[0];
    END IF;
    RETURN NULL;
END $$;
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS decision_kept_truncate ON core.penalty_decision;
DROP TRIGGER IF EXISTS decision_kept ON core.penalty_decision;
DROP FUNCTION IF EXISTS core.refuse_decision_removal();
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    for table, column in NAMING:
        name = table.split(".")[1]
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}_{column}_fkey")
        for event in ("INSERT", "UPDATE"):  # a trigger with transition tables fires on one event only
            op.execute(
                f"CREATE TRIGGER decision_refs_{event.lower()} AFTER {event} ON {table}"
                " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
                f" EXECUTE FUNCTION core.check_decision_refs('{column}')"
            )


def downgrade() -> None:
    for table, column in NAMING:
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS decision_refs_{event} ON {table}")
        op.execute(f"ALTER TABLE {table} ADD FOREIGN KEY ({column}) REFERENCES core.penalty_decision(id)")
    op.execute("DROP FUNCTION IF EXISTS core.check_decision_refs()")
    op.execute(DOWNGRADE)
