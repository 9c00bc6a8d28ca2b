"""Batch references checked once per statement, not once per row.

Every core, raw and version row names the batch that wrote it (first_batch_id, last_batch_id, batch_id ->
ops.batch). As foreign keys, PostgreSQL checked each of them with its own query per written row: at a
200,000-row penalty merge that was about 1.8 s for core.penalty_decision alone (two columns), 0.9 s per
column for the version and event rows, and the same again for every trading table; yet all rows of one
statement name the same one or two batches.

This migration keeps what those foreign keys guaranteed and checks it per statement:

* writing (INSERT, UPDATE): an AFTER ... FOR EACH STATEMENT trigger reads the statement's new rows (a
  transition table) once, collects the distinct batch ids of the table's batch columns, takes the same
  FOR KEY SHARE lock on those ops.batch rows a foreign key takes (so a concurrent DELETE waits, then fails),
  and raises foreign_key_violation naming the table, column and the first batch id that is not in ops.batch;
* deleting or re-keying a batch (BEFORE DELETE OR UPDATE OF id ON ops.batch, per row, rare): raw rows
  (formerly ON DELETE CASCADE) are deleted with it; a batch that any other registered column still names is
  refused with foreign_key_violation.

ops.batch_reference lists every column checked this way (and how a delete treats it); the migration fills it
from the foreign keys it replaces, and a later table registers with ops.reference_batch(table, column,
on_delete). Not covered any more: TRUNCATE of ops.batch alone (no one does; a foreign key would refuse it).

Revision ID: 0009_batch_refs_by_statement
Revises: 0008_outbox_due_order
Create Date: 2026-11-29
"""

from alembic import op

revision = "0009_batch_refs_by_statement"
down_revision = "0008_outbox_due_order"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE ops.batch_reference (
    table_name regclass NOT NULL,
    column_name text NOT NULL,
    on_delete text NOT NULL CHECK (on_delete IN ('restrict', 'cascade')),
    PRIMARY KEY (table_name, column_name)
);
COMMENT ON TABLE ops.batch_reference IS
    '批次引用 Columns naming an ops.batch row, checked per statement (migration 0009) instead of per row';

-- AFTER INSERT / UPDATE, per statement: every batch id the new rows name exists, and stays until commit.
CREATE FUNCTION ops.check_batch_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    named uuid[];
    present uuid[];
    col text;
    missing uuid;
BEGIN
    -- One pass over the statement's rows for all of the table's batch columns (TG_ARGV).
    EXECUTE format('SELECT array_agg(DISTINCT v) FROM new_rows, LATERAL (VALUES %s) AS r(v) WHERE v IS NOT NULL',
                   (SELECT string_agg(format('(new_rows.%I)', a), ', ') FROM unnest(TG_ARGV) AS a))
        INTO named;
    IF named IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(id) INTO present
      FROM (SELECT b.id FROM ops.batch b WHERE b.id = ANY (named) FOR KEY SHARE) AS locked;
    IF coalesce(cardinality(present), 0) = cardinality(named) THEN
        RETURN NULL;
    END IF;
    FOREACH col IN ARRAY TG_ARGV LOOP
        EXECUTE format('SELECT %1$I FROM new_rows WHERE %1$I IS NOT NULL AND NOT (%1$I = ANY ($1)) LIMIT 1', col)
            INTO missing USING coalesce(present, '{}');
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'insert or update on table %.% violates its batch reference: % = % is not in ops.batch',
                TG_TABLE_SCHEMA, TG_TABLE_NAME, col, missing
                USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = col;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- BEFORE DELETE OR UPDATE OF id ON ops.batch, per row: cascade to raw rows, refuse while anything else names it.
CREATE FUNCTION ops.batch_still_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ref record;
    named boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    FOR ref IN SELECT table_name, column_name, on_delete FROM ops.batch_reference ORDER BY on_delete, table_name::text LOOP
        IF TG_OP = 'DELETE' AND ref.on_delete = 'cascade' THEN
            EXECUTE format('DELETE FROM %s WHERE %I = $1', ref.table_name, ref.column_name) USING OLD.id;
            CONTINUE;
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I = $1)', ref.table_name, ref.column_name)
            INTO named USING OLD.id;
        IF named THEN
            RAISE EXCEPTION 'ops.batch % is still named by %.%', OLD.id, ref.table_name, ref.column_name
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER batch_still_referenced BEFORE DELETE OR UPDATE OF id ON ops.batch
    FOR EACH ROW EXECUTE FUNCTION ops.batch_still_referenced();

-- Register a column and (re)create its table's statement trigger over all of the table's registered columns.
CREATE FUNCTION ops.reference_batch(p_table regclass, p_column text, p_on_delete text DEFAULT 'restrict')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    columns text;
BEGIN
    INSERT INTO ops.batch_reference VALUES (p_table, p_column, p_on_delete)
        ON CONFLICT (table_name, column_name) DO UPDATE SET on_delete = EXCLUDED.on_delete;
    SELECT string_agg(quote_literal(column_name), ', ' ORDER BY column_name) INTO columns
      FROM ops.batch_reference WHERE table_name = p_table;
    EXECUTE format('DROP TRIGGER IF EXISTS batch_refs_inserted ON %s', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS batch_refs_updated ON %s', p_table);
    -- Two triggers: a trigger with transition tables may fire on one event only.
    EXECUTE format('CREATE TRIGGER batch_refs_inserted AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION ops.check_batch_refs(%s)', p_table, columns);
    EXECUTE format('CREATE TRIGGER batch_refs_updated AFTER UPDATE ON %s REFERENCING NEW TABLE AS new_rows'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION ops.check_batch_refs(%s)', p_table, columns);
END $$;

-- Replace every single-column foreign key to ops.batch(id).
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.conrelid::regclass AS table_name, c.conname, a.attname AS column_name,
               CASE c.confdeltype WHEN 'c' THEN 'cascade' ELSE 'restrict' END AS on_delete
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND c.confrelid = 'ops.batch'::regclass AND cardinality(c.conkey) = 1
         ORDER BY 1, 3
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.table_name, fk.conname);
        PERFORM ops.reference_batch(fk.table_name, fk.column_name, fk.on_delete);
    END LOOP;
END $$;
"""

DOWNGRADE = """
DO $$
DECLARE
    ref record;
BEGIN
    FOR ref IN SELECT * FROM ops.batch_reference ORDER BY table_name::text, column_name LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS batch_refs_inserted ON %s', ref.table_name);
        EXECUTE format('DROP TRIGGER IF EXISTS batch_refs_updated ON %s', ref.table_name);
        EXECUTE format('ALTER TABLE %s ADD FOREIGN KEY (%I) REFERENCES ops.batch(id)%s', ref.table_name,
                       ref.column_name, CASE ref.on_delete WHEN 'cascade' THEN ' ON DELETE CASCADE' ELSE '' END);
    END LOOP;
END $$;
DROP TRIGGER IF EXISTS batch_still_referenced ON ops.batch;
DROP FUNCTION IF EXISTS ops.reference_batch(regclass, text, text);
DROP FUNCTION IF EXISTS ops.batch_still_referenced();
DROP FUNCTION IF EXISTS ops.check_batch_refs();
DROP TABLE IF EXISTS ops.batch_reference;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
