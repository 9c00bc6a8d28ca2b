"""The credit pipeline: every blacklist the hub holds merged into one restriction model with full history.

Sources (each a change log of inclusions, corrections and removals):
- Credit China's 失信被执行人 and 严重失信主体名单 (connectors.credit_china, API or daily files);
- Credit China's administrative penalties of other regions: loaded by the penalty pipeline as a 双公示
  file, then every decision whose 处罚类别 restricts (限制从业, 暂扣/吊销许可证件, 限制开展生产经营活动, ...)
  becomes a restriction valid from its decision date to its 处罚有效期;
- the exchange centre's 302 BLACK_LIST with 303 WITHDRAW_BLACK_LIST, when those tables exist
  (found through information_schema at run time).

One call of `ingest_changes` takes one page or file of one list from bytes to restrictions, like the
penalty pipeline: land (raw zone + ops.batch), parse, drop exact duplicates, stage in raw.credit_row, validate
with the list's GX suite (quality.credit_rules), then ONE transaction: quarantine failing rows with their rules,
merge every passing change as a new version of its entry (core.restriction + core.restriction_version,
valid time active_from/active_until x known time known_from/known_to), one delivery.event per new version
(record_type 'restriction') with one outbox row per member unit, row conservation in ops.batch.

A removal stops the entry flagging from its removal date (active_until = removed_on); the versions before it
stay in history, so "restricted on D as known at K" is still answerable. Cross-checks against trading data
(`run_cross_checks`) write 402-form alerts to core.alert.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from connectors.credit_china import (
    CreditChangeFileConnector,
    CreditChinaApi,
    DishonestDebtorConnector,
    ExchangeBlacklistConnector,
    PulledChanges,
    SeriousDishonestyConnector,
    penalty_file,
)
from ggzy import database
from ggzy.delivery.outbox import acknowledgement_due, enqueue_batch
from ggzy.errors import HubError
from ggzy.identifiers import keyed_hash, mask_id_number
from ggzy.jurisdictions import load_profile
from ggzy.pipelines.common import fail_batch, insert_quarantine, land_bytes, timed
from ggzy.pipelines.penalties import BatchReport, _copy_table, _drop_exact_duplicates, _report_from_batch
from ggzy.settings import Settings, get_settings
from quality.credit_rules import LIST_SPECS, ListSpec

log = logging.getLogger(__name__)

CONNECTORS: dict[str, type[CreditChangeFileConnector]] = {
    "dishonest_debtor": DishonestDebtorConnector,
    "serious_dishonesty": SeriousDishonestyConnector,
    "exchange_blacklist": ExchangeBlacklistConnector,
}
PENALTY_LIST = "penalty"
PENALTY_SOURCE = "penalty_decision"
# 处罚类别 that restrict what the party may do (行政处罚法 2021 art. 9 and the pre-2021 wording).
RESTRICTING_CATEGORIES = (
    "暂扣许可证件", "降低资质等级", "吊销许可证件", "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业",
    "暂扣或者吊销许可证", "暂扣或者吊销执照",
)  # fmt: skip
DEBTOR_BEHAVIOUR = "失信被执行人：限制高消费、限制参与招标投标等联合惩戒"
SERIOUS_BEHAVIOUR = "严重失信主体：联合惩戒（限制参与招标投标、政府采购等）"
LOCAL_TZ = "Asia/Shanghai"

# ---------------------------------------------------------------------------------------------------
# Per list: staged columns -> the restriction model's columns (one SELECT each, same output columns)

_CHANGED_AT = f"(to_timestamp(s.changed_at, 'YYYYMMDDHH24MISS')::timestamp AT TIME ZONE '{LOCAL_TZ}')"

READY_COLUMNS = (
    "source_row", "change_seq", "changed_at", "change_type", "source_key", "entity_key", "entity_kind",
    "entity_name", "entity_uscc", "entity_id_masked", "basis_document", "basis_unit", "basis_text", "reason",
    "restricted_behaviour", "start_date", "end_date", "removed_on", "removal_document", "removal_reason", "details",
)  # fmt: skip

_ORG_KEY = "CASE WHEN quality.uscc_format_ok({c}) THEN {c} ELSE 'ORG:' || {c} END"

READY_SELECTS: dict[str, str] = {
    "dishonest_debtor": f"""
        SELECT s.source_row, s.change_seq, {_CHANGED_AT} AS changed_at, s.change_type,
               s.case_code || '/' || coalesce(p.masked, s.card_num, s.iname) AS source_key,
               coalesce(p.entity_key, {_ORG_KEY.format(c='s.card_num')}) AS entity_key,
               CASE WHEN s.party_type = '自然人' THEN 'person' ELSE 'organisation' END AS entity_kind,
               s.iname AS entity_name,
               CASE WHEN s.party_type <> '自然人' AND quality.uscc_format_ok(s.card_num) THEN s.card_num END AS entity_uscc,
               p.masked AS entity_id_masked,
               s.gist_id AS basis_document, s.gist_unit AS basis_unit, s.duty AS basis_text,
               s.disrupt_type_name AS reason, '{DEBTOR_BEHAVIOUR}' AS restricted_behaviour,
               s.publish_date::date AS start_date, NULL::date AS end_date,
               CASE WHEN s.change_type = 'remove' OR s.status = 'removed' THEN s.remove_date::date END AS removed_on,
               s.remove_gist_id AS removal_document,
               CASE WHEN s.change_type = 'remove' OR s.status = 'removed' THEN s.performance END AS removal_reason,
               jsonb_strip_nulls(jsonb_build_object('case_code', s.case_code, 'court_name', s.court_name,
                   'area_name', s.area_name, 'business_entity', s.business_entity, 'reg_date', s.reg_date,
                   'publish_date', s.publish_date, 'performance', s.performance, 'party_type', s.party_type))
                   AS details
        FROM ({{batch}}) s LEFT JOIN _pid p USING (source_row)
    """,
    "serious_dishonesty": f"""
        SELECT s.source_row, s.change_seq, {_CHANGED_AT} AS changed_at, s.change_type,
               s.entry_id AS source_key, s.uscc AS entity_key, 'organisation' AS entity_kind,
               s.subject_name AS entity_name, s.uscc AS entity_uscc, NULL::text AS entity_id_masked,
               s.listing_doc_no AS basis_document, s.authority AS basis_unit, s.basis AS basis_text,
               s.reason AS reason, '{SERIOUS_BEHAVIOUR}' AS restricted_behaviour,
               s.listed_on::date AS start_date, NULL::date AS end_date, s.removed_on::date AS removed_on,
               s.removal_doc_no AS removal_document, s.removal_reason AS removal_reason,
               '{{}}'::jsonb AS details
        FROM ({{batch}}) s
    """,
    "exchange_blacklist": f"""
        SELECT s.source_row, s.change_seq, {_CHANGED_AT} AS changed_at, s.change_type,
               s.blacklist_code AS source_key, {_ORG_KEY.format(c='s.body_code')} AS entity_key,
               CASE WHEN quality.uscc_format_ok(s.body_code) OR s.body_type IS DISTINCT FROM '2' THEN 'organisation'
                    ELSE 'person' END AS entity_kind,
               s.body_name AS entity_name,
               CASE WHEN quality.uscc_format_ok(s.body_code) THEN s.body_code END AS entity_uscc,
               NULL::text AS entity_id_masked,
               s.document_code AS basis_document, s.government AS basis_unit, NULL::text AS basis_text,
               s.record_reason AS reason, coalesce(s.confined_action, '交易中心黑名单') AS restricted_behaviour,
               s.record_date::date AS start_date, NULL::date AS end_date, s.withdraw_date::date AS removed_on,
               s.withdraw_document AS removal_document, s.withdraw_reason AS removal_reason,
               jsonb_strip_nulls(jsonb_build_object('revocation_status', s.revocation_status)) AS details
        FROM ({{batch}}) s
    """,
}

# The penalty decisions of one penalty batch that restrict, in the same shape.
PENALTY_READY = """
    SELECT d.id AS source_row, d.id AS change_seq, d.updated_at AS changed_at,
           CASE WHEN d.version = 1 THEN 'add' ELSE 'correct' END AS change_type,
           d.authority_code || '/' || d.decision_no AS source_key,
           CASE WHEN d.party_uscc IS NOT NULL AND quality.uscc_format_ok(d.party_uscc)
                     AND d.party_uscc <> '00000000000000000X' THEN d.party_uscc
                WHEN d.party_id_hash IS NOT NULL THEN 'P:' || d.party_id_hash
                ELSE 'NAME:' || d.party_name END AS entity_key,
           CASE WHEN d.party_category = '自然人' THEN 'person' ELSE 'organisation' END AS entity_kind,
           d.party_name AS entity_name, d.party_uscc AS entity_uscc, d.party_id_masked AS entity_id_masked,
           d.decision_no AS basis_document, d.authority_name AS basis_unit, d.legal_basis AS basis_text,
           d.violation_type AS reason,
           array_to_string(ARRAY(SELECT c FROM unnest(d.penalty_categories) c WHERE c = ANY(:restricting)), ';')
               AS restricted_behaviour,
           d.decision_date AS start_date,
           CASE WHEN d.valid_long_term THEN NULL ELSE d.valid_until END AS end_date,
           NULL::date AS removed_on, NULL::text AS removal_document, NULL::text AS removal_reason,
           jsonb_strip_nulls(jsonb_build_object('penalty_id', d.id, 'penalty_version', d.version,
               'licence_affected', d.licence_affected, 'penalty_content', d.penalty_content)) AS details
    FROM core.penalty_decision d
    WHERE d.last_batch_id = :batch AND d.penalty_categories && CAST(:restricting AS text[])
    UNION ALL
    -- A corrected decision that no longer restricts ends the restriction it carried, from the correction's day.
    SELECT d.id, d.id, d.updated_at, 'remove', r.source_key, r.entity_key, r.entity_kind, r.entity_name,
           r.entity_uscc, r.entity_id_masked, r.basis_document, r.basis_unit, r.basis_text, r.reason,
           r.restricted_behaviour, r.start_date, r.end_date,
           greatest(r.start_date, (d.updated_at AT TIME ZONE 'Asia/Shanghai')::date), d.decision_no,
           '处罚决定更正后不再含限制类处罚 / corrected decision no longer restricts', r.details
    FROM core.penalty_decision d
    JOIN core.restriction r ON r.source = 'penalty_decision' AND r.source_key = d.authority_code || '/' || d.decision_no
    WHERE d.last_batch_id = :batch AND NOT d.penalty_categories && CAST(:restricting AS text[])
      AND r.removed_on IS NULL
"""

MODEL_COLUMNS = (
    "entity_key", "entity_kind", "entity_name", "entity_uscc", "entity_id_masked", "basis_document", "basis_unit",
    "basis_text", "reason", "restricted_behaviour", "start_date", "end_date", "removed_on", "removal_document",
    "removal_reason", "details",
)  # fmt: skip
CONTENT_HASH = (
    "encode(sha256(convert_to(concat_ws(chr(31), "
    + ", ".join(f"coalesce(r.{c}::text, '\\N')" for c in MODEL_COLUMNS)
    + "), 'UTF8')), 'hex')"
)
# The entry as member units receive it and as history keeps it; natural persons only by masked identifier.
DOCUMENT = (
    "jsonb_build_object('id', d.id, 'version', d.version, 'source', d.source, 'source_key', d.source_key, "
    "'entity_key', CASE WHEN d.entity_kind = 'organisation' THEN d.entity_key END, "
    + ", ".join(f"'{c}', d.{c}" for c in MODEL_COLUMNS if c != "entity_key")
    + ", 'active_from', d.active_from, 'active_until', d.active_until, 'known_from', d.known_from,"
    " 'content_hash', d.content_hash)"
)
ACTIVE_UNTIL = "CASE WHEN r.removed_on IS NOT NULL AND (r.end_date IS NULL OR r.removed_on <= r.end_date) THEN r.removed_on" \
               " WHEN r.end_date IS NOT NULL THEN r.end_date + 1 END"


@dataclass
class CreditReport:
    """What one pipeline run did per list (batch reports) and what the cross-checks found."""

    batches: dict[str, list[BatchReport]] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, dict[str, int]]:
        """Per dataset: rows_in, rows_loaded, rows_quarantined, rows_duplicate (summed over batches)."""
        out: dict[str, dict[str, int]] = {}
        for reports in self.batches.values():
            for r in reports:
                f = out.setdefault(r.dataset, dict.fromkeys(("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate"), 0))
                for k in f:
                    f[k] += getattr(r, k)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {"datasets": self.figures(), "batches": {k: [r.to_dict() for r in v] for k, v in self.batches.items()},
                "alerts": self.alerts, "notes": self.notes}  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Landing and staging


def _stage(conn: Connection, batch_id: str, list_name: str, table: pa.Table) -> None:
    conn.execute(sa.text("DELETE FROM raw.credit_row WHERE batch_id = :b"), {"b": batch_id})
    staged = table.append_column("batch_id", pa.array([batch_id] * table.num_rows, pa.string()))
    staged = staged.append_column("list", pa.array([list_name] * table.num_rows, pa.string()))
    _copy_table(conn, "raw.credit_row", staged)


def _person_keys(conn: Connection, settings: Settings, kept: pa.Table) -> None:
    """_pid temp table: natural persons' entity key (keyed hash of name + masked number) and masked number."""
    conn.execute(sa.text("CREATE TEMP TABLE _pid (source_row int PRIMARY KEY, entity_key text, masked text) ON COMMIT DROP"))
    secret = settings.hub_secret()
    rows = []
    for source_row, text in zip(kept.column("source_row").to_pylist(), kept.column("record").to_pylist(), strict=True):
        record = json.loads(text)
        if record.get("partyTypeName") == "自然人" and record.get("cardNum"):
            masked = mask_id_number(record["cardNum"])
            rows.append({"r": source_row, "k": "P:" + keyed_hash(f"{record.get('iname') or ''}|{masked}", secret), "m": masked})
    if rows:
        conn.execute(sa.text("INSERT INTO _pid VALUES (:r, :k, :m)"), rows)


def _quarantine(conn: Connection, batch_id: str, spec: ListSpec, outcome, kept: pa.Table) -> list[dict[str, Any]]:
    """Write every row that failed an error rule to quality.quarantine_row (record as received, IDs masked)."""
    error_rows = sorted(outcome.error_rows())
    if not error_rows:
        return []
    by_row = {r["source_row"]: r for r in kept.filter(pc.is_in(kept.column("source_row"), pa.array(error_rows, pa.int32()))).to_pylist()}
    records = []
    for row in error_rows:
        staged = by_row[row]
        record = json.loads(staged["record"])
        if "cardNum" in record and record.get("partyTypeName") == "自然人":
            record["cardNum"] = mask_id_number(record["cardNum"])
        key = "/".join(str(record.get(spec.columns[c]) or "") for c in spec.key_columns)
        failures = outcome.failures[row]
        records.append({
            "batch_id": batch_id, "dataset": spec.dataset, "source_row": row, "natural_key": key,
            "rules": [f.rule for f in failures if f.severity == "error"],
            "errors": json.dumps([f.__dict__ for f in failures], ensure_ascii=False),
            "raw_record": json.dumps({"seq": staged["change_seq"], "changedAt": staged["changed_at"],
                                      "changeType": staged["change_type"], "record": record}, ensure_ascii=False),
        })  # fmt: skip
    insert_quarantine(conn, records)
    return [{"row": r["source_row"], "key": r["natural_key"], "rules": r["rules"], "errors": json.loads(r["errors"])}
            for r in records]  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Merge into the restriction model


def merge_ready(conn: Connection, source: str, batch_id: str, ack_due: date | None) -> dict[str, int]:
    """Merge _ready (one batch of one source) as new versions of restrictions; events + outbox; returns counts."""
    conn.execute(sa.text("ALTER TABLE _ready ADD COLUMN content_hash text, ADD COLUMN prev_hash text"))
    conn.execute(sa.text(f"UPDATE _ready r SET content_hash = {CONTENT_HASH}"))
    conn.execute(sa.text(
        "UPDATE _ready r SET prev_hash = x.prev FROM (SELECT source_row, lag(content_hash) OVER"
        " (PARTITION BY source_key ORDER BY changed_at, change_seq, source_row) AS prev FROM _ready) x"
        " WHERE x.source_row = r.source_row"
    ))  # fmt: skip
    # A change saying what its entry already says (in this batch or any known version) is a duplicate.
    conn.execute(sa.text(
        "CREATE TEMP TABLE _new ON COMMIT DROP AS SELECT r.*, row_number() OVER w AS rn, count(*) OVER"
        " (PARTITION BY r.source_key) AS n, lead(r.changed_at) OVER w AS next_known FROM _ready r"
        " WHERE r.content_hash IS DISTINCT FROM r.prev_hash AND NOT EXISTS (SELECT 1 FROM core.restriction d"
        "   JOIN core.restriction_version v ON v.restriction_id = d.id WHERE d.source = :source"
        "   AND d.source_key = r.source_key AND v.content_hash = r.content_hash)"
        " WINDOW w AS (PARTITION BY r.source_key ORDER BY r.changed_at, r.change_seq, r.source_row)"
    ), {"source": source})  # fmt: skip
    ready = conn.scalar(sa.text("SELECT count(*) FROM _ready"))
    new = conn.scalar(sa.text("SELECT count(*) FROM _new"))
    conn.execute(sa.text(
        "CREATE TEMP TABLE _base ON COMMIT DROP AS SELECT d.id, d.source_key, d.version, d.known_from"
        " FROM core.restriction d WHERE d.source = :source AND d.source_key IN (SELECT source_key FROM _new)"
    ), {"source": source})  # fmt: skip
    cols = ", ".join(MODEL_COLUMNS)
    set_cols = ", ".join(f"{c} = r.{c}" for c in MODEL_COLUMNS)
    known = "greatest(r.changed_at, coalesce(b.known_from, r.changed_at))"
    inserted = conn.execute(sa.text(
        f"INSERT INTO core.restriction (source, source_key, {cols}, active_from, active_until, version, content_hash,"
        "  known_from, first_batch_id, last_batch_id)"
        f" SELECT :source, r.source_key, {', '.join('r.' + c for c in MODEL_COLUMNS)}, r.start_date, {ACTIVE_UNTIL},"
        "  r.n, r.content_hash, r.changed_at, :batch, :batch"
        " FROM _new r WHERE r.rn = r.n AND NOT EXISTS (SELECT 1 FROM _base b WHERE b.source_key = r.source_key)"
    ), {"source": source, "batch": batch_id}).rowcount  # fmt: skip
    updated = conn.execute(sa.text(
        f"UPDATE core.restriction d SET {set_cols}, active_from = r.start_date, active_until = {ACTIVE_UNTIL},"
        f" version = d.version + r.n, content_hash = r.content_hash, known_from = {known},"
        " last_batch_id = :batch, updated_at = now()"
        " FROM _new r JOIN _base b USING (source_key) WHERE r.rn = r.n AND d.id = b.id"
    ), {"batch": batch_id}).rowcount  # fmt: skip
    # Close the version that was current, then add one version per new change (known until the next one).
    conn.execute(sa.text(
        "UPDATE core.restriction_version v SET known_to = greatest(f.changed_at, b.known_from) FROM _base b"
        " JOIN _new f ON f.source_key = b.source_key AND f.rn = 1"
        " WHERE v.restriction_id = b.id AND v.version = b.version AND v.known_to IS NULL"
    ))  # fmt: skip
    conn.execute(sa.text(
        "INSERT INTO core.restriction_version (restriction_id, version, change_type, entity_key, active_from,"
        "  active_until, known_from, known_to, batch_id, content_hash, record)"
        " SELECT d.id, coalesce(b.version, 0) + r.rn,"
        "  CASE WHEN r.removed_on IS NOT NULL THEN 'removal' WHEN coalesce(b.version, 0) + r.rn = 1 THEN 'inclusion'"
        "       ELSE 'correction' END,"
        f"  r.entity_key, r.start_date, {ACTIVE_UNTIL}, {known}, r.next_known, :batch, r.content_hash,"
        "  jsonb_build_object('id', d.id, 'version', coalesce(b.version, 0) + r.rn, 'source', d.source,"
        "    'source_key', d.source_key, 'change_type', r.change_type, 'changed_at', r.changed_at, "
        + ", ".join(f"'{c}', r.{c}" for c in MODEL_COLUMNS if c != "entity_key")
        + f", 'active_from', r.start_date, 'active_until', {ACTIVE_UNTIL}, 'content_hash', r.content_hash)"
        " FROM _new r JOIN core.restriction d ON d.source = :source AND d.source_key = r.source_key"
        " LEFT JOIN _base b ON b.source_key = r.source_key"
    ), {"source": source, "batch": batch_id})  # fmt: skip
    # Member units hold one record per entry: each new version reaches them as an update of it.
    conn.execute(sa.text(
        "INSERT INTO delivery.event (event_type, record_type, record_id, record_version, batch_id, document,"
        "  document_hash)"
        " SELECT CASE WHEN v.change_type = 'removal' THEN 'restriction.removed' WHEN v.version = 1"
        "   THEN 'restriction.created' ELSE 'restriction.updated' END, 'restriction', v.restriction_id, v.version,"
        "   v.batch_id, doc, encode(sha256(convert_to(doc::text, 'UTF8')), 'hex')"
        " FROM core.restriction_version v JOIN core.restriction d ON d.id = v.restriction_id,"
        "   LATERAL (SELECT v.record - 'entity_key' || jsonb_build_object('entity_key',"
        "     CASE WHEN d.entity_kind = 'organisation' THEN d.entity_key END, 'known_from', v.known_from) AS doc) x"
        " WHERE v.batch_id = :batch AND d.source = :source ORDER BY v.restriction_id, v.version"
    ), {"batch": batch_id, "source": source})  # fmt: skip
    enqueue_batch(conn, batch_id, ack_due=ack_due)
    removals = conn.scalar(sa.text("SELECT count(*) FROM _new WHERE removed_on IS NOT NULL"))
    return {"ready": ready, "new": new, "duplicate": ready - new, "inserted": inserted, "updated": updated,
            "removals": removals}  # fmt: skip


def _ack_due(settings: Settings) -> date | None:
    return acknowledgement_due(profile=load_profile(settings.jurisdiction))


# ---------------------------------------------------------------------------------------------------
# Entry points


def ingest_changes(
    list_name: str,
    data: bytes,
    filename: str,
    *,
    source: str,
    watermark: str | None = None,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> BatchReport:
    """Land, validate, quarantine and merge one page/file of one credit list; idempotent on the bytes."""
    from quality.credit_runner import validate_credit_batch

    spec = LIST_SPECS[list_name]
    settings = settings or get_settings()
    engine = engine or database.engine(settings)
    timings: dict[str, float] = {}
    with timed(timings, "land"):
        batch, resumed = land_bytes(engine, settings, spec.dataset, data, filename, source, None)
    batch_id = str(batch["id"])
    if resumed and batch["status"] in ("loaded", "rejected"):
        return _report_from_batch(batch, already_processed=True)
    try:
        parsed = CONNECTORS[list_name]().parse(data, filename)
    except HubError as exc:
        fail_batch(engine, batch_id, "rejected", exc.to_dict())
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM ops.batch WHERE id = :b"), {"b": batch_id}).mappings().one()
        return _report_from_batch(dict(row), error=exc.to_dict())
    try:
        parquet_path = Path(batch["raw_path"]).with_suffix(".parquet")
        pq.write_table(parsed.original, parquet_path)
        kept, exact_duplicates = _drop_exact_duplicates(parsed.canonical, ["change_seq", "changed_at", "change_type", "record"])
        with timed(timings, "stage"), engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE ops.batch SET parquet_path = :p, file_format = :f, encoding = :e, rows_in = :n,"
                        " status = 'landed', error = NULL WHERE id = :b"),
                {"p": str(parquet_path), "f": parsed.file_format, "e": parsed.encoding, "n": parsed.rows, "b": batch_id},
            )  # fmt: skip
            _stage(conn, batch_id, list_name, kept)
        with timed(timings, "validate"):
            outcome = validate_credit_batch(engine, list_name, batch_id)
        with timed(timings, "merge"), engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM quality.quarantine_row WHERE batch_id = :b"), {"b": batch_id})
            quarantined = _quarantine(conn, batch_id, spec, outcome, kept)
            _person_keys(conn, settings, kept)
            select = READY_SELECTS[list_name].replace("{batch}", spec.batch_query(batch_id))
            conn.execute(sa.text(
                f"CREATE TEMP TABLE _ready ON COMMIT DROP AS SELECT * FROM ({select}) x WHERE NOT EXISTS"
                " (SELECT 1 FROM quality.quarantine_row q WHERE q.batch_id = :b AND q.source_row = x.source_row)"
            ), {"b": batch_id})  # fmt: skip
            merged = merge_ready(conn, spec.source, batch_id, _ack_due(settings))
            warned = sum(1 for row in outcome.failures if row not in outcome.error_rows())
            if watermark:
                _store_watermark(conn, list_name, watermark)
            conn.execute(sa.text("DELETE FROM raw.credit_row WHERE batch_id = :b"), {"b": batch_id})
            row = conn.execute(
                sa.text("UPDATE ops.batch SET status = 'loaded', rows_loaded = :loaded, rows_inserted = :ins,"
                        " rows_updated = :upd, rows_quarantined = :q, rows_duplicate = :dup, rows_warned = :w,"
                        " finished_at = now() WHERE id = :b RETURNING *"),
                {"loaded": merged["new"], "ins": merged["inserted"], "upd": merged["updated"], "q": len(quarantined),
                 "dup": exact_duplicates + merged["duplicate"], "w": warned, "b": batch_id},
            ).mappings().one()  # fmt: skip
    except Exception as exc:
        log.exception("credit batch %s failed", batch_id)
        fail_batch(engine, batch_id, "failed", {"error": "pipeline_failed", "detail": str(exc)[:2000]})
        raise
    report = _report_from_batch(dict(row), quarantined=quarantined, timings=timings)
    report.notes.append(f"removals: {merged['removals']}")
    return report


def derive_penalty_restrictions(engine: Engine, batch_id: str, settings: Settings | None = None) -> dict[str, int]:
    """Penalty decisions of one loaded penalty batch whose 处罚类别 restrict become restrictions (idempotent)."""
    settings = settings or get_settings()
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"CREATE TEMP TABLE _ready ON COMMIT DROP AS {PENALTY_READY}"),
            {"batch": batch_id, "restricting": list(RESTRICTING_CATEGORIES)},
        )
        return merge_ready(conn, PENALTY_SOURCE, batch_id, _ack_due(settings))


def _store_watermark(conn: Connection, source: str, watermark: str) -> None:
    conn.execute(
        sa.text("INSERT INTO ops.credit_watermark (source, watermark) VALUES (:s, :w) ON CONFLICT (source) DO UPDATE"
                " SET watermark = greatest(ops.credit_watermark.watermark, excluded.watermark), updated_at = now()"),
        {"s": source, "w": watermark},
    )  # fmt: skip


def watermark(engine: Engine, source: str) -> str | None:
    """The last committed watermark of a source (None before the first pull)."""
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT watermark FROM ops.credit_watermark WHERE source = :s"), {"s": source})


def ingest_penalty_changes(pulled: PulledChanges, *, settings: Settings, engine: Engine) -> list[BatchReport]:
    """Credit China's published penalties through the penalty pipeline, then their restrictions.

    A pull may hold several versions of one decision; they go as successive files (the n-th version of each
    decision in the n-th file), so every version is kept and no file holds one decision twice.
    """
    from ggzy.pipelines.penalties import ingest_bytes

    rounds: list[list[dict[str, Any]]] = []
    seen: dict[tuple, int] = {}
    for change in pulled.changes:
        record = change.get("record") or {}
        key = (record.get("CF_CFJGDM"), record.get("CF_WSH"))
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(change)
    reports = []
    for i, changes in enumerate(rounds, start=1):
        name = f"credit_china_penalty_{pulled.since or 'start'}_{pulled.watermark}_{i}.json"
        report = ingest_bytes(penalty_file(changes), name, source="credit_china:penalty", submitted_by=None,
                              settings=settings, engine=engine)  # fmt: skip
        if report.status == "loaded":
            derived = derive_penalty_restrictions(engine, report.batch_id, settings)
            report.notes.append(f"restrictions derived: {derived['new']}")
        reports.append(report)
    if pulled.watermark and all(r.status == "loaded" for r in reports):
        with engine.begin() as conn:
            _store_watermark(conn, PENALTY_LIST, pulled.watermark)
    return reports


def pull_credit_china(api: CreditChinaApi, *, settings: Settings | None = None, engine: Engine | None = None,
                      lists: tuple[str, ...] = ("dishonest_debtor", "serious_dishonesty", PENALTY_LIST)) -> CreditReport:
    """Pull every list from its committed watermark and load it; returns the per-list batch reports."""
    settings = settings or get_settings()
    engine = engine or database.engine(settings)
    report = CreditReport()
    for name in lists:
        pulled = api.pull(name, watermark(engine, name))
        if not pulled.changes:
            report.batches[name] = []
            continue
        if name == PENALTY_LIST:
            report.batches[name] = ingest_penalty_changes(pulled, settings=settings, engine=engine)
        else:
            filename = f"credit_china_{name}_{pulled.since or 'start'}_{pulled.watermark}.json"
            report.batches[name] = [ingest_changes(name, pulled.to_bytes(), filename, source=f"api:{api.base_url}",
                                                   watermark=pulled.watermark, settings=settings, engine=engine)]
    return report


def ingest_exchange_file(path: Path, *, settings: Settings | None = None, engine: Engine | None = None) -> BatchReport:
    """One daily exchange file (`<list>_<yyyyMMdd>.json|csv`) of the file channel."""
    name = Path(path).name
    list_name = re.sub(r"_\d{8}\.\w+$", "", name)
    if list_name not in LIST_SPECS:
        raise HubError("unknown_list", f"无法从文件名识别名单：{name}", f"cannot tell the list from the file name: {name}",
                       detail={"file": name})  # fmt: skip
    return ingest_changes(list_name, Path(path).read_bytes(), name, source=f"file:{path}", settings=settings, engine=engine)


# ---------------------------------------------------------------------------------------------------
# The exchange centre's tables (302/303, 507, 512, 513, 503), found by their columns


# Every column of every table (raw excluded), known by its own name and by the spec field its comment names
# ("... (spec: FIELD)", the grammar of migration 0003): the trading tables are found by the fields they hold.
LAYOUT_SQL = r"""
SELECT n.nspname AS schema_name, c.relname AS table_name, a.attname AS column_name, upper(a.attname) AS by_name,
       upper(substring(col_description(c.oid, a.attnum) from '\(spec: ([A-Za-z_]+)\)$')) AS by_spec
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'raw')
  AND (CAST(:schema AS text) IS NULL OR n.nspname = :schema)
"""

Layouts = dict[str, dict[str, str]]  # quoted table -> {SPEC FIELD or COLUMN NAME (upper): quoted column}


def table_layouts(conn: Connection, schema: str | None = None) -> Layouts:
    """Every table's columns by upper-case name and by the spec field of their comment (spec wins)."""
    layouts: Layouts = {}
    rows = conn.execute(sa.text(LAYOUT_SQL), {"schema": schema}).mappings().all()
    for r in sorted(rows, key=lambda r: r["by_spec"] is not None):  # name keys first, spec keys override
        fields = layouts.setdefault(f'"{r["schema_name"]}"."{r["table_name"]}"', {})
        fields.setdefault(r["by_name"], f'"{r["column_name"]}"')
        if r["by_spec"]:
            fields[r["by_spec"]] = f'"{r["column_name"]}"'
    return layouts


def find_table(layouts: Layouts, *fields: str) -> str | None:
    """A table holding every field (spec name or column name, any case), schema core first; None when absent."""
    wanted = [f.upper() for f in fields]
    found = sorted(t for t, cols in layouts.items() if all(f in cols for f in wanted))
    found.sort(key=lambda t: not t.startswith('"core".'))
    return found[0] if found else None


def column(layouts: Layouts, table: str, field: str) -> str | None:
    """The quoted column of table holding field (spec name or column name); None when absent."""
    return layouts[table].get(field.upper())


def _flag_sql(expr: str) -> str:
    """SQL: a TRUE_OR_FALSE field (text 0/1 or boolean) as '1', '0' or NULL."""
    return (f"CASE lower({expr}::text) WHEN '1' THEN '1' WHEN 'true' THEN '1' WHEN 't' THEN '1'"
            f" WHEN '0' THEN '0' WHEN 'false' THEN '0' WHEN 'f' THEN '0' END")


def _as_date_sql(expr: str) -> str:
    """SQL: a date from text/timestamp/date holding yyyyMMdd[HHmmss] or ISO, NULL when not a date."""
    digits = f"left(regexp_replace({expr}::text, '[^0-9]', '', 'g'), 8)"
    return f"CASE WHEN {digits} ~ '^[0-9]{{8}}$' THEN to_date({digits}, 'YYYYMMDD') END"


def exchange_blacklist_changes(engine: Engine, schema: str | None = None) -> PulledChanges | None:
    """302 BLACK_LIST rows (with their 303 withdrawals) as list changes; None when the tables are absent."""
    with engine.connect() as conn:
        layouts = table_layouts(conn, schema)
        t302 = find_table(layouts, "blacklist_code", "body_code", "record_date", "record_reason")
        if t302 is None:
            return None
        t303 = find_table(layouts, "blacklist_code", "application_date", "revocationeasons")
        fields = ("BLACKLIST_CODE", "BODY_NAME", "BODY_CODE", "BODY_TYPE", "RECORD_REASON", "RECORD_DATE", "GOVERNMENT",
                  "DOCUMENT_CODE", "REVOCATION_STATUS", "CONFINED_ACTION", "DATA_TIMESTAMP")  # fmt: skip
        present = {f: column(layouts, t302, f) for f in fields}
        select = ", ".join(f"b.{c}::text AS {f.lower()}" if c else f"NULL AS {f.lower()}" for f, c in present.items())
        join, wcols = "", "NULL AS w_date, NULL AS w_doc, NULL AS w_reason"
        if t303 is not None:
            code303 = column(layouts, t303, "blacklist_code")
            doc303 = column(layouts, t303, "document_code")
            join = (f" LEFT JOIN LATERAL (SELECT * FROM {t303} w WHERE w.{code303} = b.{present['BLACKLIST_CODE']}"
                    f" ORDER BY w.{column(layouts, t303, 'application_date')} DESC LIMIT 1) w ON true")  # fmt: skip
            wcols = (f"w.{column(layouts, t303, 'application_date')}::text AS w_date, "
                     f"{'w.' + doc303 + '::text' if doc303 else 'NULL'} AS w_doc, "
                     f"w.{column(layouts, t303, 'revocationeasons')}::text AS w_reason")  # fmt: skip
        rows = conn.execute(sa.text(f"SELECT {select}, {wcols} FROM {t302} b{join} ORDER BY 1")).mappings().all()
    changes = []
    for i, r in enumerate(rows, start=1):
        withdrawn = bool(r["w_date"])
        stamp = re.sub(r"\D", "", r["data_timestamp"] or "")[:14].ljust(14, "0") if r["data_timestamp"] else "20000101000000"
        record = {
            "BLACKLIST_CODE": r["blacklist_code"], "BODY_NAME": r["body_name"], "BODY_CODE": r["body_code"],
            "BODY_TYPE": r["body_type"], "RECORD_REASON": r["record_reason"], "RECORD_DATE": _iso(r["record_date"]),
            "GOVERNMENT": r["government"], "DOCUMENT_CODE": r["document_code"],
            "REVOCATION_STATUS": r["revocation_status"], "CONFINED_ACTION": r["confined_action"],
            "APPLICATION_DATE": _iso(r["w_date"]), "WITHDRAW_DOCUMENT_CODE": r["w_doc"], "REVOCATIONEASONS": r["w_reason"],
        }  # fmt: skip
        changes.append({"seq": i, "changedAt": stamp, "changeType": "remove" if withdrawn else "add", "record": record})
    last = max((c["changedAt"] for c in changes), default=None)
    return PulledChanges(list="exchange_blacklist", since=None, watermark=last, changes=changes, pages=1)


def _iso(value: str | None) -> str | None:
    """yyyyMMdd[HHmmss] or ISO text -> YYYY-MM-DD (unchanged when it is neither)."""
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 8 and re.fullmatch(r"\d{4}-?\d{2}-?\d{2}.*", value.strip()):
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return value


def ingest_exchange_blacklist(*, settings: Settings | None = None, engine: Engine | None = None,
                              schema: str | None = None) -> BatchReport | None:
    """Merge the exchange centre's 302/303 into the restriction model; None when there is no 302 table or row."""
    settings = settings or get_settings()
    engine = engine or database.engine(settings)
    pulled = exchange_blacklist_changes(engine, schema)
    if pulled is None or not pulled.changes:
        return None
    return ingest_changes("exchange_blacklist", pulled.to_bytes(), f"exchange_blacklist_{pulled.watermark}.json",
                          source="warehouse:302/303", settings=settings, engine=engine)  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# As-of answers

ENTRY_COLUMNS = (
    "id", "source", "source_key", "entity_kind", "entity_name", "entity_uscc", "entity_id_masked", "basis_document",
    "basis_unit", "basis_text", "reason", "restricted_behaviour", "start_date", "end_date", "removed_on",
    "removal_document", "removal_reason", "active_from", "active_until", "version", "known_from",
)  # fmt: skip
# The as-of query (DB-API paramstyle, run on the driver's cursor): one entity's entries begun by the date,
# current knowledge. restriction_entity_asof (entity_key, active_from) serves it.
ASOF_SQL = (
    f"SELECT {', '.join(ENTRY_COLUMNS)} FROM core.restriction WHERE entity_key = %(key)s AND active_from <= %(as_of)s"
    " ORDER BY active_from, id"
)
# The same as the hub knew it at a moment: the versions current at known_on.
KNOWN_ON_SQL = (
    "SELECT v.record, v.version, v.known_from FROM core.restriction_version v WHERE v.entity_key = %(key)s"
    " AND v.known_from <= %(known_on)s AND (v.known_to IS NULL OR v.known_to > %(known_on)s)"
    " AND v.active_from <= %(as_of)s ORDER BY v.active_from, v.restriction_id"
)


def _fetch_dicts(engine: Engine, name: str, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as dicts of a prepared statement (the as-of path skips SQLAlchemy's result layer and re-planning)."""
    names, rows = database.fetch_prepared(engine, name, sql, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


# A USCC (GB 32100 shape), an organisation key (ORG:<code>) or a natural person's key (P:<keyed hash>).
IDENTIFIER = re.compile(r"^([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}|ORG:[0-9A-Z-]{1,30}|P:[0-9a-f]{64})$")


def entity_key_for(identifier: str) -> str:
    """The entity key of an identifier as given (a USCC, ORG:..., P:...); a bilingual HubError otherwise."""
    text = identifier.strip()
    key = text if text.startswith("P:") else text.upper()
    if not IDENTIFIER.match(key):
        raise HubError(
            "invalid_identifier",
            f"主体标识无效：{text[:40]}（应为18位统一社会信用代码）",
            f"invalid entity identifier: {text[:40]} (expected an 18-character unified social credit code)",
            detail={"parameter": "uscc", "value": text[:40]},
        )
    return key


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in ENTRY_COLUMNS}
    for k in ("start_date", "end_date", "removed_on", "active_from", "active_until"):
        if isinstance(out[k], str):
            out[k] = date.fromisoformat(out[k][:10])
    if out.get("entity_id_masked"):
        out["entity_id_masked"] = mask_id_number(out["entity_id_masked"])
    return out


def credit_check(engine: Engine, identifier: str, as_of: date | None = None, known_on: datetime | None = None) -> dict[str, Any]:
    """Whether the entity is restricted on as_of (default today, China time), by which entries; removed ones too.

    With known_on, the answer uses what the hub knew at that moment (earlier versions before corrections).
    """
    key = entity_key_for(identifier)
    as_of = as_of or datetime.now(ZoneInfo(LOCAL_TZ)).date()
    if known_on is None:
        rows = _fetch_dicts(engine, "credit_asof", ASOF_SQL, {"key": key, "as_of": as_of})
    else:
        rows = [{**r["record"], "version": r["version"], "known_from": r["known_from"]}
                for r in _fetch_dicts(engine, "credit_known_on", KNOWN_ON_SQL, {"key": key, "as_of": as_of, "known_on": known_on})]  # fmt: skip
    entries = [_entry(r) for r in rows]
    active = [e for e in entries if e["active_until"] is None or as_of < e["active_until"]]
    removed = [e for e in entries if e["removed_on"] is not None and e["removed_on"] <= as_of]
    ended = [e for e in entries if not (e["active_until"] is None or as_of < e["active_until"]) and e not in removed]
    name = next((e["entity_name"] for e in entries), None)
    return {
        "entity": {"key": key if not key.startswith("P:") else None, "name": name,
                   "kind": entries[0]["entity_kind"] if entries else None,
                   "id_masked": next((e["entity_id_masked"] for e in entries if e["entity_id_masked"]), None)},
        "as_of": as_of, "known_on": known_on, "restricted": bool(active),
        "restrictions": active, "removed": removed, "ended": ended,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Cross-checks -> 402 alerts


def _restricted_on(entity: str, day: str) -> str:
    """SQL join condition: restriction r covers entity on day."""
    return (f"r.entity_key = {entity} AND r.active_from <= {day}"
            f" AND (r.active_until IS NULL OR {day} < r.active_until)")  # fmt: skip


def run_cross_checks(engine: Engine, supervisor_unit_name: str | None = None, schema: str | None = None) -> dict[str, Any]:
    """Alerts (402 form) from trading data vs the restriction model; 'not available' for absent tables.

    The trading tables are found by their columns (507 bids, 503 notices, 513 results, 512 contracts), in
    `schema` when given, else anywhere but raw with core preferred.
    """
    results: dict[str, Any] = {}
    with engine.begin() as conn:
        layouts = table_layouts(conn, schema)
        bids = find_table(layouts, "bid_section_code", "bidder_org_code", "bidder_name", "is_lost")
        notices = find_table(layouts, "tender_project_code", "bid_open_time")
        wins = find_table(layouts, "bid_section_code", "win_bidder_code")
        contracts = find_table(layouts, "bid_section_code", "bidder_code", "contract_sign_time")
        inserts: list[tuple[str, str | None]] = []
        if bids is None:
            results["restricted_bidder"] = results["is_lost_mismatch"] = "not available"
        else:
            c = {n: column(layouts, bids, n) for n in ("bid_section_code", "bidder_org_code", "bidder_name", "is_lost",
                                                   "tender_project_code", "margin_receive_time", "data_timestamp")}  # fmt: skip
            project = f"b.{c['tender_project_code']}" if c["tender_project_code"] else f"left(b.{c['bid_section_code']}, 20)"
            open_time = "NULL"
            if notices is not None:
                n_project = column(layouts, notices, "tender_project_code")
                open_time = (f"(SELECT min({_as_date_sql('n.' + column(layouts, notices, 'bid_open_time'))}) FROM {notices} n"
                             f" WHERE n.{n_project} = {project})")  # fmt: skip
            fallbacks = [f"{_as_date_sql('b.' + c[k])}" for k in ("margin_receive_time", "data_timestamp") if c[k]]
            bid_date = f"coalesce({', '.join([open_time, *fallbacks])})"
            base = (f"SELECT b.{c['bid_section_code']} AS section, {project} AS project, b.{c['bidder_org_code']} AS code,"
                    f" b.{c['bidder_name']} AS name, {bid_date} AS bid_date,"
                    f" {_flag_sql('b.' + c['is_lost'])} AS is_lost FROM {bids} b")  # fmt: skip
            inserts.append(("restricted_bidder", f"""
                SELECT 'restricted_bidder', x.project, x.section, x.name, x.code, '2', x.bid_date,
                       '投标人在投标日（' || x.bid_date || '）处于失信限制期内：' || r.source || ' ' || r.source_key
                       || coalesce('（' || r.basis_document || '）', '') || '；标段 ' || x.section
                       || ' / bidder restricted on the bid date by entry ' || r.source_key || ' in section ' || x.section,
                       r.id, jsonb_build_object('bid_date', x.bid_date, 'entry', r.source_key, 'source', r.source,
                           'active_from', r.active_from, 'active_until', r.active_until)
                FROM ({base}) x JOIN core.restriction r ON {_restricted_on('x.code', 'x.bid_date')}
                WHERE x.bid_date IS NOT NULL"""))
            # IS_LOST says 1 while no list restricts the bidder that day, or 0 while one does.
            inserts.append(("is_lost_mismatch", f"""
                SELECT 'is_lost_mismatch', x.project, x.section, x.name, x.code, '3', x.bid_date,
                       'IS_LOST=' || x.is_lost || ' 与失信名单不一致（名单' || CASE WHEN hit.id IS NULL THEN '无' ELSE '有' END
                       || '限制：' || coalesce(hit.source_key, '-') || '）/ IS_LOST disagrees with the lists',
                       hit.id, jsonb_build_object('is_lost', x.is_lost, 'bid_date', x.bid_date)
                FROM ({base}) x LEFT JOIN LATERAL (SELECT r.id, r.source_key FROM core.restriction r
                    WHERE {_restricted_on('x.code', 'x.bid_date')} ORDER BY r.id LIMIT 1) hit ON true
                WHERE x.bid_date IS NOT NULL AND x.is_lost IN ('0', '1')
                  AND (x.is_lost = '1') <> (hit.id IS NOT NULL)"""))
        if wins is None:
            results["restricted_winner"] = "not available"
        else:
            w = {n: column(layouts, wins, n) for n in ("bid_section_code", "win_bidder_code", "win_bidder_name", "notice_send_time")}
            day = _as_date_sql("w." + w["notice_send_time"]) if w["notice_send_time"] else "NULL"
            inserts.append(("restricted_winner", f"""
                SELECT 'restricted_winner', left(w.{w['bid_section_code']}, 20), w.{w['bid_section_code']},
                       {('w.' + w['win_bidder_name']) if w['win_bidder_name'] else 'NULL'}, w.{w['win_bidder_code']}, '1',
                       {day}, '中标人在中标公告日处于失信限制期内：' || r.source || ' ' || r.source_key || '；标段 '
                       || w.{w['bid_section_code']} || ' / winner restricted on the award notice date by entry '
                       || r.source_key, r.id, jsonb_build_object('notice_date', {day}, 'entry', r.source_key)
                FROM {wins} w JOIN core.restriction r ON {_restricted_on('w.' + w['win_bidder_code'], day)}
                WHERE {day} IS NOT NULL"""))
        if contracts is None:
            results["restricted_contractor"] = "not available"
        else:
            k = {n: column(layouts, contracts, n) for n in ("bid_section_code", "bidder_code", "bidder_name", "contract_sign_time")}
            day = _as_date_sql("k." + k["contract_sign_time"])
            inserts.append(("restricted_contractor", f"""
                SELECT 'restricted_contractor', left(k.{k['bid_section_code']}, 20), k.{k['bid_section_code']},
                       {('k.' + k['bidder_name']) if k['bidder_name'] else 'NULL'}, k.{k['bidder_code']}, '1', {day},
                       '合同签订日处于失信限制期内的中标人：' || r.source || ' ' || r.source_key || '；标段 '
                       || k.{k['bid_section_code']} || ' / contract signed during the winner''s restriction by entry '
                       || r.source_key, r.id, jsonb_build_object('sign_date', {day}, 'entry', r.source_key)
                FROM {contracts} k JOIN core.restriction r ON {_restricted_on('k.' + k['bidder_code'], day)}
                WHERE {day} IS NOT NULL"""))
        for alert_type, query in inserts:
            results[alert_type] = conn.execute(sa.text(
                "INSERT INTO core.alert (alert_type, tender_project_code, bid_section_code, body_name, body_code,"
                " alert_level, alert_date, alert_info, restriction_id, evidence, supervisor_unit_name, supervisory_node)"
                f" SELECT q.*, :unit, :node FROM ({query}) q ON CONFLICT DO NOTHING"
            ), {"unit": supervisor_unit_name, "node": _NODES[alert_type]}).rowcount  # fmt: skip
        results["total"] = conn.scalar(sa.text("SELECT count(*) FROM core.alert"))
    return results


_NODES = {"restricted_bidder": "投标", "is_lost_mismatch": "开标", "restricted_winner": "中标公示",
          "restricted_contractor": "合同签订"}  # fmt: skip


def alert_402(row: dict[str, Any]) -> dict[str, Any]:
    """An alert row as the 402 PROJECT_ALERTING_INFO record (spec field names, dates yyyyMMdd)."""
    return {
        "TENDER_PROJECT_CODE": row["tender_project_code"], "BID_SECTION_CODE": row["bid_section_code"],
        "BODY_NAME": row["body_name"], "BODY_CODE": row["body_code"], "SUPERVISOR_UNIT_NAME": row["supervisor_unit_name"],
        "SUPERVISORY_NODE": row["supervisory_node"], "ALERT_LEVEL": row["alert_level"],
        "ALERT_DATE": row["alert_date"].strftime("%Y%m%d"), "ALERT_INFO": row["alert_info"],
        "HANDLED": row["handled"], "HANDLE_RESULT": row["handle_result"],
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Figures and the demo


def credit_figures(engine: Engine, as_of: date | None = None) -> dict[str, int]:
    """credit.{active_restrictions, removals_processed, alerts} as of a day (default today)."""
    as_of = as_of or date.today()
    with engine.connect() as conn:
        return {
            "active_restrictions": conn.scalar(sa.text(
                "SELECT count(*) FROM core.restriction WHERE active_from <= :d AND (active_until IS NULL OR :d < active_until)"
            ), {"d": as_of}),
            "removals_processed": conn.scalar(sa.text("SELECT count(*) FROM core.restriction WHERE removed_on IS NOT NULL")),
            "alerts": conn.scalar(sa.text("SELECT count(*) FROM core.alert")),
        }  # fmt: skip


def run_all(api: CreditChinaApi, *, settings: Settings | None = None, engine: Engine | None = None) -> CreditReport:
    """Pull Credit China, merge the exchange blacklist when present, run the cross-checks."""
    settings = settings or get_settings()
    engine = engine or database.engine(settings)
    report = pull_credit_china(api, settings=settings, engine=engine)
    blacklist = ingest_exchange_blacklist(settings=settings, engine=engine)
    if blacklist is None:
        report.notes.append("exchange_blacklist: nothing to merge (no 302 table or no rows)")
    else:
        report.batches["exchange_blacklist"] = [blacklist]
    report.alerts = run_cross_checks(engine)
    return report


def demo_pull(settings: Settings, engine: Engine, *, seed: int = 0, overlap_usccs: tuple[str, ...] = ()) -> dict[str, Any]:
    """For `ggzy demo`: serve the Credit China stand-in, pull everything, cross-check; returns the figures.

    {"datasets": {dataset: {rows_in, rows_loaded, rows_quarantined, rows_duplicate}}, "credit": {active_restrictions,
    removals_processed, alerts}, "cross_checks": {...}, "conserved": bool}. Bidders of the exchange stand-in can be
    passed as overlap_usccs so the cross-checks find something.
    """
    from standins.credit_china import CreditChinaFeed, CreditChinaServer

    feed = CreditChinaFeed(seed, overlap_usccs=list(overlap_usccs))
    with CreditChinaServer(feed) as server:
        api = CreditChinaApi(server.base_url, server.app_key, server.app_secret)
        try:
            report = run_all(api, settings=settings, engine=engine)
        finally:
            api.close()
    datasets = report.figures()
    end_of_feed = (feed.start.toordinal() + feed.days)
    return {
        "datasets": datasets,
        "credit": credit_figures(engine, date.fromordinal(end_of_feed)),
        "cross_checks": report.alerts,
        "conserved": all(f["rows_in"] == f["rows_loaded"] + f["rows_quarantined"] + f["rows_duplicate"]
                         for f in datasets.values()),
        "notes": report.notes,
    }  # fmt: skip
