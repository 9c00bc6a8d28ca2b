"""Trading connectors without the warehouse: file formats, keyset paging, API paging and resume, rule catalogue."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from connectors.base import CONNECTORS, PullConnector
from connectors.trading import (
    TRADING_DATASETS,
    ExchangeApiConnector,
    ExchangeDatabaseConnector,
    ExchangeFileConnector,
)
from ggzy.errors import HubError
from quality.trading_rules import CoreColumn, CoreTable, trading_rules

BID = {
    "BID_SECTION_CODE": "E4108000000000001001001",
    "BIDDER_ORG_CODE": "91410800MA1MDYP361",
    "BID_PRICE": "4800000.00",
    "PRICE_UNIT": "0",
    "DATA_TIMESTAMP": "20250201093000",
    "OTHER_BID_PRICE": None,
}


def test_registry_agrees_with_the_stand_in_contract() -> None:
    """Codes, tables, natural keys and parents are those of the national spec as the stand-in serves it."""
    from standins.exchange_centre import DATASETS

    assert set(TRADING_DATASETS) == set(DATASETS)
    for code, ds in TRADING_DATASETS.items():
        assert (ds.table, ds.key, ds.parent) == (
            DATASETS[code].table,
            DATASETS[code].key,
            DATASETS[code].parent,
        )
    order = list(TRADING_DATASETS)
    assert all(
        order.index(ds.parent[0]) < order.index(code) for code, ds in TRADING_DATASETS.items() if ds.parent
    )
    assert not any(issubclass(c, PullConnector) for c in CONNECTORS.values())  # multi-dataset: not registered


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("TENDER_LIST_20250201.json", json.dumps([BID], ensure_ascii=False).encode()),
        ("TENDER_LIST_20250201.json", json.dumps({"records": [BID]}).encode()),
        (
            "TENDER_LIST_20250201.xml",
            (
                "<DATA><TENDER_LIST>"
                + "".join(f"<{k}>{v}</{k}>" for k, v in BID.items() if v)
                + "</TENDER_LIST></DATA>"
            ).encode(),
        ),
        (
            "TENDER_LIST_20250201.csv",
            (",".join(BID) + "\n" + ",".join(v or "" for v in BID.values()) + "\n").encode(),
        ),
        (
            "tender_list_20250201.csv",
            (",".join(BID) + "\n" + ",".join(v or "" for v in BID.values())).encode("gbk"),
        ),
    ],
)
def test_file_formats_read_to_the_same_record(name: str, data: bytes) -> None:
    """JSON (list or wrapped), XML and CSV (UTF-8 or GBK) give the same record; empty = missing."""
    code, _, records = ExchangeFileConnector().read(data, name)
    assert code == "507"
    assert [{k: v for k, v in r.items() if v is not None} for r in records] == [
        {k: v for k, v in BID.items() if v is not None}
    ]
    parsed = ExchangeFileConnector().parse(data, name)
    assert parsed.rows == 1 and parsed.canonical.column("source_row").to_pylist() == [1]


@pytest.mark.parametrize(
    ("name", "data"),
    [("BIDS_20250201.json", b"[]"), ("notes.json", b"[]"), ("TENDER_LIST_20250201.xlsx", b"PK\x03\x04")],
)
def test_unknown_file_names_are_refused_in_both_languages(name: str, data: bytes) -> None:
    """A file that does not name a spec table (or a format it reads) is unreadable, with a bilingual reason."""
    with pytest.raises(HubError) as refused:
        ExchangeFileConnector().read(data, name)
    assert refused.value.code == "unreadable_file" and name in str(refused.value.to_dict())


def test_malformed_json_is_unreadable() -> None:
    """Broken JSON names the file and the format."""
    with pytest.raises(HubError) as refused:
        ExchangeFileConnector().read(b"[{", "SECTION_20250101.json")
    assert "json" in refused.value.to_dict()["message"]["en"]


def _centre_db(tmp_path, rows: int) -> str:
    """A SQLite 'centre database' with a TENDER_LIST table (several rows share each DATA_TIMESTAMP)."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    engine = sa.create_engine(url)
    table = sa.Table("TENDER_LIST", sa.MetaData(), *(sa.Column(k, sa.String) for k in BID))
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {**BID, "BIDDER_ORG_CODE": f"ORG{i:05d}", "DATA_TIMESTAMP": f"202502010930{i // 7:02d}"}
                for i in range(rows)
            ],
        )
    engine.dispose()
    return url


def test_database_keyset_pages_resume_without_gap_or_duplicate(tmp_path) -> None:
    """Pages follow (DATA_TIMESTAMP, key); resuming from any page's position continues exactly after it."""
    url = _centre_db(tmp_path, 53)
    connector = ExchangeDatabaseConnector(url, page_size=10)
    assert connector.datasets() == ["507"]
    pages = list(connector.pages("507", None, None))
    keys = [r["BIDDER_ORG_CODE"] for p in pages for r in p.records]
    assert keys == sorted(keys) and len(keys) == len(set(keys)) == 53
    assert pages[-1].position is None and all(p.position for p in pages[:-1])
    resumed = [
        r["BIDDER_ORG_CODE"] for p in connector.pages("507", None, pages[2].position) for r in p.records
    ]
    assert resumed == keys[30:]
    newer = [r for p in connector.pages("507", pages[1].watermark, None) for r in p.records]
    assert all(r["DATA_TIMESTAMP"] > pages[1].watermark for r in newer) and newer
    connector.close()


def test_api_pages_resume_from_the_stored_cursor_and_survive_a_dropped_connection() -> None:
    """Against the stand-in: pages carry cursors; a dropped response raises source_unavailable; resume is exact."""
    from standins.exchange_centre import ExchangeCentreServer, TradingYear

    year = TradingYear(seed=2, sections=15)
    with ExchangeCentreServer(year, api_key="k") as server:
        connector = ExchangeApiConnector(server.base_url, "k", page_size=40)
        assert "507" in connector.datasets()
        pages = list(connector.pages("507", None, None))
        everything = [r["BIDDER_ORG_CODE"] + r["BID_SECTION_CODE"] for p in pages for r in p.records]
        assert len(everything) == year.count("507") == len(set(everything))
        server.fail_after(50)
        got, position = [], None
        with pytest.raises(HubError) as dropped:
            for page in connector.pages("507", None, None):
                got += page.records
                position = page.position
        assert dropped.value.code == "source_unavailable" and len(got) == 40
        got += [r for p in connector.pages("507", None, position) for r in p.records]
        assert [r["BIDDER_ORG_CODE"] + r["BID_SECTION_CODE"] for r in got] == everything
        connector.close()
        with pytest.raises(HubError):
            list(ExchangeApiConnector(server.base_url, "wrong-key").pages("507", None, None))


def test_rule_catalogue_for_bids() -> None:
    """Rules derive from the documented core layout: key fields, lengths, hierarchy, enums, amounts, entities."""
    table = CoreTable(
        "507",
        "bid",
        (
            CoreColumn("tender_project_code", "TENDER_PROJECT_CODE", "", "text"),
            CoreColumn("bid_section_code", "BID_SECTION_CODE", "", "text"),
            CoreColumn("bidder_code", "BIDDER_ORG_CODE", "", "text"),
            CoreColumn("bidder_entity_id", "BIDDER_ORG_CODE", "market entity", "bigint"),
            CoreColumn("bid_price_yuan", "BID_PRICE", "", "numeric"),
            CoreColumn("price_unit_received", "PRICE_UNIT", "", "text"),
            CoreColumn("is_dishonest", "IS_LOST", "", "boolean"),
            CoreColumn("margin_receive_time", "MARGIN_RECEIVE_TIME", "", "timestamp without time zone"),
            CoreColumn("data_timestamp", "DATA_TIMESTAMP", "", "timestamp without time zone"),
        ),
        ("bid_section_code", "bidder_code"),
    )
    rules = {r.name: r for r in trading_rules(table, ("BID_SECTION_CODE", "BIDDER_ORG_CODE"))}
    assert {
        "required:BID_SECTION_CODE",
        "required:BIDDER_ORG_CODE",
        "required:DATA_TIMESTAMP",
        "code_length:BID_SECTION_CODE",
        "code_length:TENDER_PROJECT_CODE",
        "code_hierarchy:BID_SECTION_CODE",
        "amount:BID_PRICE",
        "enumeration:PRICE_UNIT",
        "enumeration:IS_LOST",
        "time_format:MARGIN_RECEIVE_TIME",
        "entity_code_format:BIDDER_ORG_CODE",
        "uscc_check_digit:BIDDER_ORG_CODE",
    } <= set(rules)
    assert rules["uscc_check_digit:BIDDER_ORG_CODE"].severity == "warning"
    zh, en = rules["amount:BID_PRICE"].render("bid", "E41/91X", "1,234.5", {})
    assert all(s in zh and s in en for s in ("507", "E41/91X", "BID_PRICE", "1,234.5", "amount:BID_PRICE"))
