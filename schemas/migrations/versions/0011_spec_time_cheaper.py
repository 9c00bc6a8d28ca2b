"""core.spec_time: the same answers for about three quarters of the cost.

Every trading time column goes through core.spec_time twice per row: the time_format rule's check (three
times when a batch holds a malformed time: GX's COMPLETE pass scans again for the values and the rows) and
the typed copy into core. At a million bids that was some 20 CPU-seconds of PostgreSQL. The function stays
an inlinable SQL function with the same result for every input; it is cheaper in two places:

* the shape (8 or 14 ASCII digits) is a length test and a translate() instead of a regular expression;
* the last day of the month is a CASE on the month (and the Gregorian leap-year rule for February) instead of
  make_date(...) + interval '1 month - 1 day'.

tests/integration/test_schema.py compares it with Python's datetime.strptime on every combination of the
edge values of each field (17,653 strings). Downgrading keeps this body: its results are the same.

Revision ID: 0011_spec_time_cheaper
Revises: 0010_decisions_never_deleted
Create Date: 2026-11-30
"""

from alembic import op

revision = "0011_spec_time_cheaper"
down_revision = "0010_decisions_never_deleted"
branch_labels = None
depends_on = None

UPGRADE = """
-- yyyyMMddHHmmss / yyyyMMdd text to timestamp; NULL when it is neither or names no real moment
-- (validation reports those). Each WHEN runs only when the ones before did not hold, so the casts only
-- ever see digits.
CREATE OR REPLACE FUNCTION core.spec_time(value text) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL OR length(value) NOT IN (8, 14) OR translate(value, '0123456789', '') <> '' THEN NULL
        WHEN substr(value, 1, 4) = '0000' OR substr(value, 5, 2) NOT BETWEEN '01' AND '12'
          OR substr(value, 7, 2) < '01' OR substr(value, 7, 2)::int > CASE substr(value, 5, 2)
                WHEN '02' THEN CASE WHEN substr(value, 1, 4)::int % 4 = 0 AND (substr(value, 1, 4)::int % 100 <> 0
                                         OR substr(value, 1, 4)::int % 400 = 0) THEN 29 ELSE 28 END
                WHEN '04' THEN 30 WHEN '06' THEN 30 WHEN '09' THEN 30 WHEN '11' THEN 30
                ELSE 31 END THEN NULL
        WHEN length(value) = 8 THEN make_timestamp(substr(value, 1, 4)::int, substr(value, 5, 2)::int,
             substr(value, 7, 2)::int, 0, 0, 0)
        WHEN substr(value, 9, 2) > '23' OR substr(value, 11, 2) > '59' OR substr(value, 13, 2) > '59' THEN NULL
        ELSE make_timestamp(substr(value, 1, 4)::int, substr(value, 5, 2)::int, substr(value, 7, 2)::int,
             substr(value, 9, 2)::int, substr(value, 11, 2)::int, substr(value, 13, 2)::int)
    END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    """Nothing to undo: the body before this revision gives the same results, only more slowly."""
