"""Bids files for `ggzy screen`: read CSV or Parquet, check them, write the per-section result.

Input: one row per bid with columns section_id, bidder_id, bid_price and optionally estimate (控制价),
names case-insensitive. CSV is read as UTF-8 (with or without BOM), falling back to GB18030, the usual
encoding of Chinese spreadsheet exports. Every problem raises `HubError` naming the file, the row (CSV:
line number, header = line 1; Parquet: record number from 1), the field and the rule, in Chinese and English.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ggzy.errors import HubError

REQUIRED_COLUMNS = ("section_id", "bidder_id", "bid_price")
OPTIONAL_COLUMNS = ("estimate",)
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
CSV_ENCODINGS = ("utf-8", "gb18030")


def file_format(path: Path) -> str:
    """'csv' or 'parquet' from the file name's extension; anything else is a bilingual error."""
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise HubError(
            "unsupported_format",
            f"文件“{path}”的扩展名不受支持：请使用 .csv 或 .parquet",
            f"file '{path}': unsupported extension, use .csv or .parquet",
            status_code=422,
            detail={"file": str(path), "rule": "extension"},
        )
    return kind


def _unreadable(path: Path, reason_zh: str, reason_en: str) -> HubError:
    return HubError(
        "unreadable_file",
        f"无法读取文件“{path}”：{reason_zh}",
        f"cannot read file '{path}': {reason_en}",
        status_code=422,
        detail={"file": str(path), "reason": reason_en},
    )


def _csv_header(path: Path, encoding: str) -> list[str]:
    """Column names from the first line (BOM removed), so every column can be read as text."""
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as handle:
        return next(csv.reader([handle.readline()]), [])


def _read_csv(path: Path) -> pa.Table:
    """Every column as text (ids keep leading zeros; prices are checked row by row afterwards)."""
    problem = ""
    for encoding in CSV_ENCODINGS:
        try:
            names = _csv_header(path, encoding)
            return pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(encoding=encoding),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in names}, strings_can_be_null=True
                ),
            )
        except UnicodeDecodeError as exc:
            problem = str(exc)
        except pa.ArrowInvalid as exc:
            if "UTF8" not in str(exc) and "utf-8" not in str(exc).lower():
                raise _unreadable(path, f"不是有效的CSV（{exc}）", f"not a valid CSV file ({exc})") from exc
            problem = str(exc)
    raise _unreadable(
        path,
        f"文本编码无法识别，请另存为UTF-8（{problem}）",
        f"unknown text encoding, save as UTF-8 ({problem})",
    )


def _read_table(path: Path) -> tuple[pa.Table, int]:
    """The file as an Arrow table and the offset from row index to the row number users see."""
    kind = file_format(path)
    if not Path(path).is_file():
        raise _unreadable(path, "文件不存在", "no such file")
    if kind == "csv":
        return _read_csv(path), 2
    try:
        return pq.read_table(path), 1
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(
            path, f"不是有效的Parquet文件（{exc}）", f"not a valid Parquet file ({exc})"
        ) from exc


def _invalid(
    path: Path, row: int, field: str, value: object, rule: str, zh: str, en: str, count: int
) -> HubError:
    more_zh = f"（共{count}行有此问题）" if count > 1 else ""
    more_en = f" ({count} rows have this problem)" if count > 1 else ""
    return HubError(
        "invalid_value",
        f"文件“{path}”第{row}行字段“{field}”（规则 {rule}）：{zh}，值为“{value}”{more_zh}",
        f"file '{path}' row {row} field '{field}' (rule {rule}): {en}, value '{value}'{more_en}",
        status_code=422,
        detail={
            "file": str(path),
            "row": row,
            "field": field,
            "value": str(value),
            "rule": rule,
            "rows": count,
        },
    )


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cells as trimmed text, empty cells as null."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)


def _first(mask: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(mask)
    return int(rows[0]), len(rows)


def _numbers(path: Path, table: pa.Table, name: str, field: str, offset: int, required: bool) -> np.ndarray:
    """A column as float64: non-numeric, non-positive or (when required) empty cells are errors."""
    column = table.column(name)
    if not (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_decimal(column.type)
    ):
        text = _text(column)
        try:
            column = text.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            parsed = pd.to_numeric(pd.Series(text.to_pandas(), dtype=object), errors="coerce")
            bad = parsed.isna().to_numpy() & ~text.is_null().to_numpy(zero_copy_only=False)
            row, count = _first(bad)
            raise _invalid(
                path,
                row + offset,
                field,
                text[row].as_py(),
                "numeric",
                "不是数字（请去掉千分位逗号和单位）",
                "not a number (remove thousands separators and units)",
                count,
            ) from None
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    missing = np.isnan(values)
    if required and missing.any():
        row, count = _first(missing)
        raise _invalid(path, row + offset, field, "", "required", "不能为空", "must not be empty", count)
    with np.errstate(invalid="ignore"):
        bad = (~missing & ~(values > 0)) | np.isinf(values)
    if bad.any():
        row, count = _first(bad)
        raise _invalid(
            path,
            row + offset,
            field,
            values[row],
            "positive",
            "必须是正数（元）",
            "must be a positive amount (元)",
            count,
        )
    return values


def _identifiers(path: Path, table: pa.Table, name: str, field: str, offset: int) -> pd.Series:
    """A column as text; empty cells are errors."""
    text = _text(table.column(name))
    if text.null_count:
        row, count = _first(text.is_null().to_numpy(zero_copy_only=False))
        raise _invalid(path, row + offset, field, "", "required", "不能为空", "must not be empty", count)
    return pd.Series(text.to_pandas(types_mapper=pd.ArrowDtype), dtype="string")


def read_bids(path: Path) -> pd.DataFrame:
    """Read and check a bids file; returns section_id, bidder_id, bid_price (and estimate) columns."""
    path = Path(path)
    table, offset = _read_table(path)
    names = {name.strip().lower(): name for name in table.column_names}
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise HubError(
            "missing_column",
            f"文件“{path}”缺少必需的列：{', '.join(missing)}（需要 section_id, bidder_id, bid_price，可选 estimate）",
            f"file '{path}' lacks required column(s): {', '.join(missing)}"
            " (needs section_id, bidder_id, bid_price; optional estimate)",
            status_code=422,
            detail={
                "file": str(path),
                "field": missing[0],
                "missing": missing,
                "found": table.column_names,
                "rule": "required_column",
            },
        )
    bids = pd.DataFrame(
        {
            "section_id": _identifiers(path, table, names["section_id"], "section_id", offset),
            "bidder_id": _identifiers(path, table, names["bidder_id"], "bidder_id", offset),
            "bid_price": _numbers(path, table, names["bid_price"], "bid_price", offset, required=True),
        }
    )
    if "estimate" in names:
        bids["estimate"] = _numbers(path, table, names["estimate"], "estimate", offset, required=False)
    duplicated = bids.duplicated(["section_id", "bidder_id"]).to_numpy()
    if duplicated.any():
        rows = np.flatnonzero(duplicated)
        first = rows[0]
        raise _invalid(
            path,
            int(first) + offset,
            "bidder_id",
            bids["bidder_id"].iloc[first],
            "one_bid_per_bidder",
            f"同一投标人在标段“{bids['section_id'].iloc[first]}”中出现多次（每个投标人每个标段一行）",
            f"bidder appears more than once in section '{bids['section_id'].iloc[first]}'"
            " (one row per bidder and section)",
            len(rows),
        )
    return bids


def write_sections(result: pd.DataFrame, path: Path) -> None:
    """Write the per-section result as CSV (UTF-8 with BOM, opens in Excel) or Parquet, by extension."""
    path = Path(path)
    kind = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(result, preserve_index=False)
    try:
        if kind == "csv":
            table = pa.table(
                {
                    n: c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
                    for n, c in zip(table.column_names, table.columns, strict=True)
                }
            )
            with open(path, "wb") as handle:
                handle.write("\ufeff".encode())
                pacsv.write_csv(table, handle, pacsv.WriteOptions(quoting_style="needed"))
        else:
            pq.write_table(table, path)
    except OSError as exc:
        raise HubError(
            "unwritable_file",
            f"无法写入文件“{path}”：{exc}",
            f"cannot write file '{path}': {exc}",
            status_code=422,
            detail={"file": str(path), "reason": str(exc)},
        ) from exc
