"""Pieces every ingest pipeline shares: the batch manifest, raw-zone landing, COPY staging, quarantine,
protected personal IDs and phase timings."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ggzy.settings import Settings


def write_atomically(path: Path, data: bytes) -> None:
    """Write bytes to path through a temporary sibling, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def raw_folder(settings: Settings, dataset: str, received: datetime) -> Path:
    """The raw-zone folder of a dataset for one day: <raw zone>/<dataset>/YYYY/MM/DD."""
    return settings.raw_zone / dataset / received.strftime("%Y/%m/%d")


def land_bytes(
    engine: Engine,
    settings: Settings,
    dataset: str,
    data: bytes,
    filename: str,
    source: str,
    submitted_by: str | None,
    stored: bytes | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record a received file in ops.batch and the raw zone (under its sha256); returns (batch row, resumed?).

    `stored` replaces the bytes written to the raw zone when the received ones may not be kept as they
    are (personal ID numbers); the sha256 is always that of the received bytes, so re-sends are recognised.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    with engine.begin() as conn:
        row = (
            conn.execute(
                sa.text("SELECT * FROM ops.batch WHERE dataset = :d AND sha256 = :s FOR UPDATE"),
                {"d": dataset, "s": sha256},
            )
            .mappings()
            .first()
        )
        if row is not None:
            return dict(row), True
        received = datetime.now(UTC)
        ext = Path(filename).suffix.lower() or ".bin"
        raw_path = raw_folder(settings, dataset, received) / f"{sha256}{ext}"
        write_atomically(raw_path, data if stored is None else stored)
        row = (
            conn.execute(
                sa.text(
                    "INSERT INTO ops.batch (dataset, source, submitted_by, filename, sha256, byte_size, raw_path,"
                    " received_at) VALUES (:d, :src, :by, :fn, :s, :n, :p, :t)"
                    " ON CONFLICT (dataset, sha256) DO NOTHING RETURNING *"
                ),
                {
                    "d": dataset,
                    "src": source,
                    "by": submitted_by,
                    "fn": filename,
                    "s": sha256,
                    "n": len(data),
                    "p": str(raw_path),
                    "t": received,
                },
            )
            .mappings()
            .first()
        )
        if row is None:  # a concurrent landing of the same bytes won the race
            row = (
                conn.execute(
                    sa.text("SELECT * FROM ops.batch WHERE dataset = :d AND sha256 = :s"),
                    {"d": dataset, "s": sha256},
                )
                .mappings()
                .one()
            )
            return dict(row), True
        return dict(row), False


def fail_batch(engine: Engine, batch_id: str, status: str, error: dict[str, Any]) -> None:
    """Mark a batch failed or rejected with its error (nothing of it is loaded)."""
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE ops.batch SET status = :st, error = :e, finished_at = now() WHERE id = :b"),
            {"st": status, "e": json.dumps(error, ensure_ascii=False), "b": batch_id},
        )


@contextmanager
def timed(timings: dict[str, float], phase: str):
    """Add the seconds a block took to timings[phase]."""
    start = time.perf_counter()
    yield
    timings[phase] = round(timings.get(phase, 0.0) + time.perf_counter() - start, 3)


def copy_lines(
    conn: Connection, target: str, columns: Iterable[str], buffer: io.BytesIO, fmt: str = "csv"
) -> None:
    """COPY prepared lines (CSV or PostgreSQL text format) into `target` on the connection's transaction."""
    buffer.seek(0)
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        cur.copy_expert(f"COPY {target} ({', '.join(columns)}) FROM STDIN WITH (FORMAT {fmt})", buffer)


def insert_quarantine(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Write quarantined rows: batch_id, dataset, source_row, natural_key, rules, errors (json), raw_record (json)."""
    if not records:
        return
    conn.execute(
        sa.text(
            "INSERT INTO quality.quarantine_row (batch_id, dataset, source_row, natural_key, rules, errors,"
            " raw_record) VALUES (:batch_id, :dataset, :source_row, :natural_key, :rules,"
            " CAST(:errors AS jsonb), CAST(:raw_record AS jsonb))"
        ),
        records,
    )


def protect_ids(conn: Connection, settings: Settings, secrets: dict[str, str]) -> None:
    """Keep each personal ID number encrypted in protected.personal_id, keyed by its keyed hash."""
    if not secrets:
        return
    from ggzy.identifiers import personal_id_cipher

    fernet = personal_id_cipher(settings.hub_secret())
    # One statement over two arrays: an executemany is one round trip per number.
    conn.execute(
        sa.text(
            "INSERT INTO protected.personal_id (id_hash, ciphertext)"
            " SELECT * FROM unnest(CAST(:h AS text[]), CAST(:c AS text[])) ON CONFLICT DO NOTHING"
        ),
        {"h": list(secrets), "c": [fernet.encrypt(v.encode()).decode() for v in secrets.values()]},
    )
