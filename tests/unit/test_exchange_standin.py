"""The exchange-centre stand-in's generator: deterministic, structurally sound except where faults are
planted, every planted ring really visible in the records, and streaming in bounded memory."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

import pytest

from ggzy.identifiers import id_number_ok, uscc_check_digit_ok, uscc_org_code_ok
from standins.exchange_centre import DATASETS, FAULT_KINDS, TradingYear

TS = re.compile(r"^\d{14}$")


@pytest.fixture(scope="module")
def year() -> TradingYear:
    """A small year (600 sections) with every ring mechanism and every fault kind planted."""
    return TradingYear(seed=11, sections=600)


@pytest.fixture(scope="module")
def data(year: TradingYear) -> dict[str, list[dict]]:
    """Every dataset of the small year, in served order."""
    return {code: list(year.records(code)) for code in DATASETS}


@pytest.fixture(scope="module")
def faults(year: TradingYear) -> list[dict]:
    return year.faults()


def _faulty(faults: list[dict], kind: str, dataset: str | None = None) -> set[tuple]:
    return {tuple(f["key"].values()) for f in faults if f["fault"] == kind and (dataset is None or f["dataset"] == dataset)}


def _by_section(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row["BID_SECTION_CODE"]].append(row)
    return grouped


def _amount(record: dict, field: str) -> float:
    value = float(Decimal(record[field].replace(",", "")))
    return value * 10_000 if record.get("PRICE_UNIT") == "1" else value


def test_same_seed_same_records_other_seed_other_records():
    first, again, other = TradingYear(seed=5, sections=80), TradingYear(seed=5, sections=80), TradingYear(6, 80)
    for code in ("500", "502", "507", "519", "9011", "513", "508"):
        assert list(first.records(code)) == list(again.records(code)), code
    assert list(first.records("507")) != list(other.records("507"))
    assert first.ground_truth() == again.ground_truth() and first.faults() == again.faults()
    assert first.ground_truth() != other.ground_truth()


def test_any_section_is_reproducible_alone():
    whole = TradingYear(seed=5, sections=80)
    for idx in range(80):
        whole.section_records(idx)  # generate every section first, in order
    fresh = TradingYear(seed=5, sections=80)
    for idx in (79, 3, 41):  # then single sections, out of order, in a fresh year
        assert fresh.section_records(idx) == whole.section_records(idx)


def test_a_dataset_is_the_same_whether_generated_alone_or_with_the_others():
    year = TradingYear(seed=5, sections=120)
    for idx in range(120):
        together = year.section_records(idx)
        for code, rows in together.items():
            assert year.section_records(idx, (code,)) == {code: rows}, (idx, code)


def test_records_are_ordered_unique_and_counted(year, data):
    for code, rows in data.items():
        spec = DATASETS[code]
        positions = [(r["DATA_TIMESTAMP"], spec.key_of(r)) for r in rows]
        assert positions == sorted(positions), f"{code} not in (DATA_TIMESTAMP, key) order"
        assert len({p[1] for p in positions}) == len(rows), f"{code} natural key not unique"
        assert len(rows) == year.count(code) == year.total(code), code
        assert all(set(r) == set(spec.fields) for r in rows), f"{code} fields differ from the spec"
        assert all(TS.match(r["DATA_TIMESTAMP"]) for r in rows)
        assert all(r["PLATFORM_CODE"] and r["PUB_SERVICE_PLAT_CODE"] for r in rows)
        assert rows, f"{code} is empty"
    assert 4000 < len(data["507"]) < 8000, "a few thousand bids for 600 sections"


def test_code_hierarchy_holds_except_planted_faults(data, faults):
    projects = {r["PROJECT_CODE"] for r in data["500"]}
    tender_projects = {r["TENDER_PROJECT_CODE"]: r for r in data["501"]}
    assert all(len(code) == 17 and re.match(r"^[A-Z]\d{16}$", code) for code in projects)
    for tp in data["501"]:
        assert len(tp["TENDER_PROJECT_CODE"]) == 20 and tp["TENDER_PROJECT_CODE"].startswith(tp["PROJECT_CODE"])
        assert tp["PROJECT_CODE"] in projects
    broken = _faulty(faults, "section_code_not_prefixed")
    assert broken, "the fault is planted"
    for section in data["502"]:
        code = section["BID_SECTION_CODE"]
        assert len(code) == 23 and section["TENDER_PROJECT_CODE"] in tender_projects
        assert code.startswith(section["TENDER_PROJECT_CODE"]) == ((code,) not in broken), code
    sections = {r["BID_SECTION_CODE"] for r in data["502"]}
    for code in ("507", "508", "510", "512", "513", "519", "9010", "9011", "402", "404"):
        assert {r["BID_SECTION_CODE"] for r in data[code]} <= sections, f"{code} child without a parent"


def test_event_order_holds_except_planted_faults(data, faults):
    opening = {}
    for notice in data["503"]:
        assert notice["NOTICE_SEND_TIME"] < notice["DOC_GET_END_TIME"] <= notice["BID_OPEN_TIME"]
        for code in notice["BID_SECTION_CODES"].split(","):
            opening[code] = notice["BID_OPEN_TIME"]
    early_results = _faulty(faults, "result_before_opening")
    early_contracts = _faulty(faults, "contract_before_result")
    assert early_results and early_contracts
    results = {r["BID_SECTION_CODE"]: r for r in data["513"]}
    for code, result in results.items():
        assert (result["NOTICE_SEND_TIME"] > opening[code]) == ((code,) not in early_results), code
    for contract in data["512"]:
        key = (contract["BID_SECTION_CODE"], contract["CONTRACT_NAME"])
        ordered = contract["CONTRACT_SIGN_TIME"] > results[key[0]]["NOTICE_SEND_TIME"]
        assert ordered == (key not in early_contracts), key
    for bid in data["9011"]:
        if TS.match(bid["MARGIN_RECEIVE_TIME"]):
            assert bid["MARGIN_RECEIVE_TIME"] < opening[bid["BID_SECTION_CODE"]]
    for doc in data["519"]:
        assert doc["TENDER_DOC_SUBMITTIME"] < opening[doc["BID_SECTION_CODE"]] <= doc["DATA_TIMESTAMP"]


def test_parents_arrive_first_except_planted_late_parents(data, faults):
    late = {f["key"][next(iter(f["key"]))] for f in faults if f["fault"] == "late_parent"}
    section_ts = {r["BID_SECTION_CODE"]: r["DATA_TIMESTAMP"] for r in data["502"]}
    tp_ts = {r["TENDER_PROJECT_CODE"]: r["DATA_TIMESTAMP"] for r in data["501"]}
    project_ts = {r["PROJECT_CODE"]: r["DATA_TIMESTAMP"] for r in data["500"]}
    late_sections = {code for code in late if code in section_ts}
    late_tps = {code for code in late if code in tp_ts}
    assert late_sections and late_tps
    for bid in data["507"]:
        code = bid["BID_SECTION_CODE"]
        assert (section_ts[code] <= bid["DATA_TIMESTAMP"]) == (code not in late_sections), code
    for section in data["502"]:
        code = section["TENDER_PROJECT_CODE"]
        assert (tp_ts[code] <= section["DATA_TIMESTAMP"]) == (code not in late_tps), code
    for tp in data["501"]:
        assert project_ts[tp["PROJECT_CODE"]] <= tp["DATA_TIMESTAMP"]


def test_identifiers_valid_except_planted_faults(data, faults):
    bad_codes = {key[1] for key in _faulty(faults, "bad_uscc_check_digit", "507")}
    assert bad_codes
    for bid in data["507"]:
        code = bid["BIDDER_ORG_CODE"]
        assert uscc_check_digit_ok(code) == (code not in bad_codes), code
        assert uscc_org_code_ok(code)
    for field_dataset, field in (("501", "TENDERER_CODE"), ("501", "TENDER_AGENCY_CODE"), ("501", "SUPERVISE_DEPT_CODE"),
                                 ("302", "BODY_CODE"), ("513", "WIN_BIDDER_CODE"), ("500", "PLATFORM_CODE")):
        for record in data[field_dataset]:
            if record[field] not in bad_codes:
                assert uscc_check_digit_ok(record[field]), (field_dataset, field, record[field])
    bad_ids = {key[1] for key in _faulty(faults, "bad_id_check_digit")}
    assert bad_ids
    for expert in data["508"]:
        assert id_number_ok(expert["ID_CARD"]) == (expert["ID_CARD"] not in bad_ids)
    assert all(id_number_ok(r["PROJECT_LEAD_ID"]) for r in data["513"] if r["PROJECT_LEAD_ID"])


def test_every_fault_kind_is_planted_and_visible(data, faults):
    kinds = {f["fault"] for f in faults}
    assert kinds == (set(FAULT_KINDS) - {"late_parent_section", "late_parent_tender_project"}) | {"late_parent"}
    index = {code: {DATASETS[code].key_of(r): r for r in rows} for code, rows in data.items()}
    for fault in faults:
        record = index[fault["dataset"]][tuple(fault["key"].values())]
        value = record[fault["field"]]
        if fault["fault"] == "price_unit_wan":
            assert value == "1"
        elif fault["fault"] == "malformed_time":
            assert value and not TS.match(value)
        elif fault["fault"] == "malformed_amount":
            assert "," in value
        elif fault["fault"] == "invalid_enum":
            assert value not in ("0", "1", "2", "3", "9")
    wan_bids = [r for r in data["507"] if r["PRICE_UNIT"] == "1" and r["BID_PRICE"]]
    assert wan_bids and all(float(r["BID_PRICE"].replace(",", "")) < 100_000 for r in wan_bids), "万元 amounts are small"


def test_prices_are_realistic_against_the_control_price(data):
    control = {r["BID_SECTION_CODE"]: _amount(r, "CONTRACT_RECKON_PRICE") for r in data["502"]}
    logs = [v for v in control.values()]
    assert 100_000 < statistics.median(logs) < 20_000_000
    ratios = []
    for bid in data["507"]:
        if bid["BID_PRICE"] and bid["BID_SECTION_CODE"].startswith(("E", "G")):
            ratios.append(_amount(bid, "BID_PRICE") / control[bid["BID_SECTION_CODE"]])
    assert all(0.5 < r <= 1.0 for r in ratios), "tender bids stay under the 控制价"
    assert 0.03 < 1 - statistics.median(ratios) < 0.15, "typical discount 3-15 %"
    assert 0.02 < statistics.pstdev(ratios) < 0.1, "realistic dispersion"
    land = [_amount(b, "BID_PRICE") / control[b["BID_SECTION_CODE"]] for b in data["507"] if b["BID_SECTION_CODE"][0] == "T"]
    assert land and all(r >= 1.0 for r in land), "land bids start at the reserve price"


def _fingerprint(doc: dict, fields: list[str]) -> tuple:
    if fields == ["VALUATION_XML.LOCK_SERIAL"]:
        return (re.search(r"<LOCK_SERIAL>(\d+)<", doc["VALUATION_XML"]).group(1),)
    return tuple(doc[f] for f in fields)


def _bids(data, code: str) -> dict[str, dict]:
    return {b["BIDDER_ORG_CODE"]: b for b in data["507"] if b["BID_SECTION_CODE"] == code}


def test_every_ring_mechanism_is_present_in_the_records(year, data):
    truth = year.ground_truth()
    mechanisms = {m for ring in truth for m in ring["mechanisms"]}
    assert {"shared_fingerprint", "shared_deposit_account", "rotating_winner", "patterned_prices",
            "shared_project_manager", "cover_bids"} <= mechanisms
    results = {r["BID_SECTION_CODE"]: r for r in data["513"]}
    docs, margins = _by_section(data["519"]), _by_section(data["9011"])
    for ring in truth:
        members = set(ring["members"])
        winners = [results[code]["WIN_BIDDER_CODE"] for code in ring["sections"]]
        assert winners == ring["winners"] and set(winners) <= members, ring["ring_id"]
        for code in ring["sections"]:
            bids = _bids(data, code)
            assert members <= set(bids), "every member bids in the ring's sections"
            prices = {m: _amount(bids[m], "BID_PRICE") for m in members}
            winner = results[code]["WIN_BIDDER_CODE"]
            assert all(prices[m] > prices[winner] for m in members - {winner}), "cover bids lose"
            ring_docs = [d for d in docs[code] if d["BIDDER_ORG_CODE"] in members]
            ring_margins = [m for m in margins.get(code, []) if m["BIDDER_ORG_CODE"] in members]
            if "shared_fingerprint" in ring["mechanisms"]:
                shared = [_fingerprint(d, ring["fingerprint_fields"]) for d in ring_docs]
                assert len(shared) - len(set(shared)) >= 1, (ring["ring_id"], code, "no shared fingerprint")
            if "shared_deposit_account" in ring["mechanisms"]:
                accounts = [m["MARGIN_ACCOUNT"] for m in ring_margins if m["MARGIN_ACCOUNT"]]
                assert len(accounts) - len(set(accounts)) >= 1, (ring["ring_id"], code, "no shared account")
            if "shared_project_manager" in ring["mechanisms"]:
                pms = [bids[m]["PM_CODE"] or bids[m]["BID_MANAGER"] for m in members]
                assert len(pms) - len(set(pms)) >= 1, (ring["ring_id"], code, "no shared manager")
            if "patterned_prices" in ring["mechanisms"]:
                ladder = sorted(prices.values())
                gaps = [b - a for a, b in zip(ladder, ladder[1:], strict=False)]
                ratios = [b / a for a, b in zip(ladder, ladder[1:], strict=False)]
                if ring["price_pattern"] == "arithmetic":
                    assert max(gaps) - min(gaps) <= 0.02 * statistics.mean(gaps)
                elif ring["price_pattern"] == "geometric":
                    assert max(ratios) - min(ratios) <= 0.02 * (statistics.mean(ratios) - 1)
                else:
                    assert (ladder[-1] - ladder[0]) / statistics.mean(ladder) < 0.005
        if "rotating_winner" in ring["mechanisms"]:
            assert len(set(winners)) >= min(len(members), len(winners)), "the win rotates through the ring"


def test_honest_sections_do_not_share_fingerprints_except_at_the_site(year, data):
    ring_sections = {code for ring in year.ground_truth() for code in ring["sections"]}
    site_macs = {t["MAC_ADDRESS"] for t in year.site_terminals()}
    for code, docs in _by_section(data["519"]).items():
        if code in ring_sections:
            continue
        macs = [d["MAC_ADDRESS"] for d in docs if d["MAC_ADDRESS"] not in site_macs]
        md5s = [d["BID_DOCUMENT_MD5"] for d in docs]
        assert len(macs) == len(set(macs)) and len(md5s) == len(set(md5s)), code


def test_clock_hides_later_records_and_advance_reveals_them():
    year = TradingYear(seed=2, sections=60, clock="20250601000000")
    early = list(year.records("507"))
    assert early and all(r["DATA_TIMESTAMP"] <= "20250601000000" for r in early)
    year.advance(45)
    assert year.clock == "20250716000000"
    later = list(year.records("507"))
    assert later[: len(early)] == early and len(later) > len(early) == year.count("507") - (len(later) - len(early))


def test_for_bids_sizes_the_year():
    year = TradingYear.for_bids(20_000, seed=3)
    assert 15_000 < year.total("507") < 25_000


def _stream_peak_rss(sections: int) -> tuple[int, int]:
    """(bids streamed, growth of peak RSS in bytes while streaming them), measured in a fresh interpreter."""
    code = (
        "import resource, sys\n"
        "from standins.exchange_centre import TradingYear\n"
        f"year = TradingYear(seed=4, sections={sections})\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "count = sum(1 for _ in year.records('507'))\n"
        "print(count, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    count, growth = out.stdout.split()
    return int(count), int(growth)


def test_streaming_keeps_memory_bounded():
    """Iterating bids holds a few sections at a time: memory does not grow with the number of bids."""
    small_count, small = _stream_peak_rss(1000)  # ~9k bids
    large_count, large = _stream_peak_rss(5500)  # ~50k bids
    assert large_count > 45_000 and large_count > 5 * small_count
    assert large < 40 * 2**20, f"RSS grew {large / 2**20:.1f} MiB while streaming {large_count} bids"
    assert large < small + 24 * 2**20, (small, large)


def test_cli_truth_and_write_files(tmp_path):
    from typer.testing import CliRunner

    from ggzy.cli import app
    from standins.exchange_centre import read_file

    runner = CliRunner()
    truth = runner.invoke(app, ["standins", "exchange", "truth", "--seed", "3", "--sections", "120", "--faults"])
    assert truth.exit_code == 0, truth.output
    payload = json.loads(truth.output)
    year = TradingYear(seed=3, sections=120)
    assert payload == {"rings": year.ground_truth(), "faults": year.faults()}
    written = runner.invoke(app, ["standins", "exchange", "write-files", str(tmp_path), "--format", "csv",
                                  "--sections", "120", "--seed", "3", "--datasets", "507"])  # fmt: skip
    assert written.exit_code == 0, written.output
    files = sorted(tmp_path.glob("TENDER_LIST_*.csv"))
    assert [r for f in files for r in read_file(f)] == list(year.records("507"))
    bad = runner.invoke(app, ["standins", "exchange", "write-files", str(tmp_path), "--format", "xlsx"])
    assert bad.exit_code != 0
