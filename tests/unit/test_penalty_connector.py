"""The 双公示 penalty connector on real files: every format and encoding, headers, legacy mapping, errors."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import CONNECTORS, FileConnector, ParsedFile, sniff_format
from connectors.penalties import (
    FIELD_LABELS,
    LEGACY_FIELDS,
    PENALTY_FIELDS,
    PenaltyFileConnector,
    decimal_text,
    fine_from_text,
    normalise_amount,
    normalise_date,
    number_text,
    resolve_header,
)
from ggzy.errors import HubError
from standins.departments import broken_file, gbk_csv_file, good_file, legacy_file

CONNECTOR = PenaltyFileConnector()


def parse(data: bytes, filename: str) -> ParsedFile:
    return CONNECTOR.parse(data, filename)


def rows_of(parsed: ParsedFile) -> list[dict]:
    return parsed.canonical.to_pylist()


def workbook_bytes(rows: list[list], title: str | None = None) -> bytes:
    """An .xlsx whose first sheet holds the given rows (after an optional title row)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def assert_same_rows(parsed: ParsedFile, expected: list[dict], numbers: list[int]) -> None:
    """Parsed canonical rows equal the expected records, field by field, with a readable diff."""
    got = rows_of(parsed)
    assert [r["source_row"] for r in got] == numbers
    diffs = [
        (row["source_row"], name, row[name], record[name])
        for row, record in zip(got, expected, strict=True)
        for name in PENALTY_FIELDS
        if row[name] != record[name]
    ]
    assert not diffs, f"(row, field, parsed, expected): {diffs[:10]}"


# ---------------------------------------------------------------------------------------------------
# Every format and encoding, against the stand-in's ground truth

FILES = {
    "xlsx template with title row": lambda: broken_file("xlsx", seed=3),
    "csv utf-8, Chinese headers": lambda: broken_file("csv", seed=3),
    "csv utf-8, CF_ code headers": lambda: good_file("csv", headers="codes", seed=4),
    "csv gbk": lambda: gbk_csv_file(seed=5),
    "json wrapped in data": lambda: broken_file("json", seed=6),
    "legacy 20-field csv": lambda: legacy_file(seed=7),
    "legacy 20-field csv, gbk": lambda: legacy_file(seed=8, encoding="gbk"),
}


@pytest.mark.parametrize("kind", list(FILES))
def test_every_format_parses_to_the_generated_records(kind):
    generated = FILES[kind]()
    parsed = parse(generated.data, generated.filename)
    assert parsed.file_format == generated.file_format
    assert parsed.encoding == generated.encoding
    assert parsed.source_format == generated.source_format
    assert parsed.canonical.schema.names == ["source_row", *PENALTY_FIELDS]
    assert parsed.canonical.schema.field("source_row").type == pa.int32()
    assert parsed.original.num_rows == parsed.canonical.num_rows == generated.rows_in
    assert_same_rows(parsed, generated.records, sorted(generated.expected))


def test_csv_with_bom_reports_utf8_and_a_note():
    generated = good_file("csv", rows=3, seed=1)
    parsed = parse(b"\xef\xbb\xbf" + generated.data, "bom.csv")
    assert parsed.encoding == "utf-8"
    assert any("BOM" in note for note in parsed.notes)
    assert parsed.original.column_names[0] == "行政相对人名称"  # the BOM is not part of the header
    assert_same_rows(parsed, generated.records, sorted(generated.expected))


def test_gbk_further_down_than_the_sniffed_head_is_still_decoded():
    class SmallSniff(PenaltyFileConnector):
        csv_sniff_bytes = 200

    header = ",".join(n.upper() for n in PENALTY_FIELDS)
    ascii_row = ",".join(["ACME Ltd"] + [""] * 12 + ["W-1"] + [""] * 16)
    chinese_row = ",".join(["焦作市宏远建设工程有限公司"] + [""] * 12 + ["焦住建罚〔2025〕2号"] + [""] * 16)
    data = "\n".join([header, ascii_row, ascii_row, chinese_row, ""]).encode("gbk")
    assert len(data.split(b"\n")[0]) < 1000 and data[:200].decode("utf-8")  # the head alone looks like UTF-8
    parsed = SmallSniff().parse(data, "late.csv")
    assert parsed.encoding == "gb18030"
    assert [r["cf_xdr_mc"] for r in rows_of(parsed)] == ["ACME Ltd", "ACME Ltd", "焦作市宏远建设工程有限公司"]
    assert rows_of(parsed)[2]["cf_wsh"] == "焦住建罚〔2025〕2号"


def test_ragged_and_tab_separated_csv():
    header = "\t".join(["行政相对人名称", "行政处罚决定书文号", "处罚决定日期", "罚款金额"])
    data = "\n".join([header, "甲公司\tW1\t2025/01/02\t0.5\t多出来的一格", "乙公司\tW2", ""]).encode()
    parsed = parse(data, "ragged.tsv")
    got = rows_of(parsed)
    assert [(r["cf_xdr_mc"], r["cf_wsh"], r["cf_jdrq"], r["cf_nr_fk"]) for r in got] == [
        ("甲公司", "W1", "2025-01-02", "0.5"),
        ("乙公司", "W2", None, None),
    ]
    assert [r["source_row"] for r in got] == [2, 3]
    assert "column_5" in parsed.original.column_names  # the extra cell is kept, under a made-up name
    assert any("unequal length" in note for note in parsed.notes)


def test_empty_rows_are_skipped_but_row_numbers_stay_true_and_values_are_trimmed():
    lines = [
        "双公示行政处罚信息",
        "行政相对人名称,行政处罚决定书文号,处罚决定日期,序号",
        " 甲公司\u3000 , W1 ,2025-1-2,1",
        ",,,",
        "",
        "\u3000, ,\t,",
        "乙公司,W2,20250103,2",
    ]
    parsed = parse("\n".join(lines).encode(), "gaps.csv")
    got = rows_of(parsed)
    assert [(r["source_row"], r["cf_xdr_mc"], r["cf_wsh"], r["cf_jdrq"]) for r in got] == [
        (3, "甲公司", "W1", "2025-01-02"),
        (7, "乙公司", "W2", "2025-01-03"),
    ]
    assert (
        parsed.original.to_pylist()[0]["行政相对人名称"] == " 甲公司\u3000 "
    )  # original: exactly as received
    assert parsed.original.column_names == ["行政相对人名称", "行政处罚决定书文号", "处罚决定日期", "序号"]
    assert any("序号" in note for note in parsed.notes)


# ---------------------------------------------------------------------------------------------------
# Headers


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("罚款金额（万元）", "cf_nr_fk"),
        ("罚款金额(万元)", "cf_nr_fk"),
        ("罚款金额 （ 万元 ）", "cf_nr_fk"),
        ("罚款金额", "cf_nr_fk"),
        (" 行政相对人名称 ", "cf_xdr_mc"),
        ("*行政相对人名称", "cf_xdr_mc"),
        ("行政相对人名称（必填）", "cf_xdr_mc"),
        ("处罚决定日期(YYYY/MM/DD)", "cf_jdrq"),
        ("行政相对人代码_1(统一社会信用代码)", "cf_xdr_shxym"),
        ("行政相对人代码_3（组织机构代码）", "cf_xdr_zzjg"),
        ("CF_WSH", "cf_wsh"),
        ("cf_xdr_shxym", "cf_xdr_shxym"),
        ("Cf_Nr_Fk", "cf_nr_fk"),
        ("处罚机关", "cf_cfjg"),
        ("CF_CFLB1", "cf_cflb1"),
        ("CF_XZJG", "cf_xzjg"),
        ("处罚结果", "cf_jg"),
        ("罚款金额（元）", None),  # in 元, not 万元: must not be taken for CF_NR_FK
        ("序号", None),
        (None, None),
    ],
)
def test_header_variants_resolve(header, field):
    assert resolve_header(header) == field


def test_every_template_label_and_code_resolves_to_its_field():
    assert list(FIELD_LABELS) == list(PENALTY_FIELDS)
    for name, (zh, en) in FIELD_LABELS.items():
        assert resolve_header(zh) == name and en
        assert resolve_header(name.upper()) == name
    for code in LEGACY_FIELDS:
        assert resolve_header(code.upper()) == code


def test_header_below_a_title_row_in_excel_with_cf_codes():
    data = workbook_bytes(
        [["CF_XDR_MC", "CF_WSH", "CF_JDRQ"], ["甲公司", "W1", datetime(2025, 3, 1)]], title="某局行政处罚公示"
    )
    parsed = parse(data, "codes.xlsx")
    assert rows_of(parsed)[0] | {} == {**dict.fromkeys(PENALTY_FIELDS), "source_row": 3} | {
        "cf_xdr_mc": "甲公司",
        "cf_wsh": "W1",
        "cf_jdrq": "2025-03-01",
    }
    assert parsed.header_map == {"cf_xdr_mc": "CF_XDR_MC", "cf_wsh": "CF_WSH", "cf_jdrq": "CF_JDRQ"}


def test_amount_in_yuan_column_is_kept_but_not_mapped():
    data = "行政相对人名称,行政处罚决定书文号,处罚类别,罚款金额（元）\n甲,W1,罚款,2000\n".encode()
    parsed = parse(data, "yuan.csv")
    assert rows_of(parsed)[0]["cf_nr_fk"] is None
    assert parsed.original.to_pylist()[0]["罚款金额（元）"] == "2000"
    assert any("罚款金额（元）" in note for note in parsed.notes)


def test_repeated_and_missing_headers_are_named_and_kept():
    data = "行政相对人名称,行政处罚决定书文号,处罚类别,,处罚类别,\n甲,W1,罚款,x,警告,\n".encode()
    parsed = parse(data, "dups.csv")
    assert parsed.original.column_names == [
        "行政相对人名称",
        "行政处罚决定书文号",
        "处罚类别",
        "column_4",
        "处罚类别__5",
    ]
    assert rows_of(parsed)[0]["cf_cflb"] == "罚款"  # the first non-empty of the columns mapping to it


# ---------------------------------------------------------------------------------------------------
# Excel values


def test_excel_dates_and_numbers_become_plain_text():
    header = ["行政相对人名称", "行政处罚决定书文号", "罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）",
              "处罚决定日期", "处罚有效期", "公示截止期", "工商注册号"]  # fmt: skip
    rows = [
        ["甲", "W1", 0.2, 0.1 + 0.2, datetime(2025, 3, 1), date(2099, 12, 31), "2026/03/01", 410802600012345],
        ["乙", "W2", 5, 1.0, datetime(2025, 3, 1, 14, 30), "2025年3月5日", "not a date", None],
        ["丙", 123, -0.5, 12.5, "20250102", "2025-02-30", 45678, None],
    ]
    parsed = parse(workbook_bytes([header, *rows]), "values.xlsx")
    got = [
        (
            r["cf_wsh"],
            r["cf_nr_fk"],
            r["cf_nr_wfff"],
            r["cf_jdrq"],
            r["cf_yxq"],
            r["cf_gsjzq"],
            r["cf_xdr_gszc"],
        )
        for r in rows_of(parsed)
    ]
    assert got == [
        ("W1", "0.2", "0.3", "2025-03-01", "2099-12-31", "2026-03-01", "410802600012345"),
        ("W2", "5", "1", "2025-03-01", "2025-03-05", "not a date", None),
        ("123", "-0.5", "12.5", "2025-01-02", "2025-02-30", "45678", None),
    ]
    original = parsed.original.to_pylist()
    assert original[1]["处罚决定日期"] == "2025-03-01 14:30:00"  # the original keeps the time of day
    assert original[0]["没收违法所得、没收非法财物的金额（万元）"] == "0.3"


def test_first_sheet_with_a_header_is_read():
    workbook = openpyxl.Workbook()
    workbook.active.title = "填表说明"
    workbook.active.append(["请按模板填写"])
    data_sheet = workbook.create_sheet("数据")
    data_sheet.append(["行政相对人名称", "行政处罚决定书文号", "处罚类别"])
    data_sheet.append(["甲", "W1", "警告"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse(buffer.getvalue(), "two-sheets.xlsx")
    assert [(r["source_row"], r["cf_cflb"]) for r in rows_of(parsed)] == [(2, "警告")]
    assert any("数据" in note for note in parsed.notes)


# ---------------------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize(
    "document",
    [
        [{"CF_XDR_MC": "甲", "CF_WSH": "W1", "CF_NR_FK": 0.30000000000000004, "CF_JDRQ": "2025/01/02"}],
        {"records": [{"cf_xdr_mc": "甲", "cf_wsh": "W1", "cf_nr_fk": "0.3", "cf_jdrq": "2025-01-02"}]},
        {
            "code": 0,
            "result": {"Data": [{"Cf_Xdr_Mc": "甲", "CF_WSH": "W1", "CF_NR_FK": 0.3, "CF_JDRQ": "20250102"}]},
        },
        {"CF_XDR_MC": "甲", "CF_WSH": "W1", "CF_NR_FK": "0.30", "CF_JDRQ": "2025-01-02"},
    ],
    ids=["list", "records", "nested-wrapper", "single-object"],
)
def test_json_shapes_and_key_case(document):
    parsed = parse(json.dumps(document).encode(), "p.json")
    got = rows_of(parsed)
    assert [(r["source_row"], r["cf_xdr_mc"], r["cf_wsh"], r["cf_nr_fk"], r["cf_jdrq"]) for r in got] == [
        (1, "甲", "W1", "0.3", "2025-01-02")
    ]
    assert parsed.file_format == "json" and parsed.encoding == "utf-8"


def test_json_unknown_keys_are_kept_and_empty_objects_skipped():
    document = [
        {"CF_WSH": "W1", "CF_XDR_MC": "甲", "CF_CFLB": "罚款", "联系人": {"name": "x"}},
        {},
        {"CF_WSH": "W3"},
    ]
    parsed = parse(json.dumps(document, ensure_ascii=False).encode("gbk"), "p.json")
    assert [r["source_row"] for r in rows_of(parsed)] == [1, 3]
    assert parsed.encoding == "gb18030"
    assert parsed.original.to_pylist()[0]["联系人"] == '{"name": "x"}'
    assert any("联系人" in note for note in parsed.notes)


# ---------------------------------------------------------------------------------------------------
# Legacy format

LEGACY_HEADER = (
    "CF_WSH,CF_CFMC,CF_CFLB1,CF_CFLB2,CF_SY,CF_YJ,CF_XDR_MC,CF_XDR_SHXYM,CF_XDR_ZDM,CF_XDR_GSDJ,CF_XDR_SWDJ,"
    "CF_XDR_SFZ,CF_FR,CF_JG,CF_JDRQ,CF_XZJG,CF_ZT,DFBM,SJC,BZ"
)


def test_legacy_rows_are_mapped_and_derived():
    rows = [
        "W1,串通投标,罚款,警告,事由1,依据1,甲公司,91350100M000100Y43,M000100Y-4,410800000012345,,,张三,"
        "罚款2000元,2019/10/10,焦作市住房和城乡建设局,正常,410800,2019-10-10 09:00:00,备注1",
        "W2,评标专家收受财物,没收违法所得,罚款,事由2,依据2,李四,,,,,11010519491231002X,,"
        "处0.5万元罚款,20191011,焦作市水利局,正常,410800,,",
        "W3,违法分包,罚款,,事由3,依据3,乙公司,,,,,,,处中标项目金额千分之五的罚款,2019-10-12,焦作市交通运输局,,,,",
    ]
    parsed = parse("\n".join([LEGACY_HEADER, *rows]).encode(), "legacy.csv")
    assert parsed.source_format == "legacy"
    first, second, third = rows_of(parsed)
    assert {k: v for k, v in first.items() if v is not None} == {
        "source_row": 2,
        "cf_wsh": "W1",
        "cf_wfxw": "串通投标",
        "cf_cflb": "罚款;警告",
        "cf_sy": "事由1",
        "cf_yj": "依据1",
        "cf_xdr_mc": "甲公司",
        "cf_xdr_lb": "法人及非法人组织",
        "cf_xdr_shxym": "91350100M000100Y43",
        "cf_xdr_zzjg": "M000100Y-4",
        "cf_xdr_gszc": "410800000012345",
        "cf_frdb": "张三",
        "cf_nr": "罚款2000元",
        "cf_nr_fk": "0.2",
        "cf_jdrq": "2019-10-10",
        "cf_cfjg": "焦作市住房和城乡建设局",
        "bz": "备注1",
    }
    assert (second["cf_xdr_lb"], second["cf_xdr_zjlx"], second["cf_xdr_zjhm"]) == (
        "自然人",
        "身份证",
        "11010519491231002X",
    )
    assert (second["cf_cflb"], second["cf_nr_fk"], second["cf_jdrq"]) == (
        "没收违法所得;罚款",
        "0.5",
        "2019-10-11",
    )
    # an organisation with no code at all is still an organisation (validation then asks for its USCC)
    assert (third["cf_xdr_lb"], third["cf_nr_fk"], third["cf_cflb"]) == ("法人及非法人组织", None, "罚款")
    assert parsed.header_map["cf_cflb"] == "CF_CFLB1 + CF_CFLB2"
    assert parsed.header_map["cf_cfjg"] == "CF_XZJG" and parsed.header_map["cf_nr_fk"] == "CF_JG"
    assert parsed.original.column_names == LEGACY_HEADER.split(",")
    assert any("legacy" in note and "CF_ZT" in note for note in parsed.notes)


def test_legacy_template_with_chinese_headers_is_detected():
    header = [code for code, (label, _target) in LEGACY_FIELDS.items()]
    labels = [LEGACY_FIELDS[code][0] for code in header]
    values = ["W1", "串通投标", "罚款", None, "事由", "依据", "甲公司", "91350100M000100Y43", None, None, None, None,
              "张三", "罚款1万元", datetime(2019, 10, 10), "某局", "正常", "410800", None, None]  # fmt: skip
    parsed = parse(workbook_bytes([labels, values]), "legacy.xlsx")
    assert parsed.source_format == "legacy"
    row = rows_of(parsed)[0]
    assert (row["cf_wfxw"], row["cf_cflb"], row["cf_nr_fk"], row["cf_cfjg"], row["cf_frdb"]) == (
        "串通投标",
        "罚款",
        "1",
        "某局",
        "张三",
    )


def test_current_file_with_one_legacy_extra_column_stays_current():
    data = "行政相对人名称,行政相对人类别,行政处罚决定书文号,处罚类别,处罚内容,当前状态\n甲,自然人,W1,警告,警告,正常\n"
    parsed = parse(data.encode(), "current.csv")
    assert parsed.source_format == "current"
    assert rows_of(parsed)[0]["cf_xdr_lb"] == "自然人"
    assert any("当前状态" in note for note in parsed.notes)


# ---------------------------------------------------------------------------------------------------
# Unreadable files


def corrupt_xlsx() -> bytes:
    return workbook_bytes([["a"]])[:300]


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("decisions.xlsx", b"this is not a workbook", "corrupt workbook"),
        ("truncated.xlsx", corrupt_xlsx(), "corrupt workbook"),
        ("decisions.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "unsupported file type"),
        ("decisions.pdf", b"%PDF-1.7\n\x00\x01", "unsupported file type"),
        ("no-header.csv", "名称,日期\n甲,2025-01-01\n".encode(), "no recognisable"),
        ("binary.csv", b"\xff\xfe\xfd" * 50, "not UTF-8 or GBK"),
        ("bad.json", b'{"data": [', "not valid JSON"),
        ("scalar.json", b"42", "JSON must be a list of objects"),
        ("strings.json", b'["a", "b"]', "item 1 is not an object"),
        ("keys.json", b'[{"name": "x", "date": "y"}]', "no recognisable"),
    ],
)
def test_unreadable_files_raise_a_bilingual_error_naming_the_file(filename, data, reason):
    with pytest.raises(HubError) as caught:
        parse(data, filename)
    error = caught.value
    assert error.code == "unreadable_file"
    assert error.detail["file"] == filename
    assert reason in error.en and filename in error.en
    assert filename in error.zh and "无法读取文件" in error.zh
    assert error.to_dict()["message"]["zh"] == error.zh


def test_format_is_sniffed_when_the_name_does_not_tell():
    generated = good_file("json", rows=2, seed=2)
    assert sniff_format(generated.data) == "json"
    assert parse(generated.data, "upload.bin").file_format == "json"
    assert sniff_format(good_file("xlsx", rows=1).data) == "xlsx"
    assert sniff_format(b"a,b\n") == "csv"


@pytest.mark.parametrize("connector_class", sorted(CONNECTORS.values(), key=lambda c: c.dataset), ids=str)
def test_every_connector_is_declared_and_documented(connector_class):
    assert connector_class.dataset and connector_class.description and connector_class.source
    assert connector_class.__doc__ and len(connector_class.__doc__.splitlines()) > 3  # the user documentation
    assert connector_class.fields and len(set(connector_class.fields)) == len(connector_class.fields)
    if issubclass(connector_class, FileConnector):
        assert connector_class().formats and all(ext.startswith(".") for ext in connector_class.extensions)


def test_penalty_connector_is_registered():
    assert CONNECTORS["penalty_decision"] is PenaltyFileConnector
    assert PenaltyFileConnector.fields == PENALTY_FIELDS and len(PENALTY_FIELDS) == 30
    assert set(CONNECTOR.formats) == {"xlsx", "csv", "json"}


@pytest.mark.parametrize(
    ("filename", "data"),
    [("header-only.csv", b"CF_WSH,CF_XDR_MC,CF_JDRQ"), ("header-only.csv", b"CF_WSH,CF_XDR_MC,CF_JDRQ\r\n"),
     ("empty.json", b"[]"), ("empty.json", b'{"data": []}'),
     ("header-only.xlsx", workbook_bytes([["CF_WSH", "CF_XDR_MC", "CF_JDRQ"]]))],
)  # fmt: skip
def test_a_file_without_rows_parses_to_zero_rows(filename, data):
    parsed = parse(data, filename)
    assert parsed.canonical.num_rows == 0 and parsed.canonical.schema.names == ["source_row", *PENALTY_FIELDS]
    assert not parsed.notes


# ---------------------------------------------------------------------------------------------------
# Value normalisation

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))


@given(dates, st.sampled_from(["{:%Y-%m-%d}", "{:%Y/%m/%d}", "{:%Y%m%d}", "{d.year}年{d.month}月{d.day}日",
                               "{d.year}/{d.month}/{d.day}", "{:%Y-%m-%d} 00:00:00", " {:%Y.%m.%d}\u3000"]))  # fmt: skip
def test_dates_in_every_accepted_style_normalise_to_iso(day, style):
    written = style.format(day, d=day)
    assert normalise_date(written) == day.isoformat()
    assert normalise_date(normalise_date(written)) == day.isoformat()  # idempotent


@given(st.text(max_size=20))
def test_anything_not_a_date_is_kept_as_received(text):
    result = normalise_date(text)
    if result != text:
        assert date.fromisoformat(result)  # it was a date after all


@pytest.mark.parametrize(
    "text", ["2025-02-30", "2025-13-01", "20251301", "2025-1", "长期", "2025/01/02/03", "45678"]
)
def test_impossible_or_odd_dates_stay_as_received(text):
    assert normalise_date(text) == text


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=4, allow_nan=False))
def test_spreadsheet_numbers_have_no_float_artefacts(value):
    assert number_text(float(value)) == decimal_text(value)
    assert normalise_amount(decimal_text(value)) == decimal_text(value)
    assert Decimal(number_text(float(value))) == value


@pytest.mark.parametrize(
    ("text", "fine"),
    [
        ("罚款2000元", "0.2"),
        ("罚款0.5万元", "0.5"),
        ("处2000元罚款", "0.2"),
        ("罚款人民币1,000元", "0.1"),
        ("处中标项目金额千分之五的罚款，计人民币35600元", "3.56"),
        ("罚款，没收违法所得5000元", None),
        ("处中标项目金额千分之五的罚款", None),
        ("警告", None),
    ],
)
def test_fine_stated_in_legacy_result_text(text, fine):
    assert fine_from_text(text) == fine


@pytest.mark.parametrize(
    ("text", "amount"),
    [("0.20", "0.2"), ("1,000", "1000"), ("0.5万元", "0.5"), ("０.５", "0.5"), ("-3", "-3"), ("2000元", "2000元"),
     ("abc", "abc"), ("0.30000000000000004", "0.3")],
)  # fmt: skip
def test_amount_text_normalisation(text, amount):
    assert normalise_amount(text) == amount
