"""The department stand-in: deterministic, realistic files whose ground truth lines up with their rows."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from connectors.penalties import PENALTY_FIELDS, PenaltyFileConnector
from ggzy.identifiers import id_number_ok, uscc_check_digit_ok, uscc_format_ok
from standins.departments import (
    BROKEN_CASES,
    CASES,
    Department,
    broken_file,
    default_departments,
    demo_files,
    departments_from_profile,
    gbk_csv_file,
    good_file,
    large_csv,
    legacy_file,
    make_file,
    write_demo_drop,
)

# 行政处罚法 2021 art. 9 and the pre-2021 art. 8 list (data-standards §2): an independent oracle for the test.
CATEGORIES = {
    "警告", "通报批评", "罚款", "没收违法所得", "没收非法财物", "暂扣许可证件", "降低资质等级", "吊销许可证件",
    "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业", "行政拘留", "其他",
    "暂扣或者吊销许可证", "暂扣或者吊销执照",
}  # fmt: skip
REQUIRED = ("cf_xdr_mc", "cf_xdr_lb", "cf_wsh", "cf_wfxw", "cf_sy", "cf_yj", "cf_cflb", "cf_nr", "cf_jdrq", "cf_yxq",
            "cf_cfjg", "cf_cfjgdm", "cf_sjly", "cf_sjlydm")  # fmt: skip
LEGACY_NOT_REQUIRED = {
    "cf_yxq",
    "cf_sjly",
    "cf_sjlydm",
    "cf_xdr_lb",
    "cf_cfjgdm",
}  # the pipeline fills cf_cfjgdm
CONNECTOR = PenaltyFileConnector()


def parsed_rows(generated):
    """The generated file as the connector reads it: source_row -> canonical record."""
    parsed = CONNECTOR.parse(generated.data, generated.filename)
    return {row["source_row"]: row for row in parsed.canonical.to_pylist()}


def defects(row: dict, legacy: bool) -> set[str]:
    """What is wrong with a canonical row, judged independently of quality/ with ggzy.identifiers."""
    found = set()
    for name in REQUIRED:
        if row[name] is None and not (legacy and name in LEGACY_NOT_REQUIRED):
            found.add(f"required:{name}")
    code = row["cf_xdr_shxym"]
    if code and code != "00000000000000000X":
        if not uscc_format_ok(code):
            found.add("uscc_format:cf_xdr_shxym")
        elif not uscc_check_digit_ok(code):
            found.add("uscc_check_digit:cf_xdr_shxym")
    for name in ("cf_cfjgdm", "cf_sjlydm"):
        if row[name] and not uscc_check_digit_ok(row[name]):
            found.add(f"uscc_format:{name}")
    if row["cf_xdr_lb"] == "自然人" and not id_number_ok(row["cf_xdr_zjhm"]):
        found.add("id_number_required_for_person")
    if row["cf_fr_zjhm"] and not id_number_ok(row["cf_fr_zjhm"]):
        found.add("id_number_check_digit:cf_fr_zjhm")
    categories = re.split("[;；,、]", row["cf_cflb"] or "")
    if any(c not in CATEGORIES for c in categories if c):
        found.add("vocabulary:cf_cflb")
    if row["cf_jdrq"] and row["cf_yxq"] and row["cf_jdrq"] > row["cf_yxq"]:
        found.add("date_order:decision_after_validity")
    if row["cf_jdrq"] and row["cf_gsjzq"] and row["cf_gsjzq"] < row["cf_jdrq"]:
        found.add("date_order:publicity_before_decision")
    if row["cf_jdrq"] and date.fromisoformat(row["cf_jdrq"]) > date.today():
        found.add("date_future:cf_jdrq")
    for name in ("cf_nr_fk", "cf_nr_wfff"):
        if row[name] is not None and Decimal(row[name]) < 0:
            found.add(f"amount_negative:{name}")
    if "罚款" in categories and (row["cf_nr_fk"] is None or Decimal(row["cf_nr_fk"]) == 0):
        found.add("fine_requires_amount")
    return found


KINDS = {
    "broken xlsx": lambda seed: broken_file("xlsx", seed=seed),
    "broken csv": lambda seed: broken_file("csv", seed=seed),
    "broken json": lambda seed: broken_file("json", seed=seed),
    "broken xlsx, finance bureau": lambda seed: broken_file(
        "xlsx", seed=seed, department=default_departments()[3]
    ),
    "gbk csv": lambda seed: gbk_csv_file(seed=seed),
    "legacy csv": lambda seed: legacy_file(seed=seed),
    "good csv, CF_ codes": lambda seed: good_file("csv", headers="codes", seed=seed),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_same_seed_same_bytes_other_seed_other_bytes(kind):
    first, again, other = KINDS[kind](11), KINDS[kind](11), KINDS[kind](12)
    assert first.data == again.data
    assert first.expected == again.expected
    assert first.data != other.data


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ground_truth_lines_up_with_the_rows_in_the_file(kind, seed):
    generated = KINDS[kind](seed)
    rows = parsed_rows(generated)
    assert sorted(rows) == sorted(generated.expected), "every data row has an expectation, and nothing else"
    legacy = generated.source_format == "legacy"
    by_key: dict[tuple, list[int]] = {}
    for number, expected in generated.expected.items():
        row = rows[number]
        if expected.duplicate_of is not None:
            original = {k: v for k, v in rows[expected.duplicate_of].items() if k != "source_row"}
            assert {k: v for k, v in row.items() if k != "source_row"} == original
            assert expected.duplicate_of < number and expected.outcome == "duplicate"
            continue
        if row["cf_wsh"]:
            by_key.setdefault((row["cf_cfjgdm"], row["cf_wsh"]), []).append(number)
        found = defects(row, legacy)
        if expected.case == "duplicate_decision_no":
            found.add("decision_no_unique_per_authority")
        assert found == set(expected.rules), f"row {number} ({expected.case})"
    shared = {key: numbers for key, numbers in by_key.items() if len(numbers) > 1}
    assert sorted(n for numbers in shared.values() for n in numbers) == sorted(
        n for n, e in generated.expected.items() if e.case == "duplicate_decision_no"
    )
    assert generated.rows_in == sum(
        generated.count(o) for o in ("loaded", "warned", "quarantined", "duplicate")
    )


def test_broken_file_has_every_case_and_good_rows_around_them():
    generated = broken_file("xlsx", seed=5)
    cases = [e.case for e in generated.expected.values()]
    for case in BROKEN_CASES:
        assert case in cases
    assert cases.count("duplicate_decision_no") == 2
    assert generated.count("warned") == 1 and generated.count("duplicate") == 1
    assert generated.count("quarantined") == len(BROKEN_CASES) - 2 + 1  # the 文号 pair is two rows
    assert generated.count("loaded") >= 20
    assert max(generated.expected) > len(generated.expected) + 2, (
        "title row and a blank row shift the numbers"
    )
    expected_rules = {case: rules for case, (_zh, rules) in CASES.items()}
    for expected in generated.expected.values():
        if expected.case in expected_rules:
            assert expected.rules == expected_rules[expected.case]


def test_records_look_like_real_penalty_decisions():
    department = default_departments()[0]
    generated = good_file("csv", rows=40, seed=9, department=department)
    rows = list(parsed_rows(generated).values())
    assert all(re.fullmatch(r"焦住建罚〔2025〕\d+号", r["cf_wsh"]) for r in rows)
    assert all(r["cf_cfjg"] == department.name and r["cf_cfjgdm"] == department.uscc for r in rows)
    assert any("《中华人民共和国招标投标法》第五十三条" in r["cf_yj"] for r in rows)
    people = [r for r in rows if r["cf_xdr_lb"] == "自然人"]
    assert people and all(id_number_ok(r["cf_xdr_zjhm"]) and r["cf_xdr_shxym"] is None for r in people)
    companies = [r for r in rows if r["cf_xdr_lb"] == "法人及非法人组织"]
    assert all(uscc_check_digit_ok(r["cf_xdr_shxym"]) and r["cf_xdr_mc"].endswith("公司") for r in companies)
    assert len({r["cf_xdr_mc"] for r in rows}) > 20
    assert all(Decimal(r["cf_nr_fk"]) > 0 for r in rows)


def test_finance_bureau_files_include_an_individual_business_with_the_placeholder():
    generated = good_file("json", seed=1, department=default_departments()[3])
    rows = parsed_rows(generated)
    individual = [rows[n] for n, e in generated.expected.items() if e.case == "individual_business"]
    assert len(individual) == 1
    assert individual[0]["cf_xdr_shxym"] == "00000000000000000X" and individual[0]["cf_xdr_gszc"]
    assert individual[0]["cf_yj"].startswith("《中华人民共和国政府采购法》")


def test_gbk_and_legacy_files_are_what_they_claim():
    gbk = gbk_csv_file(seed=1)
    with pytest.raises(UnicodeDecodeError):
        gbk.data.decode("utf-8")
    assert gbk.data.decode("gbk").startswith("行政相对人名称,")
    legacy = legacy_file(seed=1)
    header = next(csv.reader([legacy.data.decode("utf-8").splitlines()[0]]))
    assert len(header) == 20 and header[0] == "CF_WSH" and "CF_XZJG" in header


def test_unknown_case_is_refused():
    with pytest.raises(ValueError, match="unknown cases"):
        make_file("csv", cases=("no_such_case",))


def test_demo_drop_is_laid_out_by_unit_code(tmp_path):
    written = write_demo_drop(tmp_path, ["ZJ-1", "JT-2"], seed=4, rows=5)
    layout = sorted(str(path.relative_to(tmp_path)) for path, _ in written)
    assert [p.split("/")[0] for p in layout] == ["JT-2", "JT-2", "ZJ-1", "ZJ-1"]
    assert {generated.file_format for _, generated in written} == {"xlsx", "csv", "json"}
    assert {generated.source_format for _, generated in written} == {"current", "legacy"}
    for path, generated in written:
        assert path.read_bytes() == generated.data
        assert path.parent.name == generated.department.code
        assert all(
            r["cf_cfjgdm"] in (generated.department.uscc, None) for r in parsed_rows(generated).values()
        )
    uscc = {generated.department.code: generated.department.uscc for _, generated in written}
    assert uscc["ZJ-1"] != uscc["JT-2"] and all(uscc_check_digit_ok(u) for u in uscc.values())


def test_demo_drop_takes_units_from_a_jurisdiction_profile(tmp_path):
    from ggzy.jurisdictions import load_profile

    profile = load_profile("jiaozuo")
    departments = departments_from_profile(profile)
    supervising = [u.code for u in profile.units_by_role("supervising_department")]
    assert [d.code for d in departments] == supervising
    assert all(isinstance(d, Department) and d.uscc == profile.unit(d.code).uscc for d in departments)
    written = write_demo_drop(tmp_path, departments, rows=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(supervising)
    assert len(written) == max(4, len(supervising))


def test_large_csv_streams_valid_unique_rows(tmp_path):
    path = large_csv(tmp_path / "large.csv", 3000, seed=2)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(n.upper() for n in PENALTY_FIELDS)
    parsed = CONNECTOR.parse(path.read_bytes(), path.name)
    assert parsed.canonical.num_rows == 3000 and not parsed.notes  # the vectorised path, no fall-back
    rows = parsed.canonical.to_pylist()
    assert [r["source_row"] for r in rows[:3]] == [2, 3, 4]
    assert len({(r["cf_cfjgdm"], r["cf_wsh"]) for r in rows}) == 3000
    assert all(not defects(r, legacy=False) for r in rows[:500])
    assert large_csv(tmp_path / "again.csv", 3000, seed=2).read_bytes() == path.read_bytes()


def test_cli_writes_the_demo_set(tmp_path):
    from ggzy.cli import app

    truth = tmp_path / "truth.json"
    result = CliRunner().invoke(
        app,
        ["standins", "departments", "--out", str(tmp_path / "drop"), "--units", "A1,B2", "--rows", "4", "--seed", "3",
         "--truth", str(truth), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert len(listed) == 4 and {item["unit"] for item in listed} == {"A1", "B2"}
    for item in listed:
        assert (tmp_path / "drop" / item["unit"] / item["filename"]).is_file()
        assert item["rows_in"] == item["rows_loaded"] + item["rows_quarantined"] + item["rows_duplicate"]
    recorded = json.loads(truth.read_text(encoding="utf-8"))
    assert all(entry["expected"] for entry in recorded)


@pytest.mark.parametrize("units", [["ZJ-1"], ["ZJ-1", "JT-2"]])
def test_demo_files_of_one_department_never_reuse_a_decision_number(units):
    """Reused 文号 with other content would show in the demo as an 'update' nobody sent."""
    seen: dict[tuple[str, str], str] = {}
    for generated in demo_files(units, seed=0, rows=20):
        numbers = {r["cf_wsh"] for r in generated.records if r.get("cf_wsh")}
        for number in numbers:
            key = (generated.department.code, number)
            assert key not in seen, f"{number} appears in {seen.get(key)} and {generated.filename}"
            seen[key] = generated.filename
