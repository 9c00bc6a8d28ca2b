"""The delivery worker's claim reads owed rows in index order: outbox_due covers (next_attempt_at, id).

A pass claims the first `delivery_batch_size` due rows ordered by (next_attempt_at, id). With the index on
next_attempt_at alone, PostgreSQL sorted every pending row of a large outbox to find them (external merge
on disk, about 0.5 s a pass at 300,000 owed rows); with id in the index the scan returns them in order and
stops after the batch (about 3 ms). See ggzy.delivery.outbox._DUE_WHERE.

Revision ID: 0008_outbox_due_order
Revises: 0007_outbox_enqueue
Create Date: 2026-11-29
"""

from alembic import op

revision = "0008_outbox_due_order"
down_revision = "0007_outbox_enqueue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX delivery.outbox_due")
    op.execute("CREATE INDEX outbox_due ON delivery.outbox (next_attempt_at, id) WHERE status = 'pending'")


def downgrade() -> None:
    op.execute("DROP INDEX delivery.outbox_due")
    op.execute("CREATE INDEX outbox_due ON delivery.outbox (next_attempt_at) WHERE status = 'pending'")
