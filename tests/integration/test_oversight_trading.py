"""The oversight library over trading data (migration 0006_library_trading) through the live API: a small
stand-in year pulled from the exchange-centre stand-in, then entity profiles, the section dossier, free SQL,
member-unit scope of routed alerts and masked complainants, checked against the core tables themselves."""

from __future__ import annotations

import io
import json

import httpx
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import test_api
from test_api import CASE, DISCIPLINE, HOUSING, WATER, assert_error, bearer, last_event

from ggzy.identifiers import USCC_RE
from ggzy.pipelines.trading import pull_api
from standins.exchange_centre import ExchangeCentreServer, TradingYear

client, tokens = test_api.client, test_api.tokens  # the live-server client and one token per kind of caller
KEY = "test-key"
ORACLE = {"X-Case-Ref": "JZJ-2026-021", "X-Purpose": CASE["X-Purpose"]}
NEW_VIEWS = {"sections", "tender_projects", "announcements", "bids", "experts", "candidates", "wins", "contracts",
             "fingerprints", "deposits", "restrictions", "alerts", "exchange_alerts", "co_bidders", "complaints",
             "section_scores", "entity_scores", "watchlist"}  # fmt: skip


def oversight(tokens: dict[str, str]) -> dict[str, str]:
    """Headers of the discipline officer with case and purpose."""
    return bearer(tokens["oversight"], **ORACLE)


@pytest.fixture
def trading(hub, db: sa.Engine) -> dict:
    """A stand-in year of 12 sections pulled over HTTP, member units, and two alerts routed to two units.

    Returns the winner of a section who also bid elsewhere (the profiled entity) and that section."""
    with ExchangeCentreServer(TradingYear(seed=3, sections=12), api_key=KEY) as server:
        reports = pull_api(hub, server.base_url, KEY, page_size=500)
    assert reports["trading_507"]["rows_loaded"] > 0, reports
    with db.begin() as conn:
        for code, name in ((HOUSING, "住建局"), (WATER, "水利局"), (DISCIPLINE, "纪委监委")):
            conn.execute(sa.text("INSERT INTO delivery.member_unit (code, name, role, mode, secret)"
                                 " VALUES (:c, :n, 'supervising_department', 'pull', 'whsec_secret')"),
                         {"c": code, "n": name})  # fmt: skip
        candidates = conn.execute(sa.text(
            "SELECT w.win_bidder_code AS uscc, w.bid_section_code AS section FROM core.win_result w"
            " JOIN core.bid b ON b.bid_section_code = w.bid_section_code AND b.bidder_code = w.win_bidder_code"
            " JOIN core.bid_deposit d ON d.bid_section_code = w.bid_section_code"
            " WHERE (SELECT count(*) FROM core.bid o WHERE o.bid_section_code = w.bid_section_code) > 1"
            " ORDER BY w.bid_section_code"
        )).all()  # fmt: skip
        uscc, section = next((u, s) for u, s in candidates if u and USCC_RE.match(u))
        for unit, kind in ((HOUSING, "bid_rigging"), (WATER, "restricted_winner")):
            conn.execute(sa.text(
                "INSERT INTO core.alert (alert_type, bid_section_code, body_code, body_name, alert_level, alert_date,"
                " alert_info, legal_basis, routed_unit_code)"
                " VALUES (:kind, :s, :u, 'X', '1', current_date, :info, ARRAY['条例第四十条'], :unit)"
            ), {"kind": kind, "s": section, "u": uscc, "info": f"报警 routed to {unit}", "unit": unit})  # fmt: skip
    return {"uscc": uscc, "section": section}


def core_rows(db: sa.Engine, sql: str, **params) -> list:
    """Rows of an owner query (the ground truth the API answers are compared with)."""
    with db.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_entity_profile_of_a_bidder_has_bids_wins_and_co_bidders(
    client: httpx.Client, db: sa.Engine, trading, tokens
) -> None:
    uscc = trading["uscc"]
    response = client.get(f"/v1/entities/{uscc}", headers=oversight(tokens))
    assert response.status_code == 200, response.text
    sections = response.json()["sections"]
    expected_bids = {r.bid_section_code for r in core_rows(db, "SELECT bid_section_code FROM core.bid"
                                                               " WHERE bidder_code = :u", u=uscc)}  # fmt: skip
    assert (
        sections["bids"]["available"]
        and {b["bid_section_code"] for b in sections["bids"]["items"]} == expected_bids
    )
    assert all(b["bidder_uscc"] == uscc for b in sections["bids"]["items"])
    assert trading["section"] in {w["bid_section_code"] for w in sections["wins"]["items"]}
    expected_co = {r.bidder_code for r in core_rows(
        db, "SELECT DISTINCT o.bidder_code FROM core.bid b JOIN core.bid o ON o.bid_section_code = b.bid_section_code"
            " WHERE b.bidder_code = :u AND o.bidder_code <> :u", u=uscc)}  # fmt: skip
    co = sections["co_bidders"]["items"]
    assert expected_co and {c["co_bidder_uscc"] for c in co} == expected_co
    assert all(c["entity_uscc"] == uscc and c["sections_together"] == len(c["bid_section_codes"]) for c in co)
    assert [a["routed_unit_code"] for a in sections["alerts"]["items"]].count(HOUSING) == 1
    assert sections["restrictions"]["available"] is True
    assert response.json()["names"], "the bidder's name comes from its bids"
    # A member unit sees the shared trading sections but only the alert routed to it.
    housing = client.get(f"/v1/entities/{uscc}", headers=bearer(tokens["member"])).json()["sections"]
    assert len(housing["bids"]["items"]) == len(sections["bids"]["items"])
    assert [a["routed_unit_code"] for a in housing["alerts"]["items"]] == [HOUSING]


def test_section_dossier_returns_everything_about_one_section_audited(
    client: httpx.Client, db: sa.Engine, trading, tokens
) -> None:
    code = trading["section"]
    response = client.get(f"/v1/sections/{code}", headers=oversight(tokens))
    assert response.status_code == 200, response.text
    dossier = response.json()
    bids = core_rows(db, "SELECT bidder_code, bidder_name, bid_price_yuan FROM core.bid WHERE bid_section_code = :s",
                     s=code)  # fmt: skip
    parts = dossier["parts"]
    assert dossier["section"]["bid_section_code"] == code and dossier["section"]["bids_received"] == len(bids)
    assert dossier["tender_project"]["tender_project_code"] == dossier["section"]["tender_project_code"]
    got = {(b["bidder_uscc"], b["bidder_name"]) for b in parts["bids"]["items"]}
    assert got == {(b.bidder_code, b.bidder_name) for b in bids}
    winners = [b for b in parts["bids"]["items"] if b["won"]]
    assert [w["bidder_uscc"] for w in winners] == [trading["uscc"]]
    assert [r["winner_uscc"] for r in parts["result"]["items"]] == [trading["uscc"]]
    assert parts["deposits"]["items"] and all(
        d["margin_account_masked"] is None or "*" in d["margin_account_masked"]
        for d in parts["deposits"]["items"]
    )
    experts = core_rows(
        db, "SELECT expert_id_masked FROM core.evaluation_expert WHERE bid_section_code = :s", s=code
    )
    assert len(parts["experts"]["items"]) == len(experts)
    assert all(
        e["expert_id_masked"] is None or "*" in e["expert_id_masked"] for e in parts["experts"]["items"]
    )
    assert {a["routed_unit_code"] for a in parts["alerts"]["items"]} == {HOUSING, WATER}
    for name in ("announcements", "fingerprints", "candidates", "contracts", "complaints", "scores"):
        assert parts[name]["available"] is True, name
    event = last_event(db)
    assert event["action"] == "GET /v1/sections/{bid_section_code}"
    assert json.loads(event["params"]) == {"bid_section_code": code} and event["case_ref"] == "JZJ-2026-021"
    assert event["row_count"] == 1 + sum(len(p["items"]) for p in parts.values())
    # Scope: a member unit gets the shared parts, not the investigative ones, and only its own alert.
    housing = client.get(f"/v1/sections/{code}", headers=bearer(tokens["member"])).json()["parts"]
    assert len(housing["bids"]["items"]) == len(bids)
    assert housing["fingerprints"]["items"] == [] and housing["deposits"]["items"] == []
    assert [a["routed_unit_code"] for a in housing["alerts"]["items"]] == [HOUSING]
    # Oversight needs case and purpose; an unknown section is a clear 404.
    assert_error(
        client.get(f"/v1/sections/{code}", headers=bearer(tokens["oversight"])), 400, "case_context_required"
    )
    assert_error(
        client.get("/v1/sections/NO-SUCH-SECTION", headers=oversight(tokens)), 404, "section_not_found"
    )
    spec = client.get("/openapi.json").json()
    assert (
        "/v1/sections/{bid_section_code}" in spec["paths"]
        and "SectionDossier" in spec["components"]["schemas"]
    )


def test_sql_reads_trading_views_and_member_units_cannot_read_alerts_routed_elsewhere(
    client: httpx.Client, db: sa.Engine, trading, tokens
) -> None:
    def sql(text: str, headers: dict[str, str]) -> httpx.Response:
        return client.post("/v1/sql", json={"sql": text}, headers=headers)

    bids = core_rows(db, "SELECT count(*) FROM core.bid")[0][0]
    response = sql("SELECT count(*), count(DISTINCT bid_section_code) FROM bids", oversight(tokens))
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [
        [bids, core_rows(db, "SELECT count(DISTINCT bid_section_code) FROM core.bid")[0][0]]
    ]
    everyone = sql("SELECT routed_unit_code FROM alerts ORDER BY 1", oversight(tokens)).json()["rows"]
    assert sorted(everyone) == sorted([[HOUSING], [WATER]])
    for token, unit in (("member", HOUSING), ("member_water", WATER)):
        headers = bearer(tokens[token])
        assert sql("SELECT routed_unit_code FROM alerts", headers).json()["rows"] == [[unit]]
        assert sql("SELECT count(*) FROM bids", headers).json()["rows"] == [[bids]]  # trading data is shared
        assert sql("SELECT count(*) FROM fingerprints", headers).json()["rows"] == [[0]]  # investigative only
    assert sql("SELECT count(*) FROM alerts", bearer(tokens["member_discipline"])).json()["rows"] == [[0]]
    rows = client.get("/v1/library/views/alerts/rows", headers=bearer(tokens["member"])).json()["items"]
    assert [r["routed_unit_code"] for r in rows] == [HOUSING]
    assert_error(sql("SELECT count(*) FROM core.alert", bearer(tokens["member"])), 403, "sql_object_refused")
    # Whole views export as Parquet with their types (numeric yuan, arrays, jsonb) and the audited row count.
    for view, expected in (("bids", bids), ("co_bidders", None), ("alerts", 2)):
        export = client.get(f"/v1/library/views/{view}/export", headers=oversight(tokens))
        assert export.status_code == 200, export.text
        table = pq.read_table(io.BytesIO(export.content))
        assert table.num_rows == int(export.headers["x-row-count"]) == (expected or table.num_rows) > 0, view


def test_complainants_are_masked_and_catalogue_documents_the_new_views(
    client: httpx.Client, db: sa.Engine, trading, tokens
) -> None:
    raw = core_rows(db, "SELECT id, complainant_name, complainant_phone, complainant_mail FROM core.complaint"
                        " ORDER BY id")  # fmt: skip
    assert raw, "the stand-in year holds complaints"
    response = client.post("/v1/sql", json={"sql": "SELECT * FROM complaints ORDER BY complaint_id"},
                           headers=oversight(tokens))  # fmt: skip
    assert response.status_code == 200, response.text
    names = [c["name"] for c in response.json()["columns"]]
    masked = [dict(zip(names, row, strict=True)) for row in response.json()["rows"]]
    assert [m["complaint_id"] for m in masked] == [r.id for r in raw]
    for row, m in zip(raw, masked, strict=True):
        for field in ("name", "phone", "mail"):
            secret, shown = getattr(row, f"complainant_{field}"), m[f"complainant_{field}_masked"]
            assert shown == (secret if not secret else secret[0] + "**")
            if secret and len(secret) > 1:
                assert secret not in response.text
    assert not {"complainant_name", "complainant_phone", "complainant_mail"} & set(names)

    catalogue = client.get("/v1/library/views", headers=oversight(tokens))
    assert catalogue.status_code == 200, catalogue.text
    views = {v["name"]: v for v in catalogue.json()["views"]}
    assert NEW_VIEWS <= set(views)
    for name in NEW_VIEWS:
        for text in [views[name]["comment"], *(c["comment"] for c in views[name]["columns"])]:
            assert text and any("\u4e00" <= ch <= "\u9fff" for ch in text), (name, text)
            assert any(ch.isascii() and ch.isalpha() for ch in text), (name, text)
    columns = {c["name"] for view in NEW_VIEWS for c in views[view]["columns"]}
    assert not {c for c in columns if c.endswith("_hash")}, "keyed hashes never reach the library"
    assert {c["name"] for c in views["bids"]["columns"]} >= {
        "bidder_uscc",
        "bid_price_yuan",
        "bid_section_code",
    }
    assert {c["name"] for c in views["wins"]["columns"]} >= {"winner_uscc", "bid_amount_yuan"}
