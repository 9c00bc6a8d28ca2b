"""The penalty pipeline: land a department file, validate it, quarantine bad rows, merge the rest.

One call of `ingest_bytes` takes a file from bytes to shared records:

1. land: the exact bytes go to the raw zone under their sha256 and a batch row is written to the
   manifest (ops.batch) at once, so every receipt is on record even if a later step fails;
2. parse (connectors.penalties) and keep a Parquet copy of the rows exactly as received;
3. drop exact in-batch duplicate rows (counted), stage the rest in raw.penalty_row;
4. validate the staged partition with the Great Expectations suite (quality.runner);
5. in ONE transaction: quarantine failing rows with their rules and raw row, merge passing rows into
   core.penalty_decision by natural key (authority code + decision number) keeping every version,
   create one delivery event per new version and one outbox row per member unit, record the batch's
   row conservation (rows_in = loaded + quarantined + duplicate; a CHECK constraint enforces it).

A failure before step 5 commits leaves the batch 'failed' with nothing loaded; re-sending the same
bytes resumes that batch. Re-sending bytes already loaded is a no-op (`already_processed`).
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ggzy import database
from ggzy.delivery.outbox import acknowledgement_due, enqueue_batch
from ggzy.errors import HubError
from ggzy.jurisdictions import load_profile
from ggzy.pipelines.common import fail_batch, insert_quarantine, land_bytes, protect_ids, timed
from ggzy.settings import Settings, get_settings
from quality.rules import CATEGORY_SEPARATORS, UNSPLIT_CATEGORY

log = logging.getLogger(__name__)

DATASET = "penalty_decision"
LONG_TERM = "2099-12-31"  # 长期: no end date (data-standards §2)
NATURAL_KEY_FIELDS = ["cf_cfjgdm", "cf_wsh"]  # 处罚机关代码 + 决定书文号


@dataclass
class BatchReport:
    """What happened to one received file: the manifest figures and the quarantined rows."""

    batch_id: str
    dataset: str
    filename: str
    sha256: str
    status: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_warned: int = 0
    already_processed: bool = False
    file_format: str | None = None
    encoding: str | None = None
    error: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, for operators and bench/

    @property
    def conserved(self) -> bool:
        """Row conservation: every row in is loaded, quarantined or a duplicate."""
        return self.rows_in == self.rows_loaded + self.rows_quarantined + self.rows_duplicate

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (API responses, XCom, `--json`)."""
        return asdict(self)

    @classmethod
    def from_batch(cls, row: dict[str, Any], **extra: Any) -> BatchReport:
        """The report of an ops.batch manifest row (missing counts read as 0), plus extra fields."""
        counts = {f.name: row.get(f.name) or 0 for f in fields(cls) if f.name.startswith("rows_") and f.name in row}
        return cls(
            batch_id=str(row["id"]), dataset=row["dataset"], filename=row["filename"] or "", sha256=row["sha256"],
            status=row["status"], file_format=row.get("file_format"), encoding=row.get("encoding"),
            **counts, **extra,
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Landing


def _land(engine: Engine, settings: Settings, data: bytes, filename: str, source: str, submitted_by: str | None):
    """Record the file in the manifest and the raw zone; returns (batch row, resumed?)."""
    return land_bytes(engine, settings, DATASET, data, filename, source, submitted_by)


def _report_from_batch(row: dict[str, Any], **extra: Any) -> BatchReport:
    return BatchReport.from_batch(row, **extra)


_fail_batch = fail_batch


# ---------------------------------------------------------------------------------------------------
# Staging


def _fill_from_submitter(parsed, submitted_by: str | None, settings: Settings) -> pa.Table:
    """Legacy files carry no authority or data-source codes: the submitting unit is that authority."""
    table = parsed.canonical
    if parsed.source_format != "legacy" or not submitted_by:
        return table

    try:
        unit = load_profile(settings.jurisdiction).unit(submitted_by)
    except HubError:
        return table
    fills = {"cf_cfjgdm": unit.uscc, "cf_sjly": unit.name, "cf_sjlydm": unit.uscc, "cf_cfjg": unit.name}
    for name, value in fills.items():
        idx = table.schema.get_field_index(name)
        column = table.column(idx)
        # fill_null first: a comparison with a null cell is null, and if_else would keep the null.
        empty = pc.fill_null(pc.equal(column, ""), True)
        table = table.set_column(idx, name, pc.if_else(empty, pa.scalar(value, pa.string()), column))
    parsed.notes.append(f"legacy: authority/data-source codes taken from the submitting unit {submitted_by}")
    return table


def _drop_exact_duplicates(
    table: pa.Table, fields: list[str], narrowing_key: list[str] | None = None
) -> tuple[pa.Table, int]:
    """Keep the first of rows identical in every field; returns (kept rows, number dropped).

    Identical rows also agree on `narrowing_key` (a few of the fields), so when it is given only the rows
    whose narrowing key repeats are grouped on every field: in a file without duplicates that is none, and
    grouping 200,000 rows on 35 text fields took about 1.8 s.
    """
    if table.num_rows == 0:
        return table, 0
    candidates = None
    if narrowing_key:
        parts = [pc.fill_null(pc.cast(table.column(f), pa.string()), "\x00") for f in narrowing_key]
        key = pc.binary_join_element_wise(*parts, "\x1f") if len(parts) > 1 else parts[0]
        counts = pc.value_counts(key)
        repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
        if len(repeated) == 0:
            return table, 0
        candidates = pc.is_in(key, value_set=repeated)
    grouped = table if candidates is None else table.filter(candidates)
    firsts = grouped.group_by(fields).aggregate([("source_row", "min")])  # min: the same with threads
    keep = pc.is_in(table.column("source_row"), value_set=firsts.column("source_row_min"))
    if candidates is not None:
        keep = pc.or_(pc.invert(candidates), keep)
    kept = table.filter(keep)
    return kept, table.num_rows - kept.num_rows


def _copy_table(conn: Connection, target: str, table: pa.Table) -> None:
    """COPY an Arrow table into `target` (columns by name) through CSV; null -> NULL, '' -> ''."""
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    buffer.seek(0)
    columns = ", ".join(table.column_names)
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        cur.copy_expert(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)


def _stage(conn: Connection, batch_id: str, source_format: str, table: pa.Table) -> None:
    conn.execute(sa.text("DELETE FROM raw.penalty_row WHERE batch_id = :b"), {"b": batch_id})
    staged = table.append_column("batch_id", pa.array([batch_id] * table.num_rows, pa.string()))
    staged = staged.append_column("source_format", pa.array([source_format] * table.num_rows, pa.string()))
    _copy_table(conn, "raw.penalty_row", staged)
    # Fresh statistics: planned for the few rows its stale statistics promise, a large batch's validation ran
    # serially and the merge's hash joins spilled to disk in dozens of batches.
    conn.execute(sa.text("ANALYZE raw.penalty_row (batch_id, source_row)"))


# ---------------------------------------------------------------------------------------------------
# Quarantine and merge


def _row_dicts(original: pa.Table, indexes: list[int]) -> list[dict[str, Any]]:
    return original.take(pa.array(indexes, pa.int64())).to_pylist() if indexes else []


def _quarantine(conn: Connection, batch_id: str, parsed, outcome, kept: pa.Table) -> list[dict[str, Any]]:
    """Write every row that failed an error-severity rule to quality.quarantine_row."""
    error_rows = sorted(outcome.error_rows())
    if not error_rows:
        return []
    positions = {row: i for i, row in enumerate(parsed.canonical.column("source_row").to_pylist())}
    originals = _row_dicts(parsed.original, [positions[r] for r in error_rows])
    key_rows = kept.filter(pc.is_in(kept.column("source_row"), pa.array(error_rows, pa.int32())))
    keys = {
        r["source_row"]: f"{r['cf_cfjgdm'] or ''}/{r['cf_wsh'] or ''}"
        for r in key_rows.select(["source_row", "cf_cfjgdm", "cf_wsh"]).to_pylist()
    }
    records = []
    for row, original in zip(error_rows, originals, strict=True):
        failures = outcome.failures[row]
        errors = [asdict(f) for f in failures]
        records.append(
            {
                "batch_id": batch_id,
                "dataset": DATASET,
                "source_row": row,
                "natural_key": keys.get(row),
                "rules": [f.rule for f in failures if f.severity == "error"],
                "errors": json.dumps(errors, ensure_ascii=False),
                "raw_record": json.dumps(original, ensure_ascii=False, default=str),
            }
        )
    insert_quarantine(conn, records)
    return [
        {"row": r["source_row"], "rules": r["rules"], "errors": json.loads(r["errors"])} for r in records
    ]


def _side_tables(conn: Connection, settings: Settings, kept: pa.Table, outcome) -> None:
    """Temp tables the merge joins: warnings per row, and personal IDs as keyed hash + mask."""
    from ggzy.identifiers import keyed_hash, mask_id_number

    conn.execute(sa.text("CREATE TEMP TABLE _warn (source_row int PRIMARY KEY, warnings text[]) ON COMMIT DROP"))
    warn_rows = [
        {"r": row, "w": rules} for row in outcome.failures if (rules := outcome.warning_rules(row))
        and row not in outcome.error_rows()
    ]
    if warn_rows:
        conn.execute(sa.text("INSERT INTO _warn VALUES (:r, :w)"), warn_rows)

    conn.execute(
        sa.text(
            "CREATE TEMP TABLE _pid (source_row int PRIMARY KEY, party_id_masked text, party_id_hash text,"
            " legal_rep_id_masked text, legal_rep_id_hash text) ON COMMIT DROP"
        )
    )
    ids = kept.select(["source_row", "cf_xdr_zjhm", "cf_fr_zjhm"])
    has_id = pc.or_(pc.invert(pc.is_null(ids.column("cf_xdr_zjhm"))), pc.invert(pc.is_null(ids.column("cf_fr_zjhm"))))
    key = settings.hub_secret()
    rows, secrets, hashes = [], {}, {}

    def hashed(value: str | None) -> str | None:
        """The keyed hash of an ID number (each distinct number hashed once), remembering the number."""
        if not value:
            return None
        if value not in hashes:
            hashes[value] = keyed_hash(value, key)
            secrets[hashes[value]] = value
        return hashes[value]

    for r in ids.filter(has_id).to_pylist():
        party, rep = r["cf_xdr_zjhm"] or None, r["cf_fr_zjhm"] or None
        rows.append(
            {
                "r": r["source_row"],
                "pm": mask_id_number(party),
                "ph": hashed(party),
                "rm": mask_id_number(rep),
                "rh": hashed(rep),
            }
        )
    if rows:  # COPY: an executemany of one INSERT per row costs seconds per 100,000 rows
        columns = {"source_row": ("r", pa.int32()), "party_id_masked": ("pm", pa.string()),
                   "party_id_hash": ("ph", pa.string()), "legal_rep_id_masked": ("rm", pa.string()),
                   "legal_rep_id_hash": ("rh", pa.string())}  # fmt: skip
        _copy_table(
            conn,
            "_pid",
            pa.table({name: pa.array([r[key] for r in rows], kind) for name, (key, kind) in columns.items()}),
        )
        _protect_ids(conn, settings, secrets)


_protect_ids = protect_ids  # personal ID numbers kept encrypted in protected.personal_id


def _nz(col: str) -> str:
    return f"nullif(btrim(s.{col}), '')"


# The SQL twin of quality.rules.split_penalty_categories: the one category whose name contains 、
# is shielded before splitting, so the merge stores exactly the items the vocabulary rule checked.
CATEGORIES_SQL = (
    f"ARRAY(SELECT replace(btrim(item), chr(1), '{UNSPLIT_CATEGORY}') FROM unnest(regexp_split_to_array("
    f"replace(btrim(s.cf_cflb), '{UNSPLIT_CATEGORY}', chr(1)), '{CATEGORY_SEPARATORS}')) WITH ORDINALITY AS t(item, n)"
    " WHERE btrim(item) <> '' ORDER BY n)"
)

# Staging text -> typed core columns. One place, read by the merge below.
READY_SELECT = f"""
SELECT s.source_row,
       {_nz('cf_cfjgdm')} AS authority_code,
       {_nz('cf_wsh')} AS decision_no,
       {_nz('cf_xdr_mc')} AS party_name,
       {_nz('cf_xdr_lb')} AS party_category,
       {_nz('cf_xdr_shxym')} AS party_uscc,
       {_nz('cf_xdr_gszc')} AS party_business_reg_no,
       {_nz('cf_xdr_zzjg')} AS party_org_code,
       {_nz('cf_xdr_swdj')} AS party_tax_reg_no,
       {_nz('cf_xdr_sydw')} AS party_institution_cert_no,
       {_nz('cf_xdr_shzz')} AS party_social_org_reg_no,
       {_nz('cf_frdb')} AS legal_rep_name,
       {_nz('cf_fr_zjlx')} AS legal_rep_id_type,
       p.legal_rep_id_masked, p.legal_rep_id_hash,
       {_nz('cf_xdr_zjlx')} AS party_id_type,
       p.party_id_masked, p.party_id_hash,
       {_nz('cf_wfxw')} AS violation_type,
       {_nz('cf_sy')} AS violation_facts,
       {_nz('cf_yj')} AS legal_basis,
       {CATEGORIES_SQL} AS penalty_categories,
       {_nz('cf_nr')} AS penalty_content,
       round(({_nz('cf_nr_fk')})::numeric * 10000, 2) AS fine_yuan,
       round(({_nz('cf_nr_wfff')})::numeric * 10000, 2) AS confiscation_yuan,
       {_nz('cf_nr_zkdx')} AS licence_affected,
       to_date(s.cf_jdrq, 'YYYY-MM-DD') AS decision_date,
       to_date({_nz('cf_yxq')}, 'YYYY-MM-DD') AS valid_until,
       coalesce(s.cf_yxq = '{LONG_TERM}', false) AS valid_long_term,
       to_date({_nz('cf_gsjzq')}, 'YYYY-MM-DD') AS publicity_until,
       {_nz('cf_cfjg')} AS authority_name,
       {_nz('cf_sjly')} AS source_unit_name,
       {_nz('cf_sjlydm')} AS source_unit_code,
       {_nz('bz')} AS remarks,
       s.source_format,
       coalesce(w.warnings, '{{}}') AS warnings
FROM raw.penalty_row s
LEFT JOIN _warn w USING (source_row)
LEFT JOIN _pid p USING (source_row)
WHERE s.batch_id = :batch
  AND NOT EXISTS (SELECT 1 FROM quality.quarantine_row q WHERE q.batch_id = :batch AND q.source_row = s.source_row)
"""

CORE_COLUMNS = [
    "authority_code", "decision_no", "party_name", "party_category", "party_uscc", "party_business_reg_no",
    "party_org_code", "party_tax_reg_no", "party_institution_cert_no", "party_social_org_reg_no",
    "legal_rep_name", "legal_rep_id_type", "legal_rep_id_masked", "legal_rep_id_hash", "party_id_type",
    "party_id_masked", "party_id_hash", "violation_type", "violation_facts", "legal_basis",
    "penalty_categories", "penalty_content", "fine_yuan", "confiscation_yuan", "licence_affected",
    "decision_date", "valid_until", "valid_long_term", "publicity_until", "authority_name",
    "source_unit_name", "source_unit_code", "remarks", "source_format", "warnings",
]  # fmt: skip

# The content hash covers what the decision says, not where or how it arrived.
HASHED_COLUMNS = [c for c in CORE_COLUMNS if c not in ("source_format", "warnings")]
CONTENT_HASH = (
    "encode(sha256(convert_to(concat_ws(chr(31), "
    + ", ".join(f"coalesce(r.{c}::text, '\\N')" for c in HASHED_COLUMNS)
    + "), 'UTF8')), 'hex')"
)

# The document every member unit receives: the decision as the hub holds it, personal IDs masked.
DOCUMENT = (
    "jsonb_build_object('id', d.id, 'version', d.version, "
    + ", ".join(f"'{c}', d.{c}" for c in CORE_COLUMNS if not c.endswith("_hash"))
    + ", 'content_hash', d.content_hash, 'updated_at', d.updated_at)"
)


def _merge(conn: Connection, batch_id: str, ack_due: date | None) -> dict[str, int]:
    """Merge the batch's passing rows; returns inserted/updated/warned/duplicate counts and enqueues events."""
    # The content hash is computed in the same pass (an UPDATE afterwards would rewrite every row).
    conn.execute(
        sa.text(
            f"CREATE TEMP TABLE _ready ON COMMIT DROP AS SELECT r.*, {CONTENT_HASH} AS content_hash"
            f" FROM ({READY_SELECT}) r"
        ),
        {"batch": batch_id},
    )
    conn.execute(sa.text("CREATE INDEX ON _ready (authority_code, decision_no)"))
    # Statistics for the joins on the key only: the row count and the key's columns are what the plans need.
    conn.execute(sa.text("ANALYZE _ready (authority_code, decision_no, content_hash)"))

    # A row whose content matches the current or any earlier version of its decision is a duplicate:
    # re-sent files never flip a decision back to an older text.
    duplicate = conn.scalar(
        sa.text(
            "SELECT count(*) FROM _ready r JOIN core.penalty_decision d USING (authority_code, decision_no)"
            " WHERE d.content_hash = r.content_hash OR EXISTS (SELECT 1 FROM core.penalty_decision_version v"
            "   WHERE v.penalty_id = d.id AND v.content_hash = r.content_hash)"
        )
    )
    cols = ", ".join(CORE_COLUMNS)
    # One statement: new decisions and changed ones, then each one's new version and delivery event from the
    # rows the two RETURN (re-reading core.penalty_decision for this batch scanned the whole table: it has no
    # index on last_batch_id, and every small file would pay for the warehouse's size). The UPDATE sees only
    # decisions that existed before the statement, so a decision is inserted or updated, never both.
    # The event's document is that version's record (NULL here, read through outbox.MESSAGE_FROM), so the
    # document is stored once; its hash is taken from the record as it is written.
    counts = conn.execute(
        sa.text(
            "WITH ins AS ("
            f"  INSERT INTO core.penalty_decision ({cols}, content_hash, first_batch_id, last_batch_id)"
            f"  SELECT {', '.join('r.' + c for c in CORE_COLUMNS)}, r.content_hash, :batch, :batch FROM _ready r"
            "   ON CONFLICT (authority_code, decision_no) DO NOTHING RETURNING *),"
            " upd AS ("
            f"  UPDATE core.penalty_decision d SET {', '.join(f'{c} = r.{c}' for c in CORE_COLUMNS)},"
            "   content_hash = r.content_hash, version = d.version + 1, last_batch_id = :batch, updated_at = now()"
            "   FROM _ready r WHERE d.authority_code = r.authority_code AND d.decision_no = r.decision_no"
            "     AND d.last_batch_id <> :batch AND d.content_hash <> r.content_hash"
            "     AND NOT EXISTS (SELECT 1 FROM core.penalty_decision_version v"
            "                     WHERE v.penalty_id = d.id AND v.content_hash = r.content_hash)"
            "   RETURNING d.*),"
            " changed AS (SELECT * FROM ins UNION ALL SELECT * FROM upd),"
            " v AS ("
            "  INSERT INTO core.penalty_decision_version (penalty_id, version, batch_id, content_hash, record)"
            f"  SELECT d.id, d.version, :batch, d.content_hash, {DOCUMENT} FROM changed d"
            "   RETURNING penalty_id, version, batch_id, encode(sha256(convert_to(record::text, 'UTF8')), 'hex') AS hash),"
            " e AS ("
            "  INSERT INTO delivery.event (event_type, penalty_id, penalty_version, batch_id, document_hash)"
            "  SELECT CASE WHEN v.version = 1 THEN 'penalty.created' ELSE 'penalty.updated' END,"
            "         v.penalty_id, v.version, v.batch_id, v.hash"
            "  FROM v)"  # run although nothing reads it, as every data-modifying WITH is
            " SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT count(*) FROM upd) AS updated,"
            "        (SELECT count(*) FROM changed WHERE warnings <> '{}') AS warned"
        ),
        {"batch": batch_id},
    ).mappings().one()
    enqueue_batch(conn, batch_id, ack_due=ack_due)
    return {"inserted": counts["inserted"], "updated": counts["updated"], "warned": counts["warned"],
            "duplicate": duplicate}  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Entry points


_timed = timed


def ingest_bytes(
    data: bytes,
    filename: str,
    *,
    source: str,
    submitted_by: str | None,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> BatchReport:
    """Land, validate, quarantine and merge one department file; idempotent on the file's bytes."""
    from connectors.penalties import PENALTY_FIELDS, PenaltyFileConnector
    from quality.runner import validate_penalty_batch

    settings = settings or get_settings()
    engine = engine or database.engine(settings)
    timings: dict[str, float] = {}
    with _timed(timings, "land"):
        batch, resumed = _land(engine, settings, data, filename, source, submitted_by)
    batch_id = str(batch["id"])
    if resumed and batch["status"] in ("loaded", "rejected"):
        return _report_from_batch(batch, already_processed=True, quarantined=_quarantined(engine, batch_id))

    try:
        with _timed(timings, "parse"):
            parsed = PenaltyFileConnector().parse(data, filename)
    except HubError as exc:
        _fail_batch(engine, batch_id, "rejected", exc.to_dict())
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM ops.batch WHERE id = :b"), {"b": batch_id}).mappings().one()
        return _report_from_batch(dict(row), error=exc.to_dict())

    try:
        with _timed(timings, "parquet"):
            parquet_path = Path(batch["raw_path"]).with_suffix(".parquet")
            pq.write_table(parsed.original, parquet_path)
        canonical = _fill_from_submitter(parsed, submitted_by or batch["submitted_by"], settings)
        with _timed(timings, "dedupe"):
            kept, in_batch_duplicates = _drop_exact_duplicates(canonical, PENALTY_FIELDS, NATURAL_KEY_FIELDS)
        with _timed(timings, "stage"), engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE ops.batch SET parquet_path = :p, file_format = :f, encoding = :e, rows_in = :n,"
                    " status = 'landed', error = NULL WHERE id = :b"
                ),
                {"p": str(parquet_path), "f": parsed.file_format, "e": parsed.encoding,
                 "n": parsed.canonical.num_rows, "b": batch_id},
            )
            _stage(conn, batch_id, parsed.source_format, kept)

        with _timed(timings, "validate"):
            outcome = validate_penalty_batch(engine, batch_id)
        ack_due = acknowledgement_due(profile=load_profile(settings.jurisdiction))

        with _timed(timings, "merge"), engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM quality.quarantine_row WHERE batch_id = :b"), {"b": batch_id})
            quarantined = _quarantine(conn, batch_id, parsed, outcome, kept)
            _side_tables(conn, settings, kept, outcome)
            merged = _merge(conn, batch_id, ack_due)
            conn.execute(sa.text("DELETE FROM raw.penalty_row WHERE batch_id = :b"), {"b": batch_id})
            row = conn.execute(
                sa.text(
                    "UPDATE ops.batch SET status = 'loaded', rows_loaded = :loaded, rows_inserted = :ins,"
                    " rows_updated = :upd, rows_quarantined = :q, rows_duplicate = :dup, rows_warned = :w,"
                    " finished_at = now() WHERE id = :b RETURNING *"
                ),
                {"loaded": merged["inserted"] + merged["updated"], "ins": merged["inserted"],
                 "upd": merged["updated"], "q": len(quarantined),
                 "dup": in_batch_duplicates + merged["duplicate"], "w": merged["warned"], "b": batch_id},
            ).mappings().one()
    except Exception as exc:
        log.exception("batch %s failed", batch_id)
        _fail_batch(engine, batch_id, "failed", {"error": "pipeline_failed", "detail": str(exc)[:2000]})
        raise
    report = _report_from_batch(dict(row), quarantined=quarantined, notes=parsed.notes, timings=timings)
    log.info("batch %s %s: %s", batch_id, filename, {k: v for k, v in report.to_dict().items() if k.startswith("rows_")})
    return report


def _quarantined(engine: Engine, batch_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT source_row, rules, errors FROM quality.quarantine_row WHERE batch_id = :b ORDER BY source_row"
            ),
            {"b": batch_id},
        ).all()
    return [{"row": r.source_row, "rules": list(r.rules), "errors": r.errors} for r in rows]


def ingest_path(path: Path, *, submitted_by: str | None, settings: Settings | None = None,
                engine: Engine | None = None) -> BatchReport:
    """Ingest one file from disk (the drop folder or `ggzy ingest penalties FILE`)."""
    return ingest_bytes(
        Path(path).read_bytes(), Path(path).name, source=f"file:{path}", submitted_by=submitted_by,
        settings=settings, engine=engine,
    )


def scan_drop_folder(settings: Settings | None = None, engine: Engine | None = None) -> list[BatchReport]:
    """Ingest every file waiting in <home>/drop/<unit code>/; processed files move to processed/<date>/."""
    settings = settings or get_settings()
    reports = []
    root = settings.drop_folder
    if not root.exists():
        return reports
    for unit_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(p for p in unit_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
            report = ingest_path(path, submitted_by=unit_dir.name, settings=settings, engine=engine)
            done = unit_dir / "processed" / date.today().isoformat()
            done.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), done / path.name)
            reports.append(report)
    return reports
