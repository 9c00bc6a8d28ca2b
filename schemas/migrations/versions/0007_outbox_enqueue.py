"""Cheaper penalty merges. Owed rows: delivery.outbox loses its two per-row foreign-key triggers and its full UNIQUE index on
message_id, which together were most of the cost of a large penalty merge (12 outbox rows per decision).

Why each change keeps the table's integrity:

* event_id -> delivery.event, unit_code -> delivery.member_unit (dropped). Every writer of owed rows inserts
  them by INSERT .. SELECT from delivery.event (or an event id the same statement's transaction has just
  RETURNED) joined to delivery.member_unit: ggzy.delivery.outbox._enqueue (penalty and credit merges,
  enqueue_event), ggzy.supervision.alerts and ggzy.supervision.report. A dangling reference cannot be
  written by construction. What the foreign keys also did is kept by cheap row triggers that never run
  during an ingest: an event or member unit that owed rows name cannot be deleted or have its key changed,
  and an owed row's event_id and unit_code cannot be changed (UPDATE OF those columns only; the delivery
  worker's status updates do not fire it). Not covered any more: a hand-written INSERT naming an event or
  unit that does not exist, and TRUNCATE of delivery.event or delivery.member_unit alone.
* message_id UNIQUE (replaced). The merge writes message ids derived from the row's key,
  delivery.message_id_for(event_id, unit_code) = 'msg_' || 12-digit event id || '_' || unit code: unique
  because (event_id, unit_code) is UNIQUE and the derivation is one-to-one (the event id has a fixed width).
  Only ids that are NOT derived (the random default 'msg_' + 32 hex digits, used by the supervision alerts
  and monthly reports, and every id written before this migration) stay in a UNIQUE index, the partial
  outbox_message_id_other. The CHECK outbox_message_id_form keeps the two kinds apart: an id with the
  derived form's '_' at position 17 must be its own row's derived id, so no other id can collide with it.
  Lookups by message id (receipts) use (event_id, unit_code) for a derived id and the partial index for
  the others (ggzy.delivery.receipts).

A penalty decision's delivery event no longer stores its document a second time: delivery.event.document
may be NULL for a 'penalty_decision' event, whose document is then the version record it names,
core.penalty_decision_version (penalty_id, version).record, which is never updated (document_hash is still
computed from it, in the merge). Every reader takes the document through ggzy.delivery.outbox.MESSAGE_COLUMNS
and MESSAGE_FROM (push worker, pull feed), which read coalesce(e.document, v.record). Other events (credit
restrictions, alerts, monthly reports) keep their document in the event; the CHECK
event_document_or_version allows NULL only where the version record exists to stand in.

Revision ID: 0007_outbox_enqueue
Revises: 0006_library_trading
Create Date: 2026-11-29
"""

from alembic import op

revision = "0007_outbox_enqueue"
down_revision = "0006_library_trading"
branch_labels = None
depends_on = None

UPGRADE = """
-- The message id the merge gives an owed row (inlined by the planner: an immutable one-expression SQL function).
CREATE FUNCTION delivery.message_id_for(p_event_id bigint, p_unit_code text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'msg_' || lpad(p_event_id::text, 12, '0') || '_' || p_unit_code $$;

ALTER TABLE delivery.outbox DROP CONSTRAINT outbox_event_id_fkey;
ALTER TABLE delivery.outbox DROP CONSTRAINT outbox_unit_code_fkey;
ALTER TABLE delivery.outbox DROP CONSTRAINT outbox_message_id_key;
ALTER TABLE delivery.outbox ADD CONSTRAINT outbox_message_id_form
    CHECK (message_id = delivery.message_id_for(event_id, unit_code) OR substr(message_id, 17, 1) <> '_');
CREATE UNIQUE INDEX outbox_message_id_other ON delivery.outbox (message_id)
    WHERE message_id <> delivery.message_id_for(event_id, unit_code);

-- A penalty event's document is its version record (see the module docstring); written once.
ALTER TABLE delivery.event ALTER COLUMN document DROP NOT NULL;
ALTER TABLE delivery.event ADD CONSTRAINT event_document_or_version CHECK (
    document IS NOT NULL
    OR (record_type = 'penalty_decision' AND penalty_id IS NOT NULL AND penalty_version IS NOT NULL));

-- What the dropped foreign keys also guarded: owed rows never lose their event or unit.
CREATE FUNCTION delivery.refuse_if_owed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owed boolean;
BEGIN
    -- Separate branches: PL/pgSQL plans OLD.id only for delivery.event and OLD.code only for member_unit.
    IF TG_TABLE_NAME = 'event' THEN
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
            RETURN NEW;
        END IF;
        owed := EXISTS (SELECT 1 FROM delivery.outbox WHERE event_id = OLD.id);
    ELSE
        IF TG_OP = 'UPDATE' AND NEW.code = OLD.code THEN
            RETURN NEW;
        END IF;
        owed := EXISTS (SELECT 1 FROM delivery.outbox WHERE unit_code = OLD.code);
    END IF;
    IF owed THEN
        RAISE EXCEPTION 'delivery.% row is named by delivery.outbox rows', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER event_owed BEFORE DELETE OR UPDATE OF id ON delivery.event
    FOR EACH ROW EXECUTE FUNCTION delivery.refuse_if_owed();
CREATE TRIGGER member_unit_owed BEFORE DELETE OR UPDATE OF code ON delivery.member_unit
    FOR EACH ROW EXECUTE FUNCTION delivery.refuse_if_owed();

CREATE FUNCTION delivery.refuse_new_reference() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_id IS DISTINCT FROM OLD.event_id OR NEW.unit_code IS DISTINCT FROM OLD.unit_code THEN
        RAISE EXCEPTION 'an owed row keeps its event and member unit (delivery.outbox id %)', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER outbox_reference_fixed BEFORE UPDATE OF event_id, unit_code ON delivery.outbox
    FOR EACH ROW EXECUTE FUNCTION delivery.refuse_new_reference();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS outbox_reference_fixed ON delivery.outbox;
DROP TRIGGER IF EXISTS member_unit_owed ON delivery.member_unit;
DROP TRIGGER IF EXISTS event_owed ON delivery.event;
DROP FUNCTION IF EXISTS delivery.refuse_new_reference();
DROP FUNCTION IF EXISTS delivery.refuse_if_owed();
UPDATE delivery.event e SET document = v.record FROM core.penalty_decision_version v
    WHERE e.document IS NULL AND v.penalty_id = e.penalty_id AND v.version = e.penalty_version;
ALTER TABLE delivery.event DROP CONSTRAINT IF EXISTS event_document_or_version;
ALTER TABLE delivery.event ALTER COLUMN document SET NOT NULL;
DROP INDEX IF EXISTS delivery.outbox_message_id_other;
ALTER TABLE delivery.outbox DROP CONSTRAINT IF EXISTS outbox_message_id_form;
ALTER TABLE delivery.outbox ADD CONSTRAINT outbox_message_id_key UNIQUE (message_id);
ALTER TABLE delivery.outbox ADD CONSTRAINT outbox_unit_code_fkey
    FOREIGN KEY (unit_code) REFERENCES delivery.member_unit(code);
ALTER TABLE delivery.outbox ADD CONSTRAINT outbox_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES delivery.event(id);
DROP FUNCTION IF EXISTS delivery.message_id_for(bigint, text);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
