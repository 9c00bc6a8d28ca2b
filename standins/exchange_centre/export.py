"""The centre's own database and its file drops: the year as spec tables (MariaDB/PostgreSQL) or files.

- `seed_database(url, year)`: one table per dataset named as the spec table (TENDER_LIST ...) with the
  spec's upper-case column names, all text (VARCHAR(255), TEXT for long fields), an index on
  DATA_TIMESTAMP; one streaming pass over the year, inserted in batches. In PostgreSQL the names are
  upper case, so they are quoted identifiers ("TENDER_LIST"."BID_SECTION_CODE").
  `replace=False` appends only records newer than the table's max DATA_TIMESTAMP (after `advance`).
- `write_files(folder, year, fmt)`: `<TABLE>_<yyyyMMdd>.<fmt>` per dataset and DATA_TIMESTAMP day, written
  to a temporary name and renamed, so a watcher never reads half a file. JSON: an array of records
  (null for absent); XML: `<DATA><TABLE><FIELD>value</FIELD>...</TABLE>...</DATA>` (absent fields
  omitted); CSV: UTF-8, header of the spec's field names, empty cell for absent.
- `read_file(path)`: the records of such a file (round trip for tests and connectors' fixtures).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .generator import Record, TradingYear
from .spec import DATASETS, LONG_FIELDS, TABLES

FORMATS = ("json", "xml", "csv")


def _table(metadata: sa.MetaData, code: str) -> sa.Table:
    spec = DATASETS[code]
    columns = [sa.Column(name, sa.Text() if name in LONG_FIELDS else sa.String(255)) for name in spec.fields]
    return sa.Table(spec.table, metadata, *columns, sa.Index(f"ix_{spec.table.lower()}_ts", "DATA_TIMESTAMP"),
                    mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin")  # fmt: skip


def _engine(url: str) -> sa.Engine:
    if url.startswith("mysql"):
        return sa.create_engine(url, connect_args={"charset": "utf8mb4"})
    return sa.create_engine(url)


def ensure_database(url: str) -> None:
    """Create the database named in `url` when the server does not have it yet (MariaDB/MySQL or PostgreSQL)."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ValueError(f"the URL names no database: {target.render_as_string()}")
    if target.get_backend_name() in ("mysql", "mariadb"):
        admin_url, exists_sql = target.set(database=""), "SELECT 1 FROM information_schema.schemata WHERE schema_name = :n"
        create_sql = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
    else:
        admin_url, exists_sql = target.set(database="postgres"), "SELECT 1 FROM pg_database WHERE datname = :n"
        create_sql = f'CREATE DATABASE "{name}"'
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(sa.text(exists_sql), {"n": name}):
                conn.execute(sa.text(create_sql))
    finally:
        admin.dispose()


def seed_database(
    url: str, year: TradingYear, codes: Iterable[str] | None = None, *, replace: bool = True, batch: int = 5000,
    create_database: bool = False,
) -> dict[str, int]:
    """Write the year's visible records into spec tables at `url` (MariaDB or PostgreSQL); rows per dataset."""
    if create_database:
        ensure_database(url)
    wanted = [str(code) for code in (codes or DATASETS)]
    unknown = [code for code in wanted if code not in DATASETS]
    if unknown:
        raise ValueError(f"unknown datasets {unknown}")
    engine = _engine(url)
    metadata = sa.MetaData()
    tables = {code: _table(metadata, code) for code in wanted}
    floors: dict[str, str] = {}
    try:
        with engine.begin() as conn:
            for code, table in tables.items():
                if replace:
                    table.drop(conn, checkfirst=True)
                table.create(conn, checkfirst=True)
                if not replace:
                    floors[code] = conn.scalar(sa.select(sa.func.max(table.c.DATA_TIMESTAMP))) or ""
        clock = year.clock
        inserted = dict.fromkeys(wanted, 0)
        buffers: dict[str, list[Record]] = {code: [] for code in wanted}
        with engine.begin() as conn:
            for code, record in year.all_records():
                if code not in buffers:
                    continue
                ts = record["DATA_TIMESTAMP"] or ""
                if (clock is not None and ts > clock) or ts <= floors.get(code, ""):
                    continue
                buffers[code].append(record)
                if len(buffers[code]) >= batch:
                    conn.execute(tables[code].insert(), buffers[code])
                    inserted[code] += len(buffers[code])
                    buffers[code] = []
            for code, rows in buffers.items():
                if rows:
                    conn.execute(tables[code].insert(), rows)
                    inserted[code] += len(rows)
    finally:
        engine.dispose()
    return inserted


def _xml_record(table: str, record: Record) -> str:
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in record.items() if value is not None)
    return f"<{table}>{inner}</{table}>\n"


class _DayFile:
    """One open `<TABLE>_<yyyyMMdd>.<fmt>` being written (to a temporary name until closed)."""

    def __init__(self, folder: Path, code: str, day: str, fmt: str) -> None:
        spec = DATASETS[code]
        self.path = folder / f"{spec.table}_{day}.{fmt}"
        self.tmp = self.path.with_name("." + self.path.name + ".part")
        self.fmt = fmt
        self.spec = spec
        self.count = 0
        self.fh = self.tmp.open("w", encoding="utf-8", newline="")
        if fmt == "json":
            self.fh.write("[")
        elif fmt == "xml":
            self.fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<DATA>\n')
        else:
            self.writer = csv.writer(self.fh)
            self.writer.writerow(spec.fields)

    def write(self, record: Record) -> None:
        if self.fmt == "json":
            self.fh.write(("\n" if not self.count else ",\n") + json.dumps(record, ensure_ascii=False))
        elif self.fmt == "xml":
            self.fh.write(_xml_record(self.spec.table, record))
        else:
            self.writer.writerow(["" if record.get(name) is None else record[name] for name in self.spec.fields])
        self.count += 1

    def close(self) -> Path:
        if self.fmt == "json":
            self.fh.write("\n]\n")
        elif self.fmt == "xml":
            self.fh.write("</DATA>\n")
        self.fh.close()
        self.tmp.replace(self.path)
        return self.path


def write_files(folder: str | Path, year: TradingYear, fmt: str, codes: Iterable[str] | None = None) -> list[Path]:
    """Drop the year's visible records as `<TABLE>_<yyyyMMdd>.<fmt>` files (one per dataset and day)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for code in [str(c) for c in (codes or DATASETS)]:
        current: _DayFile | None = None
        for record in year.records(code):
            day = (record["DATA_TIMESTAMP"] or "")[:8]
            if current is None or not current.path.name.endswith(f"_{day}.{fmt}"):
                if current is not None:
                    written.append(current.close())
                current = _DayFile(out, code, day, fmt)
            current.write(record)
        if current is not None:
            written.append(current.close())
    return written


def read_file(path: str | Path) -> list[Record]:
    """The records of a `<TABLE>_<yyyyMMdd>.<fmt>` file written by write_files (all spec fields, None if absent)."""
    path = Path(path)
    table = path.name.rsplit("_", 1)[0]
    spec = DATASETS[TABLES[table]]
    fmt = path.suffix.lstrip(".").lower()
    text = path.read_text(encoding="utf-8-sig")
    rows: list[dict[str, Any]]
    if fmt == "json":
        rows = json.loads(text)
    elif fmt == "xml":
        root = ElementTree.fromstring(text.encode("utf-8"))
        rows = [{child.tag: child.text or "" for child in element} for element in root]
    elif fmt == "csv":
        rows = [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]
    else:
        raise ValueError(f"unknown file format {fmt!r}")
    return [{name: row.get(name) for name in spec.fields} for row in rows]
