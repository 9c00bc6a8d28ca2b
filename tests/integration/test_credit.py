"""Credit restrictions end to end: the Credit China stand-in over HTTP, the pipeline, as-of answers, removal
propagation to member units, row conservation, quarantine, and 402 alerts from trading data.

The stand-in's KNOWN_HISTORY gives the expected answers: a 严重失信主体 listed 2025-03-01 (known 03-02),
its listing date corrected to 2025-02-20 (known 04-10), removed from 2025-06-15 (known that day).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.credit_china import CreditChinaApi
from ggzy.pipelines import credit
from standins.credit_china import (
    KNOWN_HISTORY,
    KNOWN_PENALTY_USCC,
    KNOWN_USCC,
    CreditChinaFeed,
    CreditChinaServer,
)

CN = ZoneInfo("Asia/Shanghai")
SERIOUS = KNOWN_HISTORY["serious_dishonesty"]


def at(text: str) -> datetime:
    """A China-time moment from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=CN)


@pytest.fixture
def channel():
    """The Credit China stand-in (full year visible) and a signed API client for it."""
    with CreditChinaServer(CreditChinaFeed(seed=0)) as server:
        api = CreditChinaApi(server.base_url, server.app_key, server.app_secret, page_size=25)
        yield server, api
        api.close()


def rows(engine: sa.Engine, sql: str, **params) -> list[dict]:
    """Rows of a query as dicts."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def keys(entries: list[dict]) -> set[str]:
    """source_key of each entry."""
    return {e["source_key"] for e in entries}


def test_as_of_answers_across_inclusion_correction_and_removal(hub, db, channel):
    """Current knowledge and 'as known on' answers follow the scripted history exactly."""
    _, api = channel
    credit.pull_credit_china(api, settings=hub, engine=db)
    entry = SERIOUS["entry_id"]

    def check(day: str, known: str | None = None) -> dict:
        return credit.credit_check(db, KNOWN_USCC, date.fromisoformat(day), at(known) if known else None)

    # Before the corrected listing date nothing; from it on restricted (as known now).
    assert not check("2025-02-19")["restricted"]
    answer = check("2025-02-25")
    assert answer["restricted"] and keys(answer["restrictions"]) == {entry}
    # The hub did not know the earlier date before the correction arrived (2025-04-10).
    assert not check("2025-02-25", "2025-04-01 12:00")["restricted"]
    assert check("2025-03-05", "2025-04-01 12:00")["restricted"]
    # Nothing was known before the listing was published (2025-03-02 09:00).
    assert not check("2025-03-05", "2025-03-02 08:00")["restricted"]
    # The removal stops the flag from its date on; the day before stays restricted.
    assert check("2025-06-14")["restricted"]
    removed = check("2025-06-15")
    assert not removed["restricted"] and keys(removed["removed"]) == {entry}
    assert removed["removed"][0]["removal_document"] == SERIOUS["removal_doc_no"]
    # As known before the removal arrived, the entity was still restricted on 06-20.
    assert check("2025-06-20", "2025-06-01 00:00")["restricted"]
    versions = rows(
        db,
        "SELECT v.version, v.change_type, v.active_from, v.active_until, v.known_to IS NULL AS current"
        " FROM core.restriction_version v JOIN core.restriction r ON r.id = v.restriction_id"
        " WHERE r.source_key = :k ORDER BY v.version",
        k=entry,
    )
    assert [(v["change_type"], v["current"]) for v in versions] == [
        ("inclusion", False), ("correction", False), ("removal", True)
    ]
    assert versions[0]["active_from"] == date(2025, 3, 1) and versions[1]["active_from"] == date(2025, 2, 20)
    assert versions[2]["active_until"] == date(2025, 6, 15)

    # The CLI gives the same answer.
    from ggzy.cli import app

    result = CliRunner().invoke(app, ["credit", "check", KNOWN_USCC, "--as-of", "2025-06-01", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["restricted"] is True and keys(body["restrictions"]) == {entry}


def test_person_is_masked_and_penalty_restriction_has_an_end(hub, db, channel):
    """A natural person is answered with a masked number only; a 限制从业 penalty restricts until its end date."""
    _, api = channel
    credit.pull_credit_china(api, settings=hub, engine=db)
    debtor = KNOWN_HISTORY["dishonest_debtor"]
    person = rows(db, "SELECT entity_key, entity_id_masked FROM core.restriction WHERE source_key LIKE :k",
                  k=debtor["case_code"] + "%")  # fmt: skip
    assert len(person) == 1 and person[0]["entity_key"].startswith("P:")
    assert "*" in person[0]["entity_id_masked"]
    answer = credit.credit_check(db, person[0]["entity_key"], date(2025, 3, 1))
    assert answer["restricted"] and answer["entity"]["key"] is None and "*" in answer["entity"]["id_masked"]
    assert not credit.credit_check(db, person[0]["entity_key"], date(2025, 5, 20))["restricted"]

    penalty = KNOWN_HISTORY["penalty"]
    assert credit.credit_check(db, KNOWN_PENALTY_USCC, date(2025, 12, 31))["restricted"]
    after = credit.credit_check(db, KNOWN_PENALTY_USCC, date(2026, 1, 1))
    assert not after["restricted"] and keys(after["ended"]) == {f"{penalty['authority_code']}/{penalty['decision_no']}"}


def test_removal_reaches_member_units_and_stops_the_flag_from_its_date(hub, db):
    """An incremental pull brings the removal; every member unit is owed the updated record."""
    from ggzy.delivery.units import sync_units
    from ggzy.jurisdictions import load_profile

    units = sync_units(db, load_profile(), lambda unit: None)
    feed = CreditChinaFeed(seed=0, clock=datetime(2025, 6, 1))
    with CreditChinaServer(feed) as server:
        api = CreditChinaApi(server.base_url, server.app_key, server.app_secret)
        credit.pull_credit_china(api, settings=hub, engine=db)
        assert credit.credit_check(db, KNOWN_USCC, date(2025, 6, 20))["restricted"]  # removal not yet known
        feed.advance(30)
        second = credit.pull_credit_china(api, settings=hub, engine=db)
        api.close()
    assert second.batches["serious_dishonesty"][0].rows_in < feed.counts()["serious_dishonesty"]  # incremental
    events = rows(
        db,
        "SELECT e.id, e.event_type, e.document FROM delivery.event e JOIN core.restriction r ON r.id = e.record_id"
        " WHERE e.record_type = 'restriction' AND r.source_key = :k ORDER BY e.record_version",
        k=SERIOUS["entry_id"],
    )
    assert [e["event_type"] for e in events] == ["restriction.created", "restriction.updated", "restriction.removed"]
    removal = events[-1]
    assert removal["document"]["removed_on"] == SERIOUS["removed_on"]
    assert removal["document"]["id"] == events[0]["document"]["id"]  # an update of the record units hold
    owed = rows(db, "SELECT unit_code FROM delivery.outbox WHERE event_id = :e", e=removal["id"])
    assert {o["unit_code"] for o in owed} == {u["code"] for u in units}
    assert credit.credit_check(db, KNOWN_USCC, date(2025, 6, 14))["restricted"]
    assert not credit.credit_check(db, KNOWN_USCC, date(2025, 6, 15))["restricted"]
    assert credit.credit_check(db, KNOWN_USCC, date(2025, 6, 20), at("2025-06-10 00:00"))["restricted"]


def test_every_list_conserves_rows_and_quarantines_planted_faults_by_rule(hub, db, channel):
    """rows_in = loaded + quarantined + duplicate per batch; each planted fault is quarantined with its rule."""
    server, api = channel
    report = credit.pull_credit_china(api, settings=hub, engine=db)
    figures = report.figures()
    assert set(figures) == {"credit_dishonest_debtor", "credit_serious_dishonesty", "penalty_decision"}
    for dataset, f in figures.items():
        assert f["rows_in"] == f["rows_loaded"] + f["rows_quarantined"] + f["rows_duplicate"], dataset
        assert f["rows_loaded"] > 0, dataset
    assert figures["credit_dishonest_debtor"]["rows_in"] == server.feed.counts()["dishonest_debtor"]
    quarantined = rows(db, "SELECT dataset, natural_key, rules FROM quality.quarantine_row WHERE dataset LIKE 'credit_%'")
    found = {(q["dataset"].removeprefix("credit_"), rule) for q in quarantined for rule in q["rules"]}
    for fault in server.feed.faults():
        assert (fault.list, fault.rule) in found, fault
    assert sum(f["rows_quarantined"] for f in figures.values() if f) >= len(server.feed.faults())

    # Re-pulling from the watermark brings nothing new; the same bytes again are already processed.
    again = credit.pull_credit_china(api, settings=hub, engine=db)
    assert all(not batches for batches in again.batches.values())


def test_daily_files_load_like_the_api(hub, db, tmp_path):
    """The file exchange (JSON and CSV) loads the same entries as the API."""
    from standins.credit_china import write_files

    feed = CreditChinaFeed(seed=0)
    for path in write_files(tmp_path / "json", feed, "json"):
        if not path.name.startswith("penalty_"):
            assert credit.ingest_exchange_file(path, settings=hub, engine=db).conserved
    json_entries = rows(db, "SELECT source, source_key, version, content_hash FROM core.restriction ORDER BY 1, 2")
    assert credit.credit_check(db, KNOWN_USCC, date(2025, 6, 15))["removed"]
    for path in write_files(tmp_path / "csv", feed, "csv"):
        if not path.name.startswith("penalty_"):
            report = credit.ingest_exchange_file(path, settings=hub, engine=db)
            assert report.conserved and report.rows_loaded == 0  # same content: all duplicates
    assert rows(db, "SELECT source, source_key, version, content_hash FROM core.restriction ORDER BY 1, 2") == json_entries


# ---------------------------------------------------------------------------------------------------
# Cross-checks. TEST HELPER: until migration 0003_trading's tables are settled, the minimal trading rows the
# cross-checks read are seeded here in a separate schema `credit_test_exchange` (spec column names).

SEED_SCHEMA = "credit_test_exchange"


def seed_exchange_tables(engine: sa.Engine, bids: list[dict], blacklist: list[dict] = (), withdrawals: list[dict] = ()) -> None:
    """Create the minimal 503/507/513/512/302/303 tables the cross-checks read, with the given rows."""
    tables = {
        "tender_ann_qua_inquery_ann": ("TENDER_PROJECT_CODE", "BID_OPEN_TIME"),
        "tender_list": ("TENDER_PROJECT_CODE", "BID_SECTION_CODE", "BIDDER_NAME", "BIDDER_ORG_CODE", "IS_LOST"),
        "win_result_anno": ("BID_SECTION_CODE", "WIN_BIDDER_NAME", "WIN_BIDDER_CODE", "NOTICE_SEND_TIME"),
        "contract_performance": ("BID_SECTION_CODE", "BIDDER_NAME", "BIDDER_CODE", "CONTRACT_SIGN_TIME"),
        "black_list": ("BLACKLIST_CODE", "BODY_NAME", "BODY_CODE", "BODY_TYPE", "RECORD_REASON", "RECORD_DATE",
                       "GOVERNMENT", "DOCUMENT_CODE", "REVOCATION_STATUS", "CONFINED_ACTION", "DATA_TIMESTAMP"),
        "withdraw_black_list": ("BLACKLIST_CODE", "BODY_CODE", "REVOCATIONEASONS", "GOVERNMENT", "DOCUMENT_CODE",
                                "APPLICATION_DATE"),
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {SEED_SCHEMA}"))
        for name, cols in tables.items():
            conn.execute(sa.text(f"CREATE TABLE {SEED_SCHEMA}.{name} ({', '.join(f'{c} text' for c in cols)})"))
        for b in bids:
            conn.execute(sa.text(f"INSERT INTO {SEED_SCHEMA}.tender_ann_qua_inquery_ann VALUES (:p, :t)"),
                         {"p": b["section"][:20], "t": b["open"]})
            conn.execute(sa.text(f"INSERT INTO {SEED_SCHEMA}.tender_list VALUES (:p, :s, :n, :c, :l)"),
                         {"p": b["section"][:20], "s": b["section"], "n": b["name"], "c": b["code"], "l": b["is_lost"]})
            if b.get("won"):
                conn.execute(sa.text(f"INSERT INTO {SEED_SCHEMA}.win_result_anno VALUES (:s, :n, :c, :t)"),
                             {"s": b["section"], "n": b["name"], "c": b["code"], "t": b["won"]})
            if b.get("signed"):
                conn.execute(sa.text(f"INSERT INTO {SEED_SCHEMA}.contract_performance VALUES (:s, :n, :c, :t)"),
                             {"s": b["section"], "n": b["name"], "c": b["code"], "t": b["signed"]})
        for r in blacklist:
            conn.execute(sa.text(f"INSERT INTO {SEED_SCHEMA}.black_list VALUES (:code, :name, :body, '1', :reason,"
                                 " :date, :gov, :doc, '0', :action, :ts)"), r)
        for w in withdrawals:
            conn.execute(sa.text(f"INSERT INTO {SEED_SCHEMA}.withdraw_black_list VALUES (:code, :body, :reason, :gov,"
                                 " :doc, :date)"), w)  # fmt: skip


def test_restricted_bidder_produces_a_402_alert_naming_entry_and_section(hub, db):
    """A bid inside the restriction raises alerts; a bid after the removal does not; IS_LOST is compared."""
    from ggzy.identifiers import make_uscc

    listed = make_uscc("91", "410802", "MA7BLKL1")
    seed_exchange_tables(
        db,
        bids=[
            {"section": "I4108002025000100001001", "name": "失信投标人", "code": KNOWN_USCC, "is_lost": "0",
             "open": "20250410093000", "won": "20250420100000", "signed": "20250505"},
            {"section": "I4108002025000200001001", "name": "失信投标人", "code": KNOWN_USCC, "is_lost": "0",
             "open": "20250701093000"},
            {"section": "I4108002025000300001001", "name": "黑名单投标人", "code": listed, "is_lost": "1",
             "open": "20250301093000"},
        ],
        blacklist=[{"code": "BL-0001", "name": "黑名单投标人", "body": listed, "reason": "串通投标", "date": "20250115",
                    "gov": "焦作市公共资源交易中心", "doc": "焦交易〔2025〕3号", "action": "限制参与投标", "ts": "20250115120000"}],
        withdrawals=[{"code": "BL-0001", "body": listed, "reason": "期满", "gov": "焦作市公共资源交易中心",
                      "doc": "焦交易撤〔2025〕9号", "date": "20250401"}],
    )  # fmt: skip
    with CreditChinaServer(CreditChinaFeed(seed=0)) as server:
        api = CreditChinaApi(server.base_url, server.app_key, server.app_secret)
        credit.pull_credit_china(api, settings=hub, engine=db)
        api.close()
    blacklist = credit.ingest_exchange_blacklist(settings=hub, engine=db, schema=SEED_SCHEMA)
    assert blacklist is not None and blacklist.conserved and blacklist.rows_loaded == 1
    assert credit.credit_check(db, listed, date(2025, 3, 1))["restricted"]
    assert not credit.credit_check(db, listed, date(2025, 4, 1))["restricted"]  # withdrawn (303)

    result = credit.run_cross_checks(db, schema=SEED_SCHEMA)
    alerts = rows(db, "SELECT a.*, r.source_key FROM core.alert a LEFT JOIN core.restriction r ON r.id = a.restriction_id"
                      " ORDER BY alert_type, bid_section_code")  # fmt: skip
    by_type = {}
    for a in alerts:
        by_type.setdefault(a["alert_type"], []).append(a)
    bidder = by_type["restricted_bidder"]
    assert [(a["bid_section_code"], a["source_key"]) for a in bidder] == [
        ("I4108002025000100001001", SERIOUS["entry_id"]), ("I4108002025000300001001", "BL-0001")]
    assert SERIOUS["entry_id"] in bidder[0]["alert_info"] and "I4108002025000100001001" in bidder[0]["alert_info"]
    assert [a["bid_section_code"] for a in by_type["restricted_winner"]] == ["I4108002025000100001001"]
    assert [a["bid_section_code"] for a in by_type["restricted_contractor"]] == ["I4108002025000100001001"]
    # IS_LOST=0 while the lists restrict (section 1) disagrees; section 2 (after removal) and 3 (IS_LOST=1) agree.
    assert [a["bid_section_code"] for a in by_type["is_lost_mismatch"]] == ["I4108002025000100001001"]
    record = credit.alert_402(bidder[0])
    assert set(record) == {"TENDER_PROJECT_CODE", "BID_SECTION_CODE", "BODY_NAME", "BODY_CODE", "SUPERVISOR_UNIT_NAME",
                           "SUPERVISORY_NODE", "ALERT_LEVEL", "ALERT_DATE", "ALERT_INFO", "HANDLED", "HANDLE_RESULT"}
    assert record["ALERT_DATE"] == "20250410"
    # Idempotent: running again adds nothing.
    assert credit.run_cross_checks(db, schema=SEED_SCHEMA)["restricted_bidder"] == 0
    assert result["restricted_bidder"] == 2


def test_cross_checks_report_not_available_without_trading_tables(hub, db):
    """Without 507/513/512 tables the cross-checks say so instead of failing."""
    result = credit.run_cross_checks(db, schema="no_such_schema")
    assert result["restricted_bidder"] == "not available" and result["restricted_contractor"] == "not available"
    assert credit.ingest_exchange_blacklist(settings=hub, engine=db, schema="no_such_schema") is None


def credit_app(settings):
    """The hub API with the credit router mounted as api/app.py will mount it (prefix /v1, token required)."""
    from fastapi import Depends

    from api.app import create_app
    from api.deps import get_principal
    from api.routers import credit as credit_router

    app = create_app(settings, rate_per_second=None)
    app.include_router(credit_router.router, prefix="/v1", dependencies=[Depends(get_principal)])
    return app


def test_api_answers_as_of_with_audit_and_masking(hub, db, channel):
    """GET /v1/entities/{uscc}/credit answers like the CLI, is audited, and refuses bad input bilingually."""
    from fastapi.testclient import TestClient

    from ggzy import auth

    _, api = channel
    credit.pull_credit_china(api, settings=hub, engine=db)
    member, _ = auth.create_token(db, person="张三", org_code="JZ-ZJ", role="member")
    oversight, _ = auth.create_token(db, person="李四", org_code="JZ-JW", role="oversight")
    with TestClient(credit_app(hub)) as client:
        bearer = {"Authorization": f"Bearer {member}"}
        before = client.get(f"/v1/entities/{KNOWN_USCC}/credit", params={"as_of": "2025-06-14"}, headers=bearer)
        assert before.status_code == 200, before.text
        assert before.json()["restricted"] is True and before.headers["X-Audit-Seq"]
        after = client.get(f"/v1/entities/{KNOWN_USCC}/credit", params={"as_of": "2025-06-15"}, headers=bearer).json()
        assert after["restricted"] is False and [e["source_key"] for e in after["removed"]] == [SERIOUS["entry_id"]]
        known = client.get(f"/v1/entities/{KNOWN_USCC}/credit",
                           params={"as_of": "2025-02-25", "known_on": "2025-04-01T12:00:00+08:00"}, headers=bearer).json()
        assert known["restricted"] is False
        person = rows(db, "SELECT entity_key FROM core.restriction WHERE entity_kind = 'person' LIMIT 1")[0]["entity_key"]
        body = client.get(f"/v1/entities/{person}/credit", params={"as_of": "2025-12-31"}, headers=bearer).text
        assert person not in body.split('"key":')[1][:80] and "*" in body
        bad = client.get("/v1/entities/NOT-A-CODE/credit", headers=bearer)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_identifier" and bad.json()["message"]["zh"]
        refused = client.get(f"/v1/entities/{KNOWN_USCC}/credit", headers={"Authorization": f"Bearer {oversight}"})
        assert refused.status_code == 400 and refused.json()["error"] == "case_context_required"
        assert client.get(f"/v1/entities/{KNOWN_USCC}/credit").status_code == 401
    actions = rows(db, "SELECT action, row_count FROM audit.event WHERE action LIKE '%/credit' ORDER BY seq")
    assert len(actions) >= 6 and actions[0]["row_count"] >= 1


def test_cross_checks_read_the_trading_core_tables_of_0003(hub, db):
    """Against the exchange pipeline's own tables (migration 0003_trading): found by their spec comments."""
    import uuid

    with db.connect() as conn:
        if conn.scalar(sa.text("SELECT to_regclass('core.bid')")) is None:
            pytest.skip("migration 0003_trading is not in this tree: core.bid absent")
    batch = str(uuid.uuid4())
    section = "I4108002025000900001001"
    with db.begin() as conn:
        conn.execute(sa.text("INSERT INTO ops.batch (id, dataset, source, sha256, byte_size, raw_path)"
                             " VALUES (:b, 'test_trading', 'test', :b, 0, '-')"), {"b": batch})
        common = {"b": batch, "h": "x"}
        conn.execute(sa.text(
            "INSERT INTO core.tender_announcement (tender_project_code, notice_name, bid_open_time, content_hash,"
            " first_batch_id, last_batch_id) VALUES (:p, '公告', '2025-04-10 09:30', :h, :b, :b)"), {**common, "p": section[:20]})
        conn.execute(sa.text(
            "INSERT INTO core.bid (tender_project_code, bid_section_code, bidder_name, bidder_code, is_dishonest,"
            " content_hash, first_batch_id, last_batch_id) VALUES (:p, :s, '失信投标人', :c, false, :h, :b, :b)"),
            {**common, "p": section[:20], "s": section, "c": KNOWN_USCC})
        conn.execute(sa.text(
            "INSERT INTO core.win_result (bid_section_code, win_bidder_name, win_bidder_code, notice_send_time,"
            " content_hash, first_batch_id, last_batch_id) VALUES (:s, '失信投标人', :c, '2025-04-20 10:00', :h, :b, :b)"),
            {**common, "s": section, "c": KNOWN_USCC})
        conn.execute(sa.text(
            "INSERT INTO core.contract (bid_section_code, contract_name, bidder_name, bidder_code, contract_sign_time,"
            " content_hash, first_batch_id, last_batch_id) VALUES (:s, '施工合同', '失信投标人', :c, '2025-07-01', :h, :b, :b)"),
            {**common, "s": section, "c": KNOWN_USCC})
        conn.execute(sa.text(
            "INSERT INTO core.blacklist (blacklist_code, body_name, body_code, record_reason, record_date, government,"
            " document_code, data_timestamp, content_hash, first_batch_id, last_batch_id)"
            " VALUES ('BL-9', '黑名单主体', :c, '串通投标', '2025-01-15', '焦作市公共资源交易中心', '焦交易〔2025〕9号',"
            " '2025-01-15 12:00', :h, :b, :b)"), {**common, "c": KNOWN_PENALTY_USCC})  # fmt: skip
    with CreditChinaServer(CreditChinaFeed(seed=0)) as server:
        api = CreditChinaApi(server.base_url, server.app_key, server.app_secret)
        report = credit.run_all(api, settings=hub, engine=db)
        api.close()
    assert report.batches["exchange_blacklist"][0].rows_loaded == 1
    assert keys(credit.credit_check(db, KNOWN_PENALTY_USCC, date(2025, 2, 1))["restrictions"]) == {"BL-9"}
    alerts = {(a["alert_type"], a["bid_section_code"]) for a in rows(db, "SELECT * FROM core.alert")}
    # Bid (04-10) and award (04-20) fall inside the restriction; the contract (07-01) is after the removal.
    assert alerts == {("restricted_bidder", section), ("restricted_winner", section), ("is_lost_mismatch", section)}


def test_demo_pull_returns_the_figures_the_demo_summary_carries(hub, db):
    """demo_pull: per-list conservation figures and credit.{active_restrictions, removals_processed, alerts}."""
    figures = credit.demo_pull(hub, db)
    assert figures["conserved"] is True
    assert {"credit_dishonest_debtor", "credit_serious_dishonesty", "penalty_decision"} <= set(figures["datasets"])
    for f in figures["datasets"].values():
        assert set(f) == {"rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate"}
    assert figures["credit"]["active_restrictions"] > 0 and figures["credit"]["removals_processed"] > 0
    assert set(figures["credit"]) == {"active_restrictions", "removals_processed", "alerts"}


def test_a_corrected_penalty_that_no_longer_restricts_ends_its_restriction(hub, db):
    """A 限制从业 decision corrected to 罚款 only: its restriction is removed from the correction's day."""
    import json as _json

    from ggzy.pipelines.penalties import ingest_bytes

    record = {"CF_XDR_MC": "郑州某建设有限公司", "CF_XDR_LB": "法人及非法人组织", "CF_XDR_SHXYM": KNOWN_PENALTY_USCC,
              "CF_WSH": "郑建罚〔2025〕1号", "CF_WFXW": "违法分包", "CF_SY": "事实", "CF_YJ": "依据",
              "CF_CFLB": "罚款;限制从业", "CF_NR": "罚款1万元，限制从业", "CF_NR_FK": "1", "CF_JDRQ": "2025-03-01",
              "CF_YXQ": "2026-03-01", "CF_GSJZQ": "2026-03-01", "CF_CFJG": "郑州市住房和城乡建设局",
              "CF_CFJGDM": "11410100MB1234567Q", "CF_SJLY": "郑州市住房和城乡建设局", "CF_SJLYDM": "11410100MB1234567Q"}  # fmt: skip
    for categories in ("罚款;限制从业", "罚款"):
        body = _json.dumps([{**record, "CF_CFLB": categories}], ensure_ascii=False).encode()
        report = ingest_bytes(body, f"p-{len(categories)}.json", source="test", submitted_by=None, settings=hub, engine=db)
        assert report.status == "loaded", report.to_dict()
        credit.derive_penalty_restrictions(db, report.batch_id, hub)
    (entry,) = rows(db, "SELECT removed_on, version, removal_document FROM core.restriction WHERE source = 'penalty_decision'")
    assert entry["version"] == 2 and entry["removed_on"] is not None and entry["removal_document"] == "郑建罚〔2025〕1号"
