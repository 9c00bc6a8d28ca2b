"""Warehouse schema: Alembic migrations (schemas/migrations) and dataset descriptions."""
