"""Connector for administrative penalty decisions in the 信用中国 "双公示" 行政处罚 format (data-standards §2).

Departments send Excel workbooks filled from the template, CSV (UTF-8 or GBK) or JSON with the CF_ codes
as keys, in the current 30-field format or the legacy 20-field one. `PenaltyFileConnector.parse` turns any
of these into a `ParsedFile`: the rows exactly as received plus the same rows under the 30 lower-case CF
codes, lightly normalised. It judges nothing: quality/ validates, the pipeline loads.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from connectors.base import UTF8_BOM, FileConnector, ParsedFile, decode_text

# ---------------------------------------------------------------------------------------------------
# The format

# The 30 fields of the current format, lower-cased CF_ codes, in template order (contracts.md).
PENALTY_FIELDS: tuple[str, ...] = (
    "cf_xdr_mc", "cf_xdr_lb", "cf_xdr_shxym", "cf_xdr_gszc", "cf_xdr_zzjg", "cf_xdr_swdj", "cf_xdr_sydw",
    "cf_xdr_shzz", "cf_frdb", "cf_fr_zjlx", "cf_fr_zjhm", "cf_xdr_zjlx", "cf_xdr_zjhm", "cf_wsh", "cf_wfxw",
    "cf_sy", "cf_yj", "cf_cflb", "cf_nr", "cf_nr_fk", "cf_nr_wfff", "cf_nr_zkdx", "cf_jdrq", "cf_yxq",
    "cf_gsjzq", "cf_cfjg", "cf_cfjgdm", "cf_sjly", "cf_sjlydm", "bz",
)  # fmt: skip

# field -> (Chinese label as in the template, English label); used in messages and exports.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "cf_xdr_mc": ("行政相对人名称", "name of the party penalised"),
    "cf_xdr_lb": ("行政相对人类别", "category of the party"),
    "cf_xdr_shxym": ("统一社会信用代码", "unified social credit code of the party"),
    "cf_xdr_gszc": ("工商注册号", "business registration number"),
    "cf_xdr_zzjg": ("组织机构代码", "organisation code"),
    "cf_xdr_swdj": ("税务登记号", "tax registration number"),
    "cf_xdr_sydw": ("事业单位证书号", "public institution certificate number"),
    "cf_xdr_shzz": ("社会组织登记证号", "social organisation registration number"),
    "cf_frdb": ("法定代表人", "legal representative"),
    "cf_fr_zjlx": ("法定代表人证件类型", "legal representative's ID document type"),
    "cf_fr_zjhm": ("法定代表人证件号码", "legal representative's ID number"),
    "cf_xdr_zjlx": ("证件类型", "ID document type of the person"),
    "cf_xdr_zjhm": ("证件号码", "ID number of the person"),
    "cf_wsh": ("行政处罚决定书文号", "decision document number"),
    "cf_wfxw": ("违法行为类型", "type of violation"),
    "cf_sy": ("违法事实", "facts of the violation"),
    "cf_yj": ("处罚依据", "legal basis"),
    "cf_cflb": ("处罚类别", "penalty category"),
    "cf_nr": ("处罚内容", "penalty content"),
    "cf_nr_fk": ("罚款金额（万元）", "fine (10,000 yuan)"),
    "cf_nr_wfff": ("没收违法所得、没收非法财物的金额（万元）", "confiscated amount (10,000 yuan)"),
    "cf_nr_zkdx": ("暂扣或吊销证照名称及编号", "licence suspended or revoked"),
    "cf_jdrq": ("处罚决定日期", "decision date"),
    "cf_yxq": ("处罚有效期", "valid until"),
    "cf_gsjzq": ("公示截止期", "publication ends"),
    "cf_cfjg": ("处罚机关", "penalising authority"),
    "cf_cfjgdm": ("处罚机关统一社会信用代码", "unified social credit code of the authority"),
    "cf_sjly": ("数据来源单位", "data source unit"),
    "cf_sjlydm": ("数据来源单位统一社会信用代码", "unified social credit code of the data source unit"),
    "bz": ("备注", "remarks"),
}

# Chinese column headers departments write, per field (and per legacy-only code). The template labels
# of FIELD_LABELS and LEGACY_FIELDS are always accepted; these are other spellings in use. Headers are
# compared after NFKC (full-width -> half-width), dropping whitespace and '*' and lower-casing, and
# with an optional trailing note such as (万元), (必填) or (YYYY-MM-DD) removed; CF_ codes are accepted
# as headers too. Never add a header that is in 元 rather than 万元 here: 10,000 times off.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "cf_xdr_mc": ("相对人名称", "行政相对人", "被处罚单位名称", "被处罚人名称", "当事人名称", "当事人"),
    "cf_xdr_lb": ("相对人类别", "行政相对人类型", "相对人类型", "主体类别"),
    "cf_xdr_shxym": ("行政相对人代码_1(统一社会信用代码)", "统一社会信用代码", "社会信用代码",
                     "行政相对人统一社会信用代码", "相对人统一社会信用代码"),
    "cf_xdr_gszc": ("行政相对人代码_2(工商注册号)", "工商注册号", "工商登记号", "注册号"),
    "cf_xdr_zzjg": ("行政相对人代码_3(组织机构代码)", "组织机构代码"),
    "cf_xdr_swdj": ("行政相对人代码_4(税务登记号)", "税务登记号", "税务登记证号"),
    "cf_xdr_sydw": ("行政相对人代码_5(事业单位证书号)", "事业单位证书号", "事业单位法人证书号"),
    "cf_xdr_shzz": ("行政相对人代码_6(社会组织登记证号)", "社会组织登记证号"),
    "cf_frdb": ("法定代表人姓名", "法定代表人(负责人)", "法定代表人/负责人", "负责人"),
    "cf_fr_zjlx": ("法定代表人证件类型",),
    "cf_fr_zjhm": ("法定代表人证件号码", "法定代表人身份证号码", "法定代表人身份证号"),
    "cf_xdr_zjlx": ("证件类型", "行政相对人证件类型", "自然人证件类型"),
    "cf_xdr_zjhm": ("证件号码", "行政相对人证件号码", "自然人证件号码", "身份证号码", "身份证号"),
    "cf_wsh": ("行政处罚决定书文号", "处罚决定书文号", "决定书文号", "处罚文号", "文书号", "文号"),
    "cf_wfxw": ("违法行为类型", "违法行为", "违法行为名称"),
    "cf_sy": ("违法事实", "主要违法事实", "处罚事由"),
    "cf_yj": ("处罚依据",),
    "cf_cflb": ("处罚类别", "处罚种类", "处罚类型"),
    "cf_nr": ("处罚内容", "处罚决定内容"),
    "cf_nr_fk": ("罚款金额(万元)", "罚款金额", "罚款数额(万元)", "罚款数额"),
    "cf_nr_wfff": ("没收违法所得、没收非法财物的金额(万元)", "没收违法所得、没收非法财物的金额",
                   "没收违法所得金额(万元)", "没收金额(万元)", "没收违法所得"),
    "cf_nr_zkdx": ("暂扣或吊销证照名称及编号", "暂扣或者吊销证照名称及编号"),
    "cf_jdrq": ("处罚决定日期", "决定日期", "作出处罚决定日期", "处罚日期"),
    "cf_yxq": ("处罚有效期", "有效期", "有效期至"),
    "cf_gsjzq": ("公示截止期", "公示截止日期", "公示截止时间", "公示期限"),
    "cf_cfjg": ("处罚机关", "处罚机关名称", "作出处罚决定机关", "实施机关"),
    "cf_cfjgdm": ("处罚机关统一社会信用代码", "处罚机关代码"),
    "cf_sjly": ("数据来源单位", "数据来源"),
    "cf_sjlydm": ("数据来源单位统一社会信用代码", "数据来源单位代码"),
    "bz": ("备注",),
    # Legacy-only fields (LEGACY_FIELDS holds their template headers): other spellings.
    "cf_cfmc": ("行政处罚名称",),
    "cf_cflb1": ("处罚类别一",),
    "cf_cflb2": ("处罚类别二",),
    "cf_xdr_gsdj": ("工商登记码",),
    "cf_xdr_sfz": ("居民身份证号",),
    "sjc": ("更新时间戳", "时间戳"),
}  # fmt: skip

# The legacy 20-field format (the 2016 双公示 template, still sent by older systems) and where each of
# its fields goes in the current format: legacy code -> (template header, current field; None = no
# counterpart, kept in `original` only). CF_CFLB1 and CF_CFLB2 both go to cf_cflb, joined with ';'.
# Fields the legacy format does not carry are derived per row, see LEGACY_DERIVED.
LEGACY_FIELDS: dict[str, tuple[str, str | None]] = {
    "cf_wsh": ("行政处罚决定书文号", "cf_wsh"),
    "cf_cfmc": ("处罚名称", "cf_wfxw"),
    "cf_cflb1": ("处罚类别1", "cf_cflb"),
    "cf_cflb2": ("处罚类别2", "cf_cflb"),
    "cf_sy": ("处罚事由", "cf_sy"),
    "cf_yj": ("处罚依据", "cf_yj"),
    "cf_xdr_mc": ("行政相对人名称", "cf_xdr_mc"),
    "cf_xdr_shxym": ("行政相对人代码_1(统一社会信用代码)", "cf_xdr_shxym"),
    "cf_xdr_zdm": ("行政相对人代码_2(组织机构代码)", "cf_xdr_zzjg"),
    "cf_xdr_gsdj": ("行政相对人代码_3(工商登记码)", "cf_xdr_gszc"),
    "cf_xdr_swdj": ("行政相对人代码_4(税务登记号)", "cf_xdr_swdj"),
    "cf_xdr_sfz": ("行政相对人代码_5(居民身份证号)", "cf_xdr_zjhm"),
    "cf_fr": ("法定代表人姓名", "cf_frdb"),
    "cf_jg": ("处罚结果", "cf_nr"),
    "cf_jdrq": ("处罚决定日期", "cf_jdrq"),
    "cf_xzjg": ("处罚机关", "cf_cfjg"),
    "cf_zt": ("当前状态", None),
    "dfbm": ("地方编码", None),
    "sjc": ("数据更新时间戳", None),
    "bz": ("备注", "bz"),
}
LEGACY_DERIVED: dict[str, str] = {
    "cf_xdr_lb": "自然人 when CF_XDR_SFZ is the only party code given, else 法人及非法人组织",
    "cf_xdr_zjlx": "身份证 when CF_XDR_SFZ is given",
    "cf_nr_fk": "the fine CF_JG states ('罚款2000元' -> 0.2, '罚款0.5万元' -> 0.5, '处2000元罚款'), in 万元",
}
# Legacy codes that do not exist in the current format (their presence marks a legacy file).
LEGACY_ONLY: frozenset[str] = frozenset(LEGACY_FIELDS) - frozenset(PENALTY_FIELDS)

DATE_FIELDS = ("cf_jdrq", "cf_yxq", "cf_gsjzq")
AMOUNT_FIELDS = ("cf_nr_fk", "cf_nr_wfff")
CODE_FIELDS = ("cf_xdr_shxym", "cf_xdr_zzjg", "cf_xdr_zjhm", "cf_fr_zjhm", "cf_cfjgdm", "cf_sjlydm")

# Characters trimmed from both ends of every value: ASCII whitespace, full-width space, NBSP, BOM, ZWSP.
TRIM_CHARACTERS = " \t\r\n\v\f\u3000\u00a0\ufeff\u200b"
# Optional notes after a header that do not change its meaning: units in 万元, required marks, formats.
HEADER_NOTE_RE = re.compile(
    r"\((?:单位:)?(?:万元|必填|必填项|选填|选填项|非必填|可选|可空|[ymd/\-.年月日]+|格式.*)\)$"
)

# ---------------------------------------------------------------------------------------------------
# Value normalisation (pure functions; the vectorised paths apply them to distinct values only)

_DATE_RE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_COMPACT_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_AMOUNT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_FINE_RES = (
    re.compile(r"罚款(?:人民币)?[:：]?\s*([0-9][0-9,，]*(?:\.[0-9]+)?)\s*(万元|元)"),
    re.compile(r"([0-9][0-9,，]*(?:\.[0-9]+)?)\s*(万元|元)(?:人民币)?的?罚款"),
    # '…的罚款，计人民币35600元': a short gap after 罚款, not crossing a sentence or a 没收 amount
    re.compile(r"罚款(?:(?!没收)[^0-9。；;]){0,12}?([0-9][0-9,，]*(?:\.[0-9]+)?)\s*(万元|元)"),
)


def normalise_date(text: str) -> str:
    """YYYY-MM-DD for a real date written YYYY-MM-DD, YYYY/MM/DD, YYYY.M.D, YYYY年M月D日 or YYYYMMDD
    (a trailing time of day is dropped); anything else is returned as received so validation can name it."""
    plain = unicodedata.normalize("NFKC", text).strip()
    match = _DATE_RE.fullmatch(plain) or _COMPACT_DATE_RE.fullmatch(plain)
    if not match:
        return text
    try:
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        return text


def decimal_text(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: Decimal('0.20') -> '0.2', 1E+2 -> '100'."""
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "+0") else text


def number_text(value: int | float | Decimal) -> str:
    """Plain decimal text for a spreadsheet number, without float artefacts (15 significant digits, as Excel)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        value = Decimal(format(value, ".15g"))
    return decimal_text(value)


def normalise_amount(text: str) -> str:
    """Plain decimal text for an amount in 万元 ('0.20' -> '0.2', '1,000' -> '1000', '0.5万元' -> '0.5'),
    rounded to 15 significant digits like a spreadsheet (float artefacts go); anything that is not a
    number is returned as received."""
    plain = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    plain = plain.removesuffix("万元").rstrip()
    if not _AMOUNT_RE.fullmatch(plain):
        return text
    try:
        with localcontext(prec=15):
            return decimal_text(+Decimal(plain))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return text


def fine_from_text(text: str) -> str | None:
    """The fine a penalty text states, in 万元 ('罚款2000元' -> '0.2', '处0.5万元罚款' -> '0.5'), or None."""
    plain = unicodedata.normalize("NFKC", text)
    for pattern in _FINE_RES:
        match = pattern.search(plain)
        if match:
            amount = Decimal(re.sub("[,，]", "", match.group(1)))
            return decimal_text(amount if match.group(2) == "万元" else amount / 10000)
    return None


def cell_text(value: Any) -> str | None:
    """A spreadsheet or JSON value as text: dates as ISO, numbers as plain decimals, '' as None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        return number_text(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def normalise_header(header: str) -> str:
    """Comparable form of a column header: NFKC, no whitespace or '*', lower case."""
    return re.sub(r"[\s*]", "", unicodedata.normalize("NFKC", header)).lower()


def _build_header_index() -> dict[str, str]:
    """Normalised header -> field or legacy code; current-format meanings win where spellings collide."""
    index: dict[str, str] = {}
    for code, (header, _target) in LEGACY_FIELDS.items():
        index[normalise_header(code)] = code
        index[normalise_header(header)] = code
    for code in LEGACY_ONLY:
        for alias in HEADER_ALIASES.get(code, ()):
            index[normalise_header(alias)] = code
    for (
        name
    ) in PENALTY_FIELDS:  # last: where spellings collide (处罚机关, 法定代表人姓名) the meaning is the same
        for alias in (name, FIELD_LABELS[name][0], *HEADER_ALIASES.get(name, ())):
            index[normalise_header(alias)] = name
    return index


HEADER_INDEX: dict[str, str] = _build_header_index()


def resolve_header(header: str | None) -> str | None:
    """The field (or legacy code) a column header stands for, or None when it is not a 双公示 column."""
    if header is None:
        return None
    key = normalise_header(str(header))
    if key in HEADER_INDEX:
        return HEADER_INDEX[key]
    stripped = HEADER_NOTE_RE.sub("", key)
    return HEADER_INDEX.get(stripped) if stripped != key else None


# ---------------------------------------------------------------------------------------------------
# Vectorised helpers


def map_distinct(
    column: pa.ChunkedArray | pa.Array, function: Callable[[str], str | None]
) -> pa.ChunkedArray:
    """Apply a Python function to each distinct non-null value of a string column (fast: few distinct)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    cache: dict[str, str | None] = {}
    mapped_chunks = []
    for chunk in chunks:
        encoded = pc.dictionary_encode(chunk)
        values = []
        for value in encoded.dictionary.to_pylist():
            if value not in cache:
                cache[value] = function(value)
            values.append(cache[value])
        mapped_chunks.append(pc.take(pa.array(values, pa.string()), encoded.indices))
    return pa.chunked_array(mapped_chunks, pa.string())


def trim_to_null(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Trim whitespace (incl. full-width spaces) from both ends; empty strings become null."""
    trimmed = pc.utf8_trim(column, characters=TRIM_CHARACTERS)
    empty = pc.equal(pc.binary_length(trimmed), 0)  # lengths only: cheap; if_else copies, so only if needed
    if not pc.any(empty).as_py():
        return trimmed
    return pc.if_else(empty, pa.scalar(None, pa.string()), trimmed)


def _null_column(length: int) -> pa.Array:
    return pa.nulls(length, pa.string())


# ---------------------------------------------------------------------------------------------------
# The connector


class PenaltyFileConnector(FileConnector):
    """Administrative penalty decisions (行政处罚) in the 信用中国 "双公示" format, as departments send them.

    Accepted files:

    - Excel ``.xlsx`` filled from the template: Chinese headers (行政相对人名称, 罚款金额（万元）, ...; full- or
      half-width brackets, extra spaces, '*' marks and notes like (必填) are ignored) or the CF_ codes as
      headers. The header row may sit below a title row; the first sheet with a recognisable header is
      read. Date cells become YYYY-MM-DD, number cells plain decimal text (15 significant digits).
    - CSV in UTF-8 (with or without BOM) or GBK/GB18030 (UTF-8 is tried strictly first), comma, tab or
      semicolon separated, Chinese or CF_ headers. Parsed by pyarrow, vectorised: a million rows in
      seconds. Row numbers count records (equal to lines unless a cell holds a line break).
    - JSON: a list of objects keyed by CF_ code (any case), or an object wrapping such a list
      ({"data": [...]}, {"records": [...]}, ...).

    Both the current 30-field format and the legacy 20-field format are read; legacy files are mapped
    field by field (LEGACY_FIELDS) and the fields they lack are derived (LEGACY_DERIVED). Values are
    trimmed, dates normalised to YYYY-MM-DD (2099-12-31, 长期, is kept), amounts stay in 万元 as plain
    decimal text, identifiers are upper-cased; anything unexpected is kept as received for validation to
    name. Entirely empty rows are skipped (not counted); row numbers stay those of the file. Unknown
    columns are kept in ``original`` and listed in ``notes``. A file with no recognisable header, a corrupt
    workbook or an unsupported type raises ``HubError('unreadable_file')`` naming the file.
    """

    # Connector
    dataset = "penalty_decision"
    description = "行政处罚决定（双公示格式）/ administrative penalty decisions in the 双公示 format"
    source = "行政监督部门（投递目录、上传接口）/ supervising departments (drop folder, upload endpoint)"
    fields = PENALTY_FIELDS
    # FileConnector
    extensions = {".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv", ".txt": "csv", ".tsv": "csv",
                  ".json": "json"}  # fmt: skip
    max_header_search = 20
    # PenaltyFileConnector
    min_header_matches: ClassVar[int] = 3  # recognised columns needed to call a row the header
    csv_delimiters: ClassVar[tuple[str, ...]] = (",", "\t", ";", "|")
    csv_sniff_bytes: ClassVar[int] = 256 * 1024
    json_wrapper_keys: ClassVar[tuple[str, ...]] = tuple(
        "data records rows items list result results".split()
    )

    def parse(self, data: bytes, filename: str) -> ParsedFile:
        """Parse one department file into the rows as received and their canonical 双公示 form."""
        file_format = self.detect_format(data, filename)
        if file_format == "xlsx":
            return self._parse_xlsx(data, filename)
        if file_format == "csv":
            return self._parse_csv(data, filename)
        if file_format == "json":
            return self._parse_json(data, filename)
        raise self.unreadable(
            filename,
            "不支持的文件类型（旧版 .xls 请另存为 .xlsx）",
            f"unsupported file type {file_format!r} (save legacy .xls workbooks as .xlsx)",
        )

    # --- Excel ------------------------------------------------------------------------------------

    def _parse_xlsx(self, data: bytes, filename: str) -> ParsedFile:
        import openpyxl  # imported here: only Excel files need it

        try:
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
            raise self.unreadable(
                filename,
                "Excel 工作簿已损坏或不是 .xlsx 文件",
                "corrupt workbook or not an .xlsx file",
                error=str(exc)[:200],
            ) from exc
        except Exception as exc:  # openpyxl raises many types for broken packages
            raise self.unreadable(
                filename, "Excel 工作簿已损坏", "corrupt workbook", error=str(exc)[:200]
            ) from exc
        found, notes = None, []
        try:
            sheets = [workbook.active, *(ws for ws in workbook.worksheets if ws is not workbook.active)]
            for sheet in sheets:
                if sheet is None or not hasattr(sheet, "iter_rows"):
                    continue  # chart sheets
                sheet.reset_dimensions()  # some writers record wrong dimensions; read what is there
                rows = (tuple(cell_text(v) for v in row) for row in sheet.iter_rows(values_only=True))
                found = self._grid_table(rows, filename, first_row_number=1)
                if found is not None:
                    if len(workbook.worksheets) > 1:
                        notes.append(f"sheet '{sheet.title}' read / 已读取工作表“{sheet.title}”")
                    break
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
            raise self.unreadable(
                filename, "Excel 工作簿已损坏", "corrupt workbook", error=str(exc)[:200]
            ) from exc
        finally:
            workbook.close()
        if found is None:
            raise self._no_header(filename)
        return self._finish("xlsx", None, *found, notes=notes)

    def _grid_table(
        self, rows: Iterable[Sequence[str | None]], filename: str, *, first_row_number: int
    ) -> tuple[list[str], list[pa.Array], pa.Array] | None:
        """Find the header among the first rows of a grid and build string columns; None if no header."""
        iterator = iter(rows)
        header: list[str | None] | None = None
        header_number = 0
        for offset, row in enumerate(iterator):
            if offset >= self.max_header_search:
                return None
            if self._header_matches(row) >= self.min_header_matches:
                header, header_number = list(row), first_row_number + offset
                break
        if header is None:
            return None
        width = len(header)
        cells: list[list[str | None]] = [[] for _ in range(width)]
        numbers: list[int] = []
        for number, row in enumerate(iterator, start=header_number + 1):
            if len(row) > width:
                extra = len(row) - width
                if any(v is not None for v in row[width:]):
                    header.extend([None] * extra)
                    cells.extend([[None] * len(numbers) for _ in range(extra)])
                    width = len(header)
            numbers.append(number)
            for i in range(width):
                cells[i].append(row[i] if i < len(row) else None)
        names = [h if h is None else str(h) for h in header]
        columns = [pa.array(col, pa.string()) for col in cells]
        return names, columns, pa.array(numbers, pa.int32())

    def _header_matches(self, row: Sequence[Any]) -> int:
        """How many distinct 双公示 fields a candidate header row names."""
        return len({key for key in (resolve_header(c) for c in row if c is not None) if key})

    # --- CSV --------------------------------------------------------------------------------------

    def _parse_csv(self, data: bytes, filename: str) -> ParsedFile:
        has_bom = data.startswith(UTF8_BOM)
        body = data[len(UTF8_BOM) :] if has_bom else data
        try:
            head, encoding = decode_text(body, prefix=self.csv_sniff_bytes)
        except UnicodeDecodeError as exc:
            raise self._not_text(filename) from exc
        notes = ["UTF-8 with BOM / 带 BOM 的 UTF-8"] if has_bom else []
        delimiter, header, header_line = self._sniff_csv(head, filename)
        if not body.endswith((b"\n", b"\r")):
            body += b"\n"  # pyarrow cannot skip an unterminated header line
        try:
            try:
                names, columns, numbers = self._read_csv_arrow(body, encoding, delimiter, header, header_line)
            except pa.ArrowInvalid as exc:
                if "invalid UTF8" not in str(exc) or encoding != "utf-8":
                    raise
                encoding = "gb18030"  # a UTF-8-looking head, GBK further down: read again as GB18030
                names, columns, numbers = self._read_csv_arrow(body, encoding, delimiter, header, header_line)
        except (pa.ArrowInvalid, UnicodeDecodeError):
            # Ragged rows (more or fewer cells than the header): Python's csv reader copes, slower.
            names, columns, numbers, encoding = self._read_csv_python(body, delimiter, filename)
            notes.append("rows of unequal length read cell by cell / 各行列数不一致，已逐行读取")
        if encoding == "gb18030":
            notes.append("GBK/GB18030 decoded / 已按 GBK/GB18030 解码")
        return self._finish("csv", encoding, names, columns, numbers, notes=notes)

    def _sniff_csv(self, head: str, filename: str) -> tuple[str, list[str], int]:
        """Pick the delimiter and the header row: (delimiter, header cells, physical line of the header)."""
        best: tuple[int, str, list[str], int] | None = None
        for delimiter in self.csv_delimiters:
            if delimiter not in head:
                continue
            reader = csv.reader(io.StringIO(head), delimiter=delimiter)
            try:
                for index, row in enumerate(reader):
                    if index >= self.max_header_search:
                        break
                    matches = self._header_matches(row)
                    if matches >= self.min_header_matches:
                        if best is None or matches > best[0]:
                            best = (matches, delimiter, row, reader.line_num)
                        break
            except csv.Error:
                continue
        if best is None:
            raise self._no_header(filename)
        return best[1], best[2], best[3]

    def _read_csv_arrow(
        self, body: bytes, encoding: str, delimiter: str, header: list[str], header_line: int
    ) -> tuple[list[str | None], list[pa.ChunkedArray], pa.Array]:
        """Read every record after the header with pyarrow, all columns as strings."""
        internal = [f"c{i}" for i in range(len(header))]
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(
                column_names=internal, skip_rows=header_line, encoding=encoding, block_size=16 << 20
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in internal},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        numbers = pa.array(np.arange(header_line + 1, header_line + 1 + table.num_rows, dtype=np.int32))
        return list(header), list(table.columns), numbers

    def _read_csv_python(
        self, body: bytes, delimiter: str, filename: str
    ) -> tuple[list[str | None], list[pa.Array], pa.Array, str]:
        """Read a CSV with Python's csv module (ragged rows): slower, always complete; returns the encoding too."""
        try:
            text, encoding = decode_text(body)
        except UnicodeDecodeError as exc:
            raise self._not_text(filename) from exc
        rows = (
            tuple(c if c != "" else None for c in row)
            for row in csv.reader(io.StringIO(text), delimiter=delimiter)
        )
        found = self._grid_table(rows, filename, first_row_number=1)
        if found is None:  # pragma: no cover - the sniffer found a header in the same text
            raise self._no_header(filename)
        return (*found, encoding)

    # --- JSON -------------------------------------------------------------------------------------

    def _parse_json(self, data: bytes, filename: str) -> ParsedFile:
        try:
            text, encoding = decode_text(data)
            document = json.loads(text, parse_float=Decimal)
        except (UnicodeDecodeError, ValueError) as exc:
            raise self.unreadable(filename, f"不是有效的 JSON（{exc}）", f"not valid JSON ({exc})") from exc
        records = self._json_records(document)
        if records is None:
            raise self.unreadable(
                filename,
                "JSON 应为对象数组，或用 data/records 等键包裹的对象数组",
                "JSON must be a list of objects, or an object wrapping one under a key such as data or records",
            )
        keys: dict[str, int] = {}
        for index, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                raise self.unreadable(
                    filename, f"第 {index} 项不是对象", f"item {index} is not an object", row=index
                )
            for key in record:
                keys.setdefault(key, len(keys))
        if records and self._header_matches(list(keys)) < self.min_header_matches:
            raise self._no_header(filename)
        names = list(keys)
        columns = [
            pa.array([cell_text(record.get(name)) for record in records], pa.string()) for name in names
        ]
        numbers = pa.array(range(1, len(records) + 1), pa.int32())
        notes = ["GBK/GB18030 decoded / 已按 GBK/GB18030 解码"] if encoding == "gb18030" else []
        return self._finish("json", encoding, names, columns, numbers, notes=notes)

    def _json_records(self, document: Any, depth: int = 0) -> list | None:
        """The list of records in a JSON document: the document itself or a list it wraps."""
        if isinstance(document, list):
            return document
        if not isinstance(document, dict) or depth > 2:
            return None
        if self._header_matches(list(document)) >= self.min_header_matches:
            return [document]  # a single record
        lowered = {str(k).lower(): v for k, v in document.items()}
        for key in self.json_wrapper_keys:
            if key in lowered:
                found = self._json_records(lowered[key], depth + 1)
                if found is not None:
                    return found
        lists = [
            v for v in document.values() if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)
        ]
        return lists[0] if len(lists) == 1 else None

    # --- Canonical form -----------------------------------------------------------------------------

    def _finish(
        self,
        file_format: str,
        encoding: str | None,
        names: list[str | None],
        columns: list[pa.Array | pa.ChunkedArray],
        numbers: pa.Array,
        *,
        notes: list[str],
    ) -> ParsedFile:
        """Build the ParsedFile from received columns: drop empty rows, map headers, normalise values."""
        names, columns = _name_columns(names, columns, notes)
        trimmed = [trim_to_null(column) for column in columns]
        if trimmed:
            non_empty = pc.is_valid(trimmed[0])
            for column in trimmed[1:]:
                non_empty = pc.or_(non_empty, pc.is_valid(column))
            if pc.sum(non_empty).as_py() != len(numbers):
                numbers = pc.filter(numbers, non_empty)
                columns = [pc.filter(c, non_empty) for c in columns]
                trimmed = [pc.filter(c, non_empty) for c in trimmed]
        length = len(numbers)
        original = pa.table(dict(zip(names, columns, strict=True)))

        keys = [resolve_header(name) for name in names]
        source_format = _detect_source_format(keys)
        by_key: dict[str, list[int]] = {}
        for position, key in enumerate(keys):
            if key is not None:
                by_key.setdefault(key, []).append(position)

        targets: dict[str, list[int]] = {}  # canonical field -> positions of the columns feeding it
        unmapped = [names[i] for i, key in enumerate(keys) if key is None]
        for key, positions in by_key.items():
            if key in PENALTY_FIELDS:
                targets.setdefault(key, []).extend(positions)
            elif (
                source_format == "legacy"
                and LEGACY_FIELDS[key][1] is not None
                and key not in ("cf_cflb1", "cf_cflb2")
            ):
                targets.setdefault(LEGACY_FIELDS[key][1], []).extend(positions)
            elif source_format != "legacy":
                unmapped.extend(names[i] for i in positions)

        canonical: dict[str, pa.Array | pa.ChunkedArray] = {}
        header_map: dict[str, str] = {}
        for name in PENALTY_FIELDS:
            positions = targets.get(name, [])
            if positions:
                canonical[name] = _coalesce([trimmed[i] for i in positions])
                header_map[name] = names[positions[0]]
                if len(positions) > 1:
                    notes.append(
                        f"columns {', '.join(names[i] for i in positions)} all map to {name.upper()}; the first "
                        f"non-empty value is used / 多列对应同一字段 {name.upper()}，取第一个非空值"
                    )
            else:
                canonical[name] = _null_column(length)

        if source_format == "legacy":
            self._derive_legacy(canonical, header_map, by_key, names, trimmed, length, notes)

        for name in DATE_FIELDS:
            canonical[name] = map_distinct(canonical[name], normalise_date)
        for name in AMOUNT_FIELDS:
            canonical[name] = map_distinct(canonical[name], normalise_amount)
        for name in CODE_FIELDS:
            canonical[name] = pc.utf8_upper(canonical[name])

        if unmapped:
            listed = ", ".join(str(n) for n in unmapped)
            notes.append(
                f"columns not in the 双公示 format, kept as received only: {listed} / 非双公示字段，仅保留原值：{listed}"
            )
        table = pa.table(
            {"source_row": numbers, **{name: canonical[name] for name in PENALTY_FIELDS}},
            schema=CANONICAL_SCHEMA,
        )
        return ParsedFile(
            file_format=file_format,
            encoding=encoding,
            source_format=source_format,
            original=original,
            canonical=table,
            header_map=header_map,
            notes=notes,
        )

    def _derive_legacy(
        self,
        canonical: dict[str, Any],
        header_map: dict[str, str],
        by_key: dict[str, list[int]],
        names: list[str],
        trimmed: list[Any],
        length: int,
        notes: list[str],
    ) -> None:
        """Fill current fields from legacy-only columns: join the categories, derive party type and fine."""

        def legacy_column(code: str) -> Any:
            positions = by_key.get(code, [])
            return _coalesce([trimmed[i] for i in positions]) if positions else _null_column(length)

        category_codes = [c for c in ("cf_cflb1", "cf_cflb2") if c in by_key]
        if category_codes:
            first, second = legacy_column("cf_cflb1"), legacy_column("cf_cflb2")
            joined = pc.if_else(
                pc.and_(pc.is_valid(first), pc.is_valid(second)),
                pc.binary_join_element_wise(first, second, ";"),
                pc.coalesce(first, second),
            )
            canonical["cf_cflb"] = pc.coalesce(canonical["cf_cflb"], joined)
            header_map.setdefault("cf_cflb", " + ".join(names[by_key[c][0]] for c in category_codes))

        id_number = legacy_column("cf_xdr_sfz")
        has_id = pc.is_valid(id_number)
        if "cf_xdr_lb" not in header_map:
            other_codes = pc.is_valid(canonical["cf_xdr_shxym"])
            for name in ("cf_xdr_zzjg", "cf_xdr_gszc", "cf_xdr_swdj"):
                other_codes = pc.or_(other_codes, pc.is_valid(canonical[name]))
            person = pc.and_(has_id, pc.invert(other_codes))
            canonical["cf_xdr_lb"] = pc.if_else(
                person, pa.scalar("自然人", pa.string()), pa.scalar("法人及非法人组织", pa.string())
            )
        if "cf_xdr_zjlx" not in header_map and "cf_xdr_sfz" in by_key:
            canonical["cf_xdr_zjlx"] = pc.if_else(
                has_id, pa.scalar("身份证", pa.string()), canonical["cf_xdr_zjlx"]
            )
            header_map["cf_xdr_zjlx"] = names[by_key["cf_xdr_sfz"][0]]
        if "cf_nr_fk" not in header_map and "cf_nr" in header_map:
            stated = map_distinct(canonical["cf_nr"], fine_from_text)
            canonical["cf_nr_fk"] = stated
            header_map["cf_nr_fk"] = header_map["cf_nr"]
        unused = [names[by_key[c][0]] for c in LEGACY_FIELDS if c in by_key and LEGACY_FIELDS[c][1] is None]
        notes.append(
            "legacy 20-field format mapped to the current format / 旧版20字段格式已映射为现行格式"
            + (
                f" ({', '.join(unused)}: no current field, kept as received / 无对应字段，仅保留原值)"
                if unused
                else ""
            )
        )

    def _not_text(self, filename: str) -> Exception:
        return self.unreadable(filename, "不是 UTF-8 或 GBK 编码的文本", "not UTF-8 or GBK/GB18030 text")

    def _no_header(self, filename: str) -> Exception:
        return self.unreadable(
            filename,
            f"前 {self.max_header_search} 行中找不到双公示表头（如“行政相对人名称”或 CF_XDR_MC）",
            f"no recognisable 双公示 header (such as 行政相对人名称 or CF_XDR_MC) in the first "
            f"{self.max_header_search} rows",
        )


CANONICAL_SCHEMA = pa.schema(
    [pa.field("source_row", pa.int32()), *(pa.field(n, pa.string()) for n in PENALTY_FIELDS)]
)


def _coalesce(columns: list[Any]) -> Any:
    return columns[0] if len(columns) == 1 else pc.coalesce(*columns)


def _detect_source_format(keys: list[str | None]) -> str:
    """'legacy' when the headers name more legacy-only fields than current-only ones, else 'current'."""
    present = {k for k in keys if k}
    legacy_only = len(present & LEGACY_ONLY)
    current_only = len(present & (frozenset(PENALTY_FIELDS) - frozenset(LEGACY_FIELDS)))
    return "legacy" if legacy_only > current_only else "current"


def _name_columns(
    names: list[str | None], columns: list[Any], notes: list[str]
) -> tuple[list[str], list[Any]]:
    """Column names as received, made usable: headerless empty columns dropped, blanks and repeats named."""
    kept_names: list[str] = []
    kept_columns: list[Any] = []
    seen: set[str] = set()
    for position, (name, column) in enumerate(zip(names, columns, strict=True), start=1):
        if name is None or str(name).strip() == "":
            if pc.all(pc.is_null(trim_to_null(column))).as_py() in (True, None):
                continue
            name = f"column_{position}"
            notes.append(f"column {position} has no header, kept as {name} / 第 {position} 列无表头")
        name = str(name)
        if name in seen:
            renamed = f"{name}__{position}"
            notes.append(f"header '{name}' repeated in column {position}, kept as {renamed} / 表头重复")
            name = renamed
        seen.add(name)
        kept_names.append(name)
        kept_columns.append(column)
    return kept_names, kept_columns
