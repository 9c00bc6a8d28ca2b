"""The trading pipeline: pull or receive spec records, land them, validate, quarantine, wait or merge.

Pulls (HTTP API, centre database) run per dataset in dependency order (parents first):

1. each page is ONE transaction: its records staged in raw.trading_row (personal ID numbers already
   replaced by mask + keyed hash, plaintext only encrypted in protected.personal_id), the page written to
   the raw zone, the batch's rows_in and the source position in ops.trading_watermark advanced. A run killed
   at any point resumes from the last committed page: no gap, no duplicate;
2. once the pull is complete (or a batch reaches `chunk_rows`) the batch is validated with the dataset's
   Great Expectations suite (quality.trading_suites) and, in ONE transaction, failing rows are quarantined,
   children whose parent has not arrived are parked in ops.trading_waiting, market entities are resolved
   by USCC / organisation code, the rest merged into the core table by natural key, the batch's figures
   recorded and the watermark's open batch closed. That work runs in background threads (BatchMerger: one
   validates the next batch while another merges the one before, in the order the batches were closed),
   while the pull lands the next pages; a batch closed but not merged when a run dies stays 'landed' in
   ops.batch and the next pull merges it before anything newer.

File drops land the whole file as one batch (idempotent on its sha256, like the penalty pipeline).

Row conservation per batch: rows_in = rows_loaded + rows_quarantined + rows_duplicate, where
- loaded = inserted or updated in core, or accepted into the waiting table (rows_waiting, a subset of
  loaded; they are not counted again when released into core later: that is rows_released of the run);
- duplicate = identical to the row already in core, or an exact repeat of another row of the batch;
- a batch row superseded by a later version of the same key in the same batch counts as updated.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from connectors.base import Page, PullConnector
from connectors.trading import (
    PERSONAL_ID_FIELDS,
    TRADING_DATASETS,
    ExchangeApiConnector,
    ExchangeDatabaseConnector,
    ExchangeFileConnector,
    TradingDataset,
)
from ggzy import database
from ggzy.errors import HubError
from ggzy.identifiers import keyed_hash, mask_id_number
from ggzy.pipelines.common import (
    copy_lines,
    fail_batch,
    insert_quarantine,
    land_bytes,
    protect_ids,
    raw_folder,
    timed,
    write_atomically,
)
from ggzy.pipelines.penalties import BatchReport
from ggzy.settings import Settings
from quality.expectations import id_number_check_digit_acceptable as id_check_acceptable
from quality.trading_rules import ORG_CODE_SHAPE, RULES_READ_CORE, USCC_SHAPE, CoreTable, core_layout

if TYPE_CHECKING:  # GX is imported when a batch is validated, not when a DAG file is parsed
    from quality.runner import ValidationOutcome

log = logging.getLogger(__name__)

CHUNK_ROWS = 250_000  # a pull batch is validated and merged once it holds this many rows
MERGE_WORK_MEM = "64MB"  # per sort/hash in a merge: a chunk's sort keys fit (the 4MB default spilled)
WAITING_DAYS = 7  # children waiting longer than this are reported
READ_AHEAD_PAGES = 1  # pages a pull fetches ahead of the one being landed
HASH_SUFFIX = "__HASH"  # staged next to a masked personal ID: its keyed hash
CHECK_SUFFIX = "__CHECK"  # ... and "1"/"0": its GB 11643 check character was right (validated as a warning)
Progress = Callable[[str, int], None]  # (dataset code, rows just pulled)


@dataclass
class TradingReport(BatchReport):
    """A dataset's figures for one run (summed over its batches), in the penalty BatchReport's shape."""

    rows_waiting: int = 0  # accepted into the waiting table (part of rows_loaded)
    rows_released: int = 0  # earlier waiting rows moved into core in this run (not part of rows_in)
    batches: list[str] = field(default_factory=list)

    def add(self, other: BatchReport) -> None:
        """Add one batch's figures."""
        for name in ("rows_in", "rows_loaded", "rows_inserted", "rows_updated", "rows_quarantined",
                     "rows_duplicate", "rows_warned", "rows_waiting"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name, 0))
        self.quarantined.extend(other.quarantined)
        for phase, seconds in other.timings.items():
            self.timings[phase] = round(self.timings.get(phase, 0.0) + seconds, 3)
        self.batches.append(other.batch_id)
        self.status = other.status


def _new_report(ds: TradingDataset, source: str) -> TradingReport:
    return TradingReport(batch_id="", dataset=ds.name, filename=source, sha256="", status="up_to_date")


# ---------------------------------------------------------------------------------------------------
# Layout (read once per warehouse from the schema's own documentation)

_layouts: dict[str, dict[str, CoreTable]] = {}


def layout(engine: Engine) -> dict[str, CoreTable]:
    """Core trading tables by dataset code (cached per warehouse URL)."""
    url = engine.url.render_as_string(hide_password=False)
    if url not in _layouts:
        with engine.connect() as conn:
            _layouts[url] = core_layout(conn)
    return _layouts[url]


# ---------------------------------------------------------------------------------------------------
# Staging


def _scrub(code: str, records: list[dict[str, Any]], key: bytes) -> dict[str, str]:
    """Replace personal ID numbers by their mask and add their keyed hash; returns {hash: plaintext}."""
    secrets: dict[str, str] = {}
    for name in PERSONAL_ID_FIELDS.get(code, ()):
        for record in records:
            value = record.get(name)
            if value:
                digest = keyed_hash(value, key)
                secrets[digest] = value
                record[name] = mask_id_number(value)
                record[name + HASH_SUFFIX] = digest
                record[name + CHECK_SUFFIX] = "1" if id_check_acceptable(value) else "0"
    return secrets


def _stage(
    conn: Connection,
    settings: Settings,
    batch_id: str,
    code: str,
    first_row: int,
    records: list[dict[str, Any]],
) -> bytes:
    """COPY records into raw.trading_row (IDs scrubbed, plaintext protected); returns them as JSON lines."""
    protect_ids(conn, settings, _scrub(code, records, settings.hub_secret()))
    # msgspec writes the same compact UTF-8 JSON as json.dumps(ensure_ascii=False), several times faster.
    lines = [msgspec.json.encode(r) for r in records]
    prefix = f"{batch_id}\t".encode()
    suffix = f"\t{code}\t".encode()
    buffer = io.BytesIO(
        b"".join(
            b"%s%d%s%s\n" % (prefix, first_row + i, suffix, line.replace(b"\\", b"\\\\"))
            for i, line in enumerate(lines)
        )
    )
    copy_lines(conn, "raw.trading_row", ("batch_id", "source_row", "dataset", "record"), buffer, fmt="text")
    return b"\n".join(lines) + b"\n"


# ---------------------------------------------------------------------------------------------------
# Validation, waiting children, entities, merge


def _key_sql(ds: TradingDataset, alias: str = "r") -> str:
    """SQL text of a staged record's natural key ('/'-joined; personal IDs by their keyed hash)."""
    parts = [
        f"coalesce({alias}.record->>'{f + HASH_SUFFIX if f in PERSONAL_ID_FIELDS.get(ds.code, ()) else f}', '')"
        for f in ds.key
    ]
    return "concat_ws('/', " + ", ".join(parts) + ")"


# Staged values are never btrim'med here: every connector strips them already (connectors.trading._text), and
# validation reads them untrimmed too. A btrim inside core.spec_time's argument also keeps PostgreSQL from
# inlining that function, which made the typed copy of a batch several times slower.
def _value(spec: str, alias: str = "r") -> str:
    return f"NULLIF({alias}.record->>'{spec}', '')"


def _typed_select(table: CoreTable) -> tuple[list[str], str, str]:
    """(core columns, SELECT list, FROM clause) turning each staged record of _ready r into the core row.

    The record is unpacked once (jsonb_to_record into x), not looked up field by field.
    """
    fields: dict[str, None] = {"PRICE_UNIT": None}
    names, exprs, joins = [], [], []
    for i, column in enumerate(table.columns):
        field_name = column.spec + HASH_SUFFIX if column.qualifier == "keyed hash" else column.spec
        fields[field_name] = None
        value = f"NULLIF(x.\"{field_name}\", '')"
        if column.qualifier == "market entity":
            joins.append(f"LEFT JOIN _entity e{i} ON e{i}.code = {value}")
            expr = f"e{i}.id"
        elif column.data_type == "timestamp without time zone":
            expr = f"core.spec_time({value})"
        elif column.data_type == "date":
            expr = f"core.spec_time({value})::date"
        elif column.data_type == "numeric":
            expr = f"CASE WHEN x.\"PRICE_UNIT\" = '1' THEN {value}::numeric * 10000 ELSE {value}::numeric END"
        elif column.data_type == "boolean":
            expr = f"CASE {value} WHEN '1' THEN true WHEN '0' THEN false END"
        elif column.data_type == "integer":
            expr = f"{value}::integer"
        else:
            expr = value
        names.append(column.name)
        exprs.append(f"{expr} AS {column.name}")
    record_type = ", ".join(f'"{f}" text' for f in fields)
    source = f"_ready r CROSS JOIN LATERAL jsonb_to_record(r.record) AS x({record_type}) {' '.join(joins)}"
    return names, ", ".join(exprs), source


def _resolve_entities(conn: Connection, table: CoreTable) -> None:
    """Create missing market entities for every code in _ready and map code -> entity id in _entity."""
    conn.execute(sa.text("CREATE TEMP TABLE _entity (code text PRIMARY KEY, id bigint) ON COMMIT DROP"))
    names = {c.name: c.spec for c in table.columns if not c.qualifier}
    parts = []
    for column in table.columns:
        if column.qualifier != "market entity":
            continue
        name_spec = names.get(column.name.removesuffix("_entity_id") + "_name")
        name_expr = _value(name_spec) if name_spec else "NULL"
        parts.append(f"SELECT {_value(column.spec)} AS code, {name_expr} AS name FROM _ready r")
    if not parts:
        return
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE _codes ON COMMIT DROP AS SELECT code, max(name) AS name FROM ("
            + " UNION ALL ".join(parts)
            + ") c WHERE code IS NOT NULL GROUP BY code"
        )
    )
    uscc = f"c.code ~ '{USCC_SHAPE}' AND c.code <> '00000000000000000X'"
    org = f"c.code ~ '{ORG_CODE_SHAPE}'"
    # A USCC arriving for a body known so far only by its organisation code completes that entity.
    conn.execute(
        sa.text(
            f"UPDATE core.market_entity m SET uscc = c.code FROM _codes c WHERE {uscc} AND m.uscc IS NULL"
            " AND m.org_code = substr(c.code, 9, 9)"
            " AND NOT EXISTS (SELECT 1 FROM core.market_entity x WHERE x.uscc = c.code)"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO core.market_entity (uscc, org_code, name, uscc_check_ok)"
            f" SELECT c.code, substr(c.code, 9, 9), c.name, quality.uscc_check_digit_ok(c.code) FROM _codes c WHERE {uscc}"
            " ON CONFLICT (uscc) DO NOTHING"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO core.market_entity (uscc, org_code, name)"
            f" SELECT NULL, replace(c.code, '-', ''), c.name FROM _codes c WHERE {org}"
            " AND NOT EXISTS (SELECT 1 FROM core.market_entity m WHERE m.org_code = replace(c.code, '-', ''))"
            " ON CONFLICT (org_code) WHERE uscc IS NULL DO NOTHING"
        )
    )
    conn.execute(
        sa.text(
            f"INSERT INTO _entity SELECT c.code, m.id FROM _codes c JOIN core.market_entity m ON m.uscc = c.code WHERE {uscc}"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO _entity SELECT c.code, (SELECT min(m.id) FROM core.market_entity m"
            f" WHERE m.org_code = replace(c.code, '-', '')) FROM _codes c WHERE {org} ON CONFLICT DO NOTHING"
        )
    )


def _parent_missing_sql(ds: TradingDataset, tables: dict[str, CoreTable]) -> str | None:
    """SQL condition on staged record r: its parent is not in core (None for datasets without a parent)."""
    if ds.parent is None:
        return None
    parent_code, parent_field = ds.parent
    parent = tables[parent_code]
    return (
        f"NOT EXISTS (SELECT 1 FROM core.{parent.table} p"
        f" WHERE p.{parent.column_for(parent_field)} = r.record->>'{parent_field}')"
    )


def _merge(conn: Connection, table: CoreTable) -> dict[str, int]:
    """Merge _ready (record, warnings, batch_id, origin) into the core table; counts by outcome and origin."""
    names, select, source = _typed_select(table)
    key = table.key_columns
    conn.execute(
        sa.text(
            f"CREATE TEMP TABLE _typed ON COMMIT DROP AS SELECT r.seq, r.origin, r.batch_id, r.warnings,"
            f" r.content_hash, {select} FROM {source}"
        )
    )
    # Without statistics the planner guesses a few thousand rows and picks loops or sorts of whole rows.
    conn.execute(sa.text("ANALYZE _typed (seq)"))
    # Latest version per key wins (ordered by DATA_TIMESTAMP, then arrival); earlier ones are superseded.
    # _final is narrow (which row, which core row, what to do): the typed rows are read from _typed by seq.
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE _final ON COMMIT DROP AS SELECT t.seq, c.id AS core_id,"
            " CASE WHEN c.id IS NULL THEN 'insert' WHEN c.content_hash = t.content_hash THEN 'unchanged'"
            " ELSE 'update' END AS outcome"
            f" FROM (SELECT DISTINCT ON ({', '.join(key)}) seq, content_hash, {', '.join(key)} FROM _typed"
            f" ORDER BY {', '.join(key)}, data_timestamp DESC NULLS LAST, seq DESC) t"
            f" LEFT JOIN core.{table.table} c ON {' AND '.join(f'c.{k} = t.{k}' for k in key)}"
        )
    )
    conn.execute(sa.text("ANALYZE _final (seq)"))  # the planner's only need here: join on seq, not a loop
    assignments = ", ".join(f"{n} = t.{n}" for n in names)
    conn.execute(
        sa.text(
            f"UPDATE core.{table.table} c SET {assignments}, warnings = t.warnings, content_hash = t.content_hash,"
            " version = c.version + 1, last_batch_id = t.batch_id, updated_at = now()"
            " FROM _final f JOIN _typed t USING (seq) WHERE f.outcome = 'update' AND c.id = f.core_id"
        )
    )
    conn.execute(
        sa.text(
            f"INSERT INTO core.{table.table} ({', '.join(names)}, warnings, content_hash, first_batch_id, last_batch_id)"
            f" SELECT {', '.join(f't.{n}' for n in names)}, t.warnings, t.content_hash, t.batch_id, t.batch_id"
            " FROM _final f JOIN _typed t USING (seq) WHERE f.outcome = 'insert'"
        )
    )
    rows = conn.execute(
        sa.text(
            "SELECT t.origin, coalesce(f.outcome, 'superseded') AS outcome, count(*) AS n,"
            " count(*) FILTER (WHERE f.seq IS NOT NULL AND t.warnings <> '{}') AS warned"
            " FROM _typed t LEFT JOIN _final f ON f.seq = t.seq GROUP BY 1, 2"
        )
    ).all()
    counts: dict[str, int] = {"batch_warned": 0}
    for origin, outcome, n, warned in rows:
        counts[f"{origin}_{outcome}"] = n
        if origin == "batch":
            counts["batch_warned"] += warned
    for temp in ("_typed", "_final", "_entity", "_codes"):
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {temp}"))
    return counts


def _ready_table(conn: Connection) -> None:
    """The rows to merge: (seq, origin 'batch'|'waiting', batch_id, record, warnings, content_hash)."""
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE _ready (seq bigint, origin text, batch_id uuid, record jsonb, warnings text[],"
            " content_hash text) ON COMMIT DROP"
        )
    )


def _roomy_sorts(conn: Connection) -> None:
    """Give this transaction's sorts and hashes over a batch memory enough not to spill to disk."""
    conn.execute(sa.text(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'"))


def _release_waiting(conn: Connection, ds: TradingDataset, tables: dict[str, CoreTable]) -> int:
    """Move waiting children of a dataset whose parent has arrived into core; returns how many."""
    missing = _parent_missing_sql(ds, tables)
    if missing is None:
        return 0
    _roomy_sorts(conn)
    _ready_table(conn)
    released = conn.execute(
        sa.text(
            f"WITH gone AS (DELETE FROM ops.trading_waiting r WHERE r.dataset = :d AND NOT ({missing})"
            " RETURNING r.batch_id, r.record, r.warnings)"
            " INSERT INTO _ready SELECT row_number() OVER (), 'waiting', batch_id, record, warnings,"
            " md5(record::text) FROM gone"
        ),
        {"d": ds.code},
    ).rowcount
    if released:
        _resolve_entities(conn, tables[ds.code])
        _merge(conn, tables[ds.code])
    conn.execute(sa.text("DROP TABLE _ready"))
    return released


def _staged_records(
    conn: Connection, ds: TradingDataset, batch_id: str, rows: list[int]
) -> dict[int, tuple[str, Any]]:
    """Natural key and record of some staged rows of a batch (the failing ones: messages and quarantine)."""
    if not rows:
        return {}
    found = conn.execute(
        sa.text(
            f"SELECT source_row, {_key_sql(ds)}, record FROM raw.trading_row r"
            " WHERE batch_id = :b AND source_row = ANY(:rows)"
        ),
        {"b": batch_id, "rows": rows},
    )
    return {row: (key, record) for row, key, record in found}


def _natural_keys(engine: Engine, ds: TradingDataset, batch_id: str, rows: list[int]) -> dict[int, str]:
    """Natural keys of some staged rows of a batch (validation messages name the record)."""
    with engine.connect() as conn:
        return {row: key for row, (key, _) in _staged_records(conn, ds, batch_id, rows).items()}


@dataclass
class ValidatedBatch:
    """A staged batch's validation outcome and how long it took (validation writes nothing)."""

    outcome: ValidationOutcome
    timings: dict[str, float]


def _validate_batch(engine: Engine, ds: TradingDataset, batch_id: str) -> ValidatedBatch:
    """Run the dataset's Great Expectations suite on a staged batch (reads only)."""
    from quality.trading_suites import validate_trading_batch

    timings: dict[str, float] = {}
    with timed(timings, "validate"):
        outcome = validate_trading_batch(
            engine,
            layout(engine)[ds.code],
            ds.key,
            batch_id,
            functools.partial(_natural_keys, engine, ds, batch_id),
        )
    return ValidatedBatch(outcome, timings)


def _process_batch(engine: Engine, ds: TradingDataset, batch_id: str) -> BatchReport:
    """Validate a staged batch, then quarantine, park, resolve and merge it in one transaction."""
    return _merge_batch(engine, ds, batch_id, _validate_batch(engine, ds, batch_id))


def _merge_batch(engine: Engine, ds: TradingDataset, batch_id: str, validated: ValidatedBatch) -> BatchReport:
    """Quarantine a validated batch's failing rows, park, resolve and merge the rest: one transaction."""
    tables = layout(engine)
    table = tables[ds.code]
    outcome, timings = validated.outcome, dict(validated.timings)
    errors = sorted(outcome.error_rows())
    warnings = {
        row: rules for row in outcome.failures if row not in errors and (rules := outcome.warning_rules(row))
    }
    with timed(timings, "merge"), engine.begin() as conn:
        _roomy_sorts(conn)
        conn.execute(sa.text("DELETE FROM quality.quarantine_row WHERE batch_id = :b"), {"b": batch_id})
        raw = _staged_records(conn, ds, batch_id, errors)
        quarantined = [
            {
                "batch_id": batch_id,
                "dataset": ds.name,
                "source_row": row,
                "natural_key": raw[row][0],
                "rules": [f.rule for f in outcome.failures[row] if f.severity == "error"],
                "errors": json.dumps([f.__dict__ for f in outcome.failures[row]], ensure_ascii=False),
                "raw_record": json.dumps(raw[row][1], ensure_ascii=False),
            }
            for row in errors
        ]
        insert_quarantine(conn, quarantined)
        conn.execute(sa.text("CREATE TEMP TABLE _bad (source_row int PRIMARY KEY) ON COMMIT DROP"))
        if errors:
            conn.execute(sa.text("INSERT INTO _bad SELECT unnest(CAST(:rows AS int[]))"), {"rows": errors})
        conn.execute(
            sa.text("CREATE TEMP TABLE _warn (source_row int PRIMARY KEY, rules text[]) ON COMMIT DROP")
        )
        if warnings:
            conn.execute(
                sa.text("INSERT INTO _warn VALUES (:r, :w)"), [{"r": r, "w": w} for r, w in warnings.items()]
            )
        _ready_table(conn)
        # Each record is hashed once: the hash finds exact repeats and is the core row's content_hash.
        good = conn.execute(
            sa.text(
                "INSERT INTO _ready SELECT r.source_row, 'batch', r.batch_id, r.record, coalesce(w.rules, '{}'),"
                " md5(r.record::text) FROM raw.trading_row r LEFT JOIN _warn w USING (source_row)"
                " WHERE r.batch_id = :b AND NOT EXISTS (SELECT 1 FROM _bad x WHERE x.source_row = r.source_row)"
            ),
            {"b": batch_id},
        ).rowcount
        # Exact repeats inside the batch: the first is kept (no sort of the records, only a hash of hashes).
        good -= conn.execute(
            sa.text(
                "DELETE FROM _ready r USING (SELECT content_hash, min(seq) AS first FROM _ready GROUP BY content_hash"
                " HAVING count(*) > 1) d WHERE r.content_hash = d.content_hash AND r.seq > d.first"
            )
        ).rowcount
        rows_in = conn.scalar(
            sa.text("SELECT count(*) FROM raw.trading_row WHERE batch_id = :b"), {"b": batch_id}
        )
        in_batch_duplicates = rows_in - len(errors) - good
        missing = _parent_missing_sql(ds, tables)
        waiting = 0
        if missing:
            waiting = conn.execute(
                sa.text(
                    "INSERT INTO ops.trading_waiting (dataset, natural_key, parent_dataset, parent_key, record, warnings,"
                    f" batch_id) SELECT DISTINCT ON (1, 2) :d, {_key_sql(ds)}, :pd, r.record->>:pf, r.record, r.warnings, :b"
                    f" FROM _ready r WHERE {missing} ORDER BY 1, 2, r.seq DESC"
                    " ON CONFLICT (dataset, natural_key) DO UPDATE SET record = excluded.record,"
                    " warnings = excluded.warnings, batch_id = excluded.batch_id, last_tried = now(),"
                    " attempts = ops.trading_waiting.attempts + 1"
                ),
                {"d": ds.code, "pd": ds.parent[0], "pf": ds.parent[1], "b": batch_id},
            ).rowcount
            parked = conn.execute(sa.text(f"DELETE FROM _ready r WHERE {missing}")).rowcount
            in_batch_duplicates += parked - waiting  # repeats of one waiting key inside the batch
        _resolve_entities(conn, table)
        counts = _merge(conn, table)
        inserted = counts.get("batch_insert", 0)
        updated = counts.get("batch_update", 0) + counts.get("batch_superseded", 0)
        duplicate = in_batch_duplicates + counts.get("batch_unchanged", 0)
        for temp in ("_ready", "_bad", "_warn"):
            conn.execute(sa.text(f"DROP TABLE {temp}"))
        conn.execute(sa.text("DELETE FROM raw.trading_row WHERE batch_id = :b"), {"b": batch_id})
        row = (
            conn.execute(
                sa.text(
                    "UPDATE ops.batch SET status = 'loaded', rows_in = :n, rows_loaded = :loaded, rows_inserted = :ins,"
                    " rows_updated = :upd, rows_quarantined = :q, rows_duplicate = :dup, rows_warned = :w, rows_waiting = :wait,"
                    " finished_at = now(), error = NULL WHERE id = :b RETURNING *"
                ),
                {
                    "n": rows_in,
                    "loaded": inserted + updated + waiting,
                    "ins": inserted,
                    "upd": updated,
                    "q": len(errors),
                    "dup": duplicate,
                    "w": counts["batch_warned"],
                    "wait": waiting,
                    "b": batch_id,
                },
            )
            .mappings()
            .one()
        )
        conn.execute(
            sa.text("UPDATE ops.trading_watermark SET open_batch_id = NULL WHERE open_batch_id = :b"),
            {"b": batch_id},
        )
    report = _batch_report(dict(row))
    report.quarantined = [
        {
            "row": q["source_row"],
            "key": q["natural_key"],
            "rules": q["rules"],
            "errors": json.loads(q["errors"]),
        }
        for q in quarantined
    ]
    report.timings = timings
    return report


def _batch_report(row: dict[str, Any]) -> TradingReport:
    return TradingReport.from_batch(row)


# ---------------------------------------------------------------------------------------------------
# Pulls


def _open_batch(conn: Connection, settings: Settings, ds: TradingDataset, source: str) -> str:
    batch_id = str(uuid.uuid4())
    folder = raw_folder(settings, ds.name, datetime.now(UTC)) / batch_id
    conn.execute(
        sa.text(
            "INSERT INTO ops.batch (id, dataset, source, filename, sha256, byte_size, raw_path, rows_in, file_format)"
            " VALUES (:id, :d, :s, :fn, :sha, 0, :p, 0, 'json')"
        ),
        {
            "id": batch_id,
            "d": ds.name,
            "s": source,
            "fn": f"{ds.table} pull",
            "sha": f"pull:{batch_id}",
            "p": str(folder),
        },
    )
    return batch_id


def _watermark(conn: Connection, source: str, code: str) -> dict[str, Any]:
    conn.execute(
        sa.text("INSERT INTO ops.trading_watermark (source, dataset) VALUES (:s, :d) ON CONFLICT DO NOTHING"),
        {"s": source, "d": code},
    )
    return dict(
        conn.execute(
            sa.text("SELECT * FROM ops.trading_watermark WHERE source = :s AND dataset = :d FOR UPDATE"),
            {"s": source, "d": code},
        )
        .mappings()
        .one()
    )


def pull_dataset(
    engine: Engine,
    settings: Settings,
    connector: PullConnector,
    code: str,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    merger: BatchMerger | None = None,
) -> TradingReport:
    """Pull one dataset from where its watermark stands, committing page by page; merge each full batch.

    Full batches go to `merger` (one of its own when not given, finished before returning): their
    validation and merge overlap the landing of the next pages, and the returned report is complete once
    the merger is finished.
    """
    if merger is None:
        with BatchMerger() as own:
            return pull_dataset(
                engine, settings, connector, code, chunk_rows=chunk_rows, progress=progress, merger=own
            )
    ds = TRADING_DATASETS[code]
    source = connector.identity
    report = _new_report(ds, source)
    merger.release(engine, ds, report)
    with engine.begin() as conn:
        state = _watermark(conn, source, code)
        position = state["position"] or {}
        batch_id = str(state["open_batch_id"]) if state["open_batch_id"] else None
        # Batches closed by a run that died before merging them, oldest first; then the open batch, if its
        # pull had completed (no position): all merged before anything newer.
        for (closed,) in conn.execute(
            sa.text(
                "SELECT id FROM ops.batch WHERE source = :s AND dataset = :d AND status = 'landed'"
                " AND sha256 LIKE 'pull:%' AND id IS DISTINCT FROM CAST(:open AS uuid) ORDER BY received_at, id"
            ),
            {"s": source, "d": ds.name, "open": batch_id},
        ):
            merger.merge(engine, ds, str(closed), report)
    if batch_id and not position:  # the pull completed but the run died before the merge
        merger.merge(engine, ds, batch_id, report)
        batch_id = None
    high = position.get("high") or state["since"]
    pages_done = position.get("pages", 0)
    rows_in = 0  # rows in the open batch, as of the last page landed
    for page in _read_ahead(connector.pages(code, state["since"], position.get("source"))):
        merger.raise_if_failed()  # a failed merge stops the pull: later batches must not overtake it
        done = page.position is None
        with timed(report.timings, "land"), engine.begin() as conn:
            if page.records and batch_id is None:
                batch_id = _open_batch(conn, settings, ds, source)
                pages_done = 0
            if page.records:
                rows_in = conn.scalar(
                    sa.text("SELECT rows_in FROM ops.batch WHERE id = :b FOR UPDATE"), {"b": batch_id}
                )
                stored = _stage(conn, settings, batch_id, code, rows_in + 1, page.records)
                pages_done += 1
                folder = Path(
                    conn.scalar(sa.text("SELECT raw_path FROM ops.batch WHERE id = :b"), {"b": batch_id})
                )
                data = page.raw if page.raw is not None and code not in PERSONAL_ID_FIELDS else stored
                write_atomically(folder / f"page-{pages_done:06d}.json", data)
                conn.execute(
                    sa.text(
                        "UPDATE ops.batch SET rows_in = rows_in + :n, byte_size = byte_size + :bytes WHERE id = :b"
                    ),
                    {"n": len(page.records), "bytes": len(data), "b": batch_id},
                )
                rows_in += len(page.records)
            if page.watermark and (high is None or page.watermark > high):
                high = page.watermark
            full = batch_id is not None and (done or rows_in >= chunk_rows)
            conn.execute(
                sa.text(
                    "UPDATE ops.trading_watermark SET position = CAST(:p AS jsonb), since = :since, open_batch_id = :b,"
                    " rows_pulled = rows_pulled + :n, updated_at = now() WHERE source = :s AND dataset = :d"
                ),
                {
                    "p": None
                    if done
                    else json.dumps({"source": page.position, "high": high, "pages": pages_done}),
                    "since": high if done else state["since"],
                    # A full batch is closed with this page: from here on only ops.batch (status 'landed')
                    # knows it is owed a merge, which the next pull does if this run dies first.
                    "b": None if full and not done else batch_id,
                    "n": len(page.records),
                    "s": source,
                    "d": code,
                },
            )
        if progress and page.records:
            progress(code, len(page.records))
        if full:
            merger.merge(engine, ds, batch_id, report)
            batch_id = None
    if batch_id:  # the source ended without a last page
        merger.merge(engine, ds, batch_id, report)
    return report


@dataclass
class MergeJob:
    """One piece of a pull's background work: an optional validation, then a merge, then its figures' use."""

    merge: Callable[[Any], Any]  # given the validation's result (None without one)
    apply: Callable[[Any], None]  # given the merge's result, in the caller's thread
    validate: Callable[[], Any] | None = None
    after_merges: bool = False  # validate only once every merge queued before it is done


class BatchMerger:
    """Validates and merges a pull's closed batches in two background threads, merging in the order closed.

    The pull's own thread goes on landing the next pages meanwhile (mostly Python), one thread validates
    (GX: reads only, on its own connection) and one merges (writes): on two cores the merge of one batch,
    the validation of the next and the landing of the pages after overlap. Merges keep the order the work
    was queued in: a dataset's waiting children are released after its parent's batches are merged, and a
    batch after the batches before it (later versions win). A batch whose rules read other datasets' core
    tables (quality.trading_rules.RULES_READ_CORE) is validated only after the merges queued before it.
    After a failure, in validation or merge, nothing later is merged; the batches not merged stay 'landed'
    in ops.batch and the next pull merges them first. Results are added to the reports by the caller's
    thread in `finish()` (or on leaving the with-block), never concurrently with the work.
    """

    def __init__(self) -> None:
        self._validations: queue.Queue[MergeJob | None] = queue.Queue()
        self._merges: queue.Queue[tuple[MergeJob, Any, BaseException | None] | None] = queue.Queue()
        self._done: list[tuple[Callable[[Any], None], Any]] = []
        self._error: BaseException | None = None
        self._abandoned = False  # set when the pull is interrupted: queued work is left to the next pull
        self._threads = [
            threading.Thread(target=self._validate, name="trading-validate", daemon=True),
            threading.Thread(target=self._merge, name="trading-merge", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _stopped(self) -> bool:
        return self._error is not None or self._abandoned

    def _validate(self) -> None:
        failed = False
        try:
            while (job := self._validations.get()) is not None:
                if failed or self._stopped():
                    continue  # left 'landed': the next pull merges it first
                checked, error = None, None
                try:
                    if job.after_merges:
                        self._merges.join()
                    if job.validate is not None:
                        checked = job.validate()
                except BaseException as exc:  # raised in order, by the merge thread, then in the caller's
                    error, failed = exc, True
                self._merges.put((job, checked, error))
        finally:
            self._merges.put(None)

    def _merge(self) -> None:
        while (item := self._merges.get()) is not None:
            job, checked, error = item
            try:
                if not self._stopped():
                    if error is not None:
                        raise error
                    self._done.append((job.apply, job.merge(checked)))
            except BaseException as exc:  # raised in the caller's thread
                self._error = exc
            finally:
                self._merges.task_done()

    def submit(self, job: MergeJob) -> None:
        """Queue a piece of work behind the work queued before it."""
        self._validations.put(job)

    def merge(self, engine: Engine, ds: TradingDataset, batch_id: str, report: TradingReport) -> None:
        """Queue one closed batch's validation and merge; its figures are added to `report`."""
        self.submit(
            MergeJob(
                merge=functools.partial(_merge_batch, engine, ds, batch_id),
                apply=report.add,
                validate=functools.partial(_validate_batch, engine, ds, batch_id),
                after_merges=ds.code in RULES_READ_CORE,
            )
        )

    def release(self, engine: Engine, ds: TradingDataset, report: TradingReport) -> None:
        """Queue the release of the dataset's waiting children (after the batches queued before)."""

        def run(_: None) -> int:
            with engine.begin() as conn:
                return _release_waiting(conn, ds, layout(engine))

        def apply(released: int) -> None:
            report.rows_released += released

        self.submit(MergeJob(merge=run, apply=apply))

    def raise_if_failed(self) -> None:
        """Raise the first error of the background work, if any."""
        if self._error is not None:
            raise self._error

    def finish(self) -> None:
        """Wait for the queued work, add its results to the reports, raise its first error."""
        if self._threads[0].is_alive():
            self._validations.put(None)
        for thread in self._threads:
            thread.join()
        done, self._done = self._done, []
        for apply, result in done:
            apply(result)
        self.raise_if_failed()

    def __enter__(self) -> BatchMerger:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, *tb: object) -> None:
        if kind is None:
            self.finish()
            return
        # The pull failed: the batches it closed are still merged (an interrupt such as Ctrl-C leaves the
        # ones not started to the next pull), then the pull's own error is the one raised.
        self._abandoned = not isinstance(error, Exception)
        try:
            self.finish()
        except Exception as merge_error:
            if merge_error is not error:
                log.exception("merging the batches closed before the pull failed")


def _read_ahead(pages: Iterator[Page], depth: int = READ_AHEAD_PAGES) -> Iterator[Page]:
    """The same pages, fetched by a background thread up to `depth` pages ahead of the caller.

    The next page downloads and decodes while this one is landed (the database works in its own process;
    the driver lets go of the GIL while it waits). Pages arrive in order and a source error after the pages
    before it, so commits and watermarks are as without read-ahead; a page read ahead but not landed when
    the run dies is pulled again on resume.
    """
    slots: queue.Queue[tuple[Page | None, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: tuple[Page | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            for page in pages:
                if not offer((page, None)):
                    return  # the caller stopped early
            offer((None, None))
        except BaseException as exc:  # handed over to the caller's thread, raised there
            offer((None, exc))

    thread = threading.Thread(target=fetch, name="trading-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            page, error = slots.get()
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        stop.set()
        thread.join()  # the connector is closed after the pull: its last request must be over by then


def pull(
    settings: Settings,
    connector: PullConnector,
    codes: Iterable[str] | None = None,
    *,
    engine: Engine | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Pull every dataset (or `codes`) the source offers, parents first; per-dataset reports as dicts."""
    engine = engine or database.engine(settings)
    offered = set(connector.datasets())
    wanted = [c for c in TRADING_DATASETS if (codes is None or c in {str(x) for x in codes}) and c in offered]
    reports = {}
    with BatchMerger() as merger:
        for code in wanted:
            reports[TRADING_DATASETS[code].name] = pull_dataset(
                engine, settings, connector, code, chunk_rows=chunk_rows, progress=progress, merger=merger
            )
    for name, report in reports.items():
        log.info(
            "%s %s: %s",
            connector.identity,
            name,
            {k: v for k, v in report.to_dict().items() if k.startswith("rows_")},
        )
    return {name: report.to_dict() for name, report in reports.items()}


def pull_api(
    settings: Settings,
    base_url: str,
    api_key: str,
    codes: Iterable[str] | None = None,
    *,
    engine: Engine | None = None,
    page_size: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Pull the trading centre's HTTP API incrementally; per-dataset batch reports."""
    connector = ExchangeApiConnector(base_url, api_key, page_size=page_size)
    try:
        return pull(settings, connector, codes, engine=engine, chunk_rows=chunk_rows, progress=progress)
    finally:
        connector.close()


def pull_database(
    settings: Settings,
    url: str,
    codes: Iterable[str] | None = None,
    *,
    engine: Engine | None = None,
    page_size: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Pull the trading centre's own database (MariaDB/MySQL or PostgreSQL) incrementally; per-dataset reports."""
    connector = ExchangeDatabaseConnector(url, page_size=page_size)
    try:
        return pull(settings, connector, codes, engine=engine, chunk_rows=chunk_rows, progress=progress)
    finally:
        connector.close()


# ---------------------------------------------------------------------------------------------------
# File drops


def ingest_file(engine: Engine, settings: Settings, path: Path) -> TradingReport:
    """Land, validate and merge one dropped file; re-sending the same bytes is a no-op."""
    connector = ExchangeFileConnector()
    data = Path(path).read_bytes()
    code, fmt, records = connector.read(data, path.name)
    ds = TRADING_DATASETS[code]
    stored = None
    if code in PERSONAL_ID_FIELDS:  # the raw zone must not keep plaintext ID numbers
        copy = [dict(r) for r in records]
        _scrub(code, copy, settings.hub_secret())
        stored = json.dumps(copy, ensure_ascii=False).encode()
    batch, resumed = land_bytes(
        engine, settings, ds.name, data, path.name, f"file:{path}", None, stored=stored
    )
    batch_id = str(batch["id"])
    if resumed and batch["status"] in ("loaded", "rejected"):
        report = _batch_report(batch)
        report.already_processed = True
        return report
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM raw.trading_row WHERE batch_id = :b"), {"b": batch_id})
            if records:
                _stage(conn, settings, batch_id, code, 1, records)
            conn.execute(
                sa.text(
                    "UPDATE ops.batch SET rows_in = :n, file_format = :f, status = 'landed', error = NULL WHERE id = :b"
                ),
                {"n": len(records), "f": fmt, "b": batch_id},
            )
        return _process_batch(engine, ds, batch_id)
    except Exception as exc:
        fail_batch(engine, batch_id, "failed", {"error": "pipeline_failed", "detail": str(exc)[:2000]})
        raise


def ingest_files(
    settings: Settings, folder: Path, *, engine: Engine | None = None
) -> dict[str, dict[str, Any]]:
    """Ingest every <TABLE>_<yyyyMMdd>.json|xml|csv file of a folder, parents' datasets first.

    Before a dataset's files, its waiting children whose parent has arrived meanwhile are released.
    """
    engine = engine or database.engine(settings)
    connector = ExchangeFileConnector()
    by_dataset: dict[str, list[Path]] = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and path.suffix.lower() in connector.extensions:
            try:
                by_dataset.setdefault(connector.dataset_of(path.name), []).append(path)
            except HubError:
                log.warning("skipping %s: not a trading file name", path)
    reports: dict[str, TradingReport] = {}
    for code, ds in TRADING_DATASETS.items():
        with engine.begin() as conn:
            released = _release_waiting(conn, ds, layout(engine))
        if not released and code not in by_dataset:
            continue
        report = reports[ds.name] = _new_report(ds, f"file:{folder}")
        report.rows_released = released
        files = by_dataset.get(code, [])
        singles = [ingest_file(engine, settings, path) for path in files]
        for single in singles:
            if (
                not single.already_processed
            ):  # a re-sent file loads nothing new: its figures are not this run's
                report.add(single)
        report.already_processed = bool(singles) and all(s.already_processed for s in singles)
    return {name: r.to_dict() for name, r in reports.items()}


# ---------------------------------------------------------------------------------------------------
# Status


def status(engine: Engine, waiting_days: int = WAITING_DAYS) -> dict[str, Any]:
    """Watermarks per source and dataset, and children waiting for their parent (overdue ones listed)."""
    with engine.connect() as conn:
        marks = (
            conn.execute(
                sa.text(
                    "SELECT source, dataset, since, position IS NOT NULL AS in_progress, open_batch_id, rows_pulled, updated_at"
                    " FROM ops.trading_watermark ORDER BY source, dataset"
                )
            )
            .mappings()
            .all()
        )
        waiting = (
            conn.execute(
                sa.text(
                    "SELECT dataset, count(*) AS rows, min(first_seen) AS oldest,"
                    " count(*) FILTER (WHERE first_seen < now() - make_interval(days => :d)) AS overdue"
                    " FROM ops.trading_waiting GROUP BY dataset ORDER BY dataset"
                ),
                {"d": waiting_days},
            )
            .mappings()
            .all()
        )
        overdue = (
            conn.execute(
                sa.text(
                    "SELECT dataset, natural_key, parent_dataset, parent_key, first_seen, attempts FROM ops.trading_waiting"
                    " WHERE first_seen < now() - make_interval(days => :d) ORDER BY first_seen LIMIT 1000"
                ),
                {"d": waiting_days},
            )
            .mappings()
            .all()
        )

    def plain(rows):
        return [
            {k: (str(v) if isinstance(v, (datetime, uuid.UUID)) else v) for k, v in r.items()} for r in rows
        ]

    return {
        "watermarks": plain(marks),
        "waiting": plain(waiting),
        "overdue_waiting": plain(overdue),
        "waiting_days": waiting_days,
    }


def demo_pull(
    settings: Settings, engine: Engine | None = None, *, sections: int = 40, seed: int = 0
) -> dict[str, dict[str, int]]:
    """Serve a small stand-in exchange centre, pull every dataset, return per-dataset row conservation figures."""
    from standins.exchange_centre import ExchangeCentreServer, TradingYear

    engine = engine or database.engine(settings)
    key = hashlib.sha256(b"ggzy-demo-exchange").hexdigest()[:24]
    with ExchangeCentreServer(TradingYear(seed=seed, sections=sections), api_key=key) as server:
        reports = pull_api(settings, server.base_url, key, engine=engine)
    figures = ("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate", "rows_waiting")
    return {name: {f: r[f] for f in figures} for name, r in reports.items()}
