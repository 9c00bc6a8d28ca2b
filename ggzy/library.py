"""The oversight library: scoped read-only sessions, its catalogue, searches, exports and the free-SQL runner.

Every library read runs on a connection logged in as `ggzy_sql` (member of `ggzy_library_reader`, which may
only SELECT the `library` views; see schemas/migrations/versions/0002_oversight.py). Which rows a session
sees is bound to the PostgreSQL backend itself, in `oversight.sql_scope`, by the API role when the
connection is opened: each sharing scope ('*' for oversight bodies and admins, one unit code per member
unit) has its own small connection pool, so a scope is written once per connection, never per request,
and no statement a reader sends can change it. We chose this over `SET LOCAL ggzy.unit = ...` because any
SELECT may call set_config() and rebind a custom setting mid-statement; a table the reader cannot write
cannot be rebound. Each use runs in a READ ONLY transaction with a statement timeout, and the session is
reset (DISCARD ALL) before the connection goes back to its pool.

Adding datasets: a migration adds `library.<view>` (security barrier, filtered on
`(SELECT oversight.session_scope())`, commented in zh + en, SELECT granted to ggzy_library_reader); the
catalogue, search, export and SQL endpoints pick it up with no code change, an entity-profile section
lights up when its view in PROFILE_SECTIONS exists, and a section-dossier part when its view in DOSSIER_PARTS
does (0006_library_trading added the trading, credit and supervision views).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import psycopg2
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ggzy.errors import HubError
from ggzy.identifiers import personal_id_cipher
from ggzy.settings import Settings

SQL_ROLE = "ggzy_sql"
READER_ROLE = "ggzy_library_reader"
ALL_UNITS = "*"
CURSOR_NAME = "ggzy_library_q"
DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 30_000
DEFAULT_MAX_ROWS = 1_000
MAX_ROWS = 10_000
EXPORT_BATCH_ROWS = 20_000
CATALOG_TTL_SECONDS = 60.0
SCOPED_ROLES = {"oversight": True, "admin": True, "member": False}  # role -> sees every unit

# Entity-profile sections: (section, library view, USCC column). A section whose view does not exist yet
# (the trading datasets arrive with their own migration) is returned empty with a note.
PROFILE_SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("penalties", "penalty_decisions", "party_uscc"),
    ("bids", "bids", "bidder_uscc"),
    ("wins", "wins", "winner_uscc"),
    ("restrictions", "restrictions", "entity_uscc"),
    ("alerts", "alerts", "entity_uscc"),
    ("co_bidders", "co_bidders", "entity_uscc"),
)
PROFILE_ROW_CAP = 500


def sql_role_password(settings: Settings) -> str:
    """The SQL login's password, derived from the hub secret like the API role's (see 0002_oversight)."""
    from ggzy.database import role_password

    return role_password(settings, b"ggzy-sql-role")


def reader_url(settings: Settings) -> str:
    """URL of the library reader login (ggzy_sql) on the warehouse database."""
    from ggzy import database

    url = make_url(database.warehouse_url(settings)).set(
        username=SQL_ROLE, password=sql_role_password(settings)
    )
    return url.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Scope:
    """What a session may see: every unit ('*') or one member unit's share."""

    unit: str  # ALL_UNITS or a unit code

    @property
    def all_units(self) -> bool:
        """True for oversight bodies and admins."""
        return self.unit == ALL_UNITS


def scope_for(role: str, org_code: str) -> Scope:
    """The sharing scope of a caller; roles outside SCOPED_ROLES have no library access."""
    if role not in SCOPED_ROLES:
        raise HubError(
            "library_not_allowed", f"角色“{role}”无权访问监督查询库", f"role '{role}' may not read the oversight library",
            status_code=403, detail={"role": role},
        )  # fmt: skip
    return Scope(ALL_UNITS if SCOPED_ROLES[role] else org_code)


class LibraryReader:
    """Connection pools of the ggzy_sql login, one per sharing scope, each backend bound on connect."""

    def __init__(self, settings: Settings, api_engine: sa.Engine, *, all_units_pool: int = 16) -> None:
        self.url = reader_url(settings)
        self.api_engine = api_engine
        self.all_units_pool = all_units_pool
        self._engines: dict[str, sa.Engine] = {}
        self._lock = threading.Lock()
        self._catalog: tuple[float, dict[str, ViewInfo]] | None = None

    def engine(self, scope: Scope) -> sa.Engine:
        """The pool for this scope (created on first use); every new connection is bound before use."""
        with self._lock:
            if scope.unit not in self._engines:
                # The oversight pool keeps every connection it opens (no overflow: an overflow connection is
                # closed on return, and opening and binding a backend per request under load cost more than
                # waiting for a pooled one); a member unit's scope is small and rarely busy.
                size = self.all_units_pool if scope.all_units else 1
                engine = sa.create_engine(
                    self.url, pool_size=size, max_overflow=0 if scope.all_units else 3,
                    pool_pre_ping=True, isolation_level="AUTOCOMMIT",
                )  # fmt: skip
                sa.event.listen(engine, "connect", self._binder(scope))
                self._engines[scope.unit] = engine
            return self._engines[scope.unit]

    def _binder(self, scope: Scope):
        def bind(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
            cursor.close()
            with self.api_engine.begin() as conn:
                bound = conn.scalar(
                    sa.text("SELECT oversight.bind_session(:pid, :all, :unit, NULL)"),
                    {"pid": pid, "all": scope.all_units, "unit": None if scope.all_units else scope.unit},
                )
            if not bound:
                raise RuntimeError(f"could not bind library session {pid} to scope {scope.unit}")

        return bind

    @contextmanager
    def session(self, scope: Scope, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Iterator[sa.Connection]:
        """A READ ONLY transaction on a bound reader connection; rolled back and reset (DISCARD ALL) after."""
        with self.engine(scope).connect() as conn:
            # One round trip to open (each statement on its own was one). Closing takes two: DISCARD ALL (which
            # also drops session-level state a reader's query could leave, such as advisory locks) cannot
            # share a query string with the ROLLBACK, as it may not run inside a transaction block.
            conn.exec_driver_sql(
                "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY;"
                f" SET LOCAL statement_timeout = {int(timeout_ms)}; SET LOCAL search_path = library"
            )
            try:
                yield conn
            finally:
                try:
                    conn.exec_driver_sql("ROLLBACK")
                    conn.exec_driver_sql("DISCARD ALL")
                except sa.exc.DBAPIError:
                    conn.invalidate()

    def catalog(self, scope: Scope) -> dict[str, ViewInfo]:
        """The library views and their columns with bilingual comments (cached for a minute)."""
        now = time.monotonic()
        if self._catalog is None or now - self._catalog[0] > CATALOG_TTL_SECONDS:
            with self.session(scope) as conn:
                self._catalog = (now, load_catalog(conn))
        return self._catalog[1]

    def dispose(self) -> None:
        """Close every pooled reader connection."""
        with self._lock:
            while self._engines:
                self._engines.popitem()[1].dispose()


@dataclass
class ColumnInfo:
    """One library column: name, PostgreSQL type and its bilingual comment."""

    name: str
    type: str
    comment: str | None


@dataclass
class ViewInfo:
    """One library view: name, bilingual comment and columns in order."""

    name: str
    comment: str | None
    columns: list[ColumnInfo] = field(default_factory=list)

    def column(self, name: str) -> ColumnInfo:
        """The named column or a bilingual 400 listing the valid ones."""
        for column in self.columns:
            if column.name == name:
                return column
        raise HubError(
            "unknown_column", f"视图 library.{self.name} 没有列“{name}”", f"view library.{self.name} has no column '{name}'",
            detail={"view": self.name, "column": name, "columns": [c.name for c in self.columns]},
        )  # fmt: skip


_CATALOG_SQL = """
SELECT c.relname AS view, obj_description(c.oid, 'pg_class') AS view_comment, a.attname AS column,
       format_type(a.atttypid, a.atttypmod) AS type, col_description(c.oid, a.attnum) AS column_comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'library' AND c.relkind IN ('v', 'm') AND has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname, a.attnum
"""


def load_catalog(conn: sa.Connection) -> dict[str, ViewInfo]:
    """Every library view the session may read, with its columns, straight from pg_catalog."""
    views: dict[str, ViewInfo] = {}
    for row in conn.exec_driver_sql(_CATALOG_SQL):
        view = views.setdefault(row.view, ViewInfo(row.view, row.view_comment))
        view.columns.append(ColumnInfo(row.column, row.type, row.column_comment))
    return views


def get_view(catalog: dict[str, ViewInfo], name: str) -> ViewInfo:
    """The named library view or a bilingual 404 listing the views."""
    if name not in catalog:
        raise HubError(
            "unknown_view", f"监督查询库中没有视图“{name}”", f"the library has no view '{name}'", status_code=404,
            detail={"view": name, "views": sorted(catalog)},
        )  # fmt: skip
    return catalog[name]


def quote_ident(name: str) -> str:
    """A SQL identifier quoted (names come from the catalogue, this is belt and braces)."""
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------- searches with filters

FILTER_OPS = {
    "eq": "=",
    "ne": "<>",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "contains": None,
    "prefix": None,
}
_FILTER_RE = re.compile(r"^(?P<column>[a-z_][a-z0-9_]*):(?P<op>[a-z]+):(?P<value>.*)$", re.S)


@dataclass
class Filter:
    """column op value, e.g. party_uscc:eq:91410800MA0000001X."""

    column: str
    op: str
    value: str

    def to_text(self) -> str:
        """The canonical form logged in the audit row."""
        return f"{self.column}:{self.op}:{self.value}"


def parse_filter(text: str) -> Filter:
    """Parse 'column:op:value'; a bilingual 400 naming the allowed operators otherwise."""
    match = _FILTER_RE.match(text)
    if not match or match["op"] not in FILTER_OPS:
        raise HubError(
            "invalid_filter", f"筛选条件“{text}”格式应为 列名:运算符:值，运算符为 {'、'.join(FILTER_OPS)}",
            f"filter '{text}' must be column:op:value with op one of {', '.join(FILTER_OPS)}",
            detail={"filter": text, "ops": list(FILTER_OPS)},
        )  # fmt: skip
    return Filter(match["column"], match["op"], match["value"])


def where_clause(view: ViewInfo, filters: list[Filter]) -> tuple[str, dict[str, Any]]:
    """SQL WHERE for validated filters; values are bound parameters cast to the column's type."""
    clauses, values = [], {}
    for i, item in enumerate(filters):
        column = view.column(item.column)
        name = f"f{i}"
        ident = quote_ident(column.name)
        if item.op == "contains":
            escaped = item.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(f"CAST({ident} AS text) ILIKE :{name} ESCAPE '\\'")
            values[name] = f"%{escaped}%"
        elif item.op == "prefix":
            clauses.append(f"starts_with(CAST({ident} AS text), :{name})")
            values[name] = item.value
        elif column.type.endswith("[]"):
            # Arrays: eq/ne test membership of one element (e.g. penalty_categories:eq:罚款).
            element = column.type[:-2]
            test = f"CAST(:{name} AS {element}) = ANY({ident})"
            clauses.append(test if item.op == "eq" else f"NOT ({test})" if item.op == "ne" else "false")
            values[name] = item.value
        else:
            clauses.append(f"{ident} {FILTER_OPS[item.op]} CAST(:{name} AS {column.type})")
            values[name] = item.value
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


def view_query(
    view: ViewInfo, filters: list[Filter], order_by: str | None, descending: bool
) -> tuple[str, dict]:
    """SELECT of every column of a view with filters and a deterministic order (no paging)."""
    where, values = where_clause(view, filters)
    order_column = view.column(order_by).name if order_by else view.columns[0].name
    columns = ", ".join(quote_ident(c.name) for c in view.columns)
    direction = "DESC" if descending else "ASC"
    sql = f"SELECT {columns} FROM library.{quote_ident(view.name)}{where} ORDER BY {quote_ident(order_column)} {direction}"
    if order_by and order_column != view.columns[0].name:
        sql += f", {quote_ident(view.columns[0].name)}"
    return sql, values


def data_error(exc: sa.exc.DBAPIError, what: str) -> HubError:
    """A PostgreSQL data error (bad cast of a filter value, overflow) as a bilingual 400."""
    message = str(getattr(exc, "orig", exc)).splitlines()[0]
    return HubError(
        "invalid_filter_value", f"筛选值无法按列类型解释：{message}", f"a filter value does not fit its column type: {message}",
        detail={"query": what, "sqlstate": getattr(getattr(exc, "orig", None), "pgcode", None)},
    )  # fmt: skip


def search_view(
    conn: sa.Connection, view: ViewInfo, filters: list[Filter], *, order_by: str | None, descending: bool,
    limit: int, offset: int,
) -> tuple[list[dict[str, Any]], bool, str]:  # fmt: skip
    """One page of a view's rows as dicts, whether more exist, and the SQL that ran."""
    sql, values = view_query(view, filters, order_by, descending)
    sql += " LIMIT :limit OFFSET :offset"
    try:
        rows = conn.execute(sa.text(sql), {**values, "limit": limit + 1, "offset": offset}).mappings().all()
    except sa.exc.DataError as exc:
        raise data_error(exc, sql) from None
    return [dict(row) for row in rows[:limit]], len(rows) > limit, sql


# ---------------------------------------------------------------- entity profile


PROFILE_NAME_COLUMNS = ("party_name", "bidder_name", "winner_name", "entity_name", "body_name")

# Section dossier parts: (part, library view, key column, key): key "section" matches the bid section code,
# "project" its tender project code. Parts whose view the session's scope hides come back empty.
DOSSIER_PARTS: tuple[tuple[str, str, str, str], ...] = (
    ("announcements", "announcements", "tender_project_code", "project"),
    ("bids", "bids", "bid_section_code", "section"),
    ("fingerprints", "fingerprints", "bid_section_code", "section"),
    ("deposits", "deposits", "bid_section_code", "section"),
    ("experts", "experts", "bid_section_code", "section"),
    ("candidates", "candidates", "bid_section_code", "section"),
    ("result", "wins", "bid_section_code", "section"),
    ("contracts", "contracts", "bid_section_code", "section"),
    ("complaints", "complaints", "bid_section_code", "section"),
    ("alerts", "alerts", "bid_section_code", "section"),
    ("exchange_alerts", "exchange_alerts", "bid_section_code", "section"),
    ("scores", "section_scores", "bid_section_code", "section"),
)


def view_rows(
    conn: sa.Connection, catalog: dict[str, ViewInfo], label: str, view_name: str, column: str, value: str,
    *, descending: bool,
) -> dict[str, Any]:  # fmt: skip
    """Rows of one view where column = value, capped, as a profile/dossier part; a missing view says so."""
    view = catalog.get(view_name)
    if view is None or all(c.name != column for c in view.columns):
        return {
            "available": False, "items": [], "truncated": False,
            "note": {"zh": f"数据集“{label}”尚未接入本中心（视图 library.{view_name} 不存在）",
                     "en": f"dataset '{label}' is not in the hub yet (no view library.{view_name})"},
        }  # fmt: skip
    order = "decision_date" if any(c.name == "decision_date" for c in view.columns) else view.columns[0].name
    rows = conn.execute(
        sa.text(f"SELECT * FROM library.{quote_ident(view_name)} WHERE {quote_ident(column)} = :value"
                f" ORDER BY {quote_ident(order)} {'DESC' if descending else 'ASC'} LIMIT :cap"),
        {"value": value, "cap": PROFILE_ROW_CAP + 1},
    ).mappings().all()  # fmt: skip
    return {
        "available": True,
        "items": [dict(row) for row in rows[:PROFILE_ROW_CAP]],
        "truncated": len(rows) > PROFILE_ROW_CAP,
        "note": None,
    }


def entity_profile(conn: sa.Connection, catalog: dict[str, ViewInfo], uscc: str) -> dict[str, Any]:
    """Everything the library holds about one entity, section by section; absent datasets say so."""
    sections = {
        section: view_rows(conn, catalog, section, view_name, column, uscc, descending=True)
        for section, view_name, column in PROFILE_SECTIONS
    }
    names = {
        str(item[key])
        for part in sections.values()
        for item in part["items"]
        for key in PROFILE_NAME_COLUMNS
        if item.get(key)
    }
    return {"uscc": uscc, "names": sorted(names), "sections": sections}


def section_dossier(
    conn: sa.Connection, catalog: dict[str, ViewInfo], bid_section_code: str
) -> dict[str, Any]:
    """Everything the library holds about one 标段: the section, its tender project and every part; 404 if unknown."""
    found = view_rows(
        conn, catalog, "sections", "sections", "bid_section_code", bid_section_code, descending=False
    )
    if not found["items"]:
        raise HubError(
            "section_not_found", f"监督查询库中没有标段“{bid_section_code}”",
            f"the library holds no bid section '{bid_section_code}'", status_code=404,
            detail={"bid_section_code": bid_section_code},
        )  # fmt: skip
    section = found["items"][0]
    project_code = section.get("tender_project_code")
    projects = view_rows(conn, catalog, "tender_projects", "tender_projects", "tender_project_code",
                         project_code or "", descending=False)  # fmt: skip
    keys = {"section": bid_section_code, "project": project_code or ""}
    parts = {
        part: view_rows(conn, catalog, part, view_name, column, keys[key], descending=False)
        for part, view_name, column, key in DOSSIER_PARTS
    }
    return {
        "bid_section_code": bid_section_code,
        "section": section,
        "tender_project": projects["items"][0] if projects["items"] else None,
        "parts": parts,
    }


# ---------------------------------------------------------------- free SQL


@dataclass
class SqlResult:
    """Columns (name, type), rows, and whether the row cap cut the result."""

    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool


def run_sql(conn: sa.Connection, sql: str, max_rows: int) -> SqlResult:
    """Run one user statement through oversight.open_query (PostgreSQL refuses anything but one query)."""
    try:
        conn.execute(sa.text("SELECT oversight.open_query(:name, :sql)"), {"name": CURSOR_NAME, "sql": sql})
        cursor = conn.exec_driver_sql(f"FETCH FORWARD {int(max_rows) + 1} FROM {CURSOR_NAME}")
        description = cursor.cursor.description or []
        rows = [list(row) for row in cursor.fetchall()]
        oids = sorted({col.type_code for col in description})
        types = dict(
            conn.execute(sa.text("SELECT oid::int, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(:o)"),
                         {"o": oids}).all()
        ) if oids else {}  # fmt: skip
    except sa.exc.DBAPIError as exc:
        raise sql_refusal(exc, sql) from None
    columns = [
        {"name": col.name, "type": types.get(col.type_code, str(col.type_code))} for col in description
    ]
    return SqlResult(columns, rows[:max_rows], len(rows) > max_rows)


_NOT_A_QUERY = re.compile(r"cannot open (?P<kind>[A-Z ]+?) query as cursor")
_DENIED = re.compile(
    r"permission denied for (?P<kind>schema|table|view|function|relation|sequence) (?P<name>\S+)"
)
_WRITE_KINDS = ("INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "GRANT", "REVOKE",
                "SELECT INTO", "CREATE TABLE AS", "VACUUM", "COMMENT", "LOCK", "CALL", "DO")  # fmt: skip
_SETTING_KINDS = ("SET", "RESET", "SET ROLE", "RESET ROLE", "SET SESSION AUTHORIZATION", "DISCARD", "LOAD")


def sql_refusal(exc: sa.exc.DBAPIError, sql: str) -> HubError:
    """Map PostgreSQL's refusal of a user statement to one clear bilingual error."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "pgcode", None)
    message = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else "error"
    detail: dict[str, Any] = {"sqlstate": code, "postgresql": message}
    if isinstance(orig, ValueError) or code is None and "NUL" in message:
        return HubError("sql_invalid", "SQL 文本包含不允许的字符（NUL）", "the SQL text contains a NUL character",
                        detail=detail)  # fmt: skip
    if code == "42P11" and "multi-query" in message:
        return HubError(
            "sql_multiple_statements", "只允许一条查询语句（SELECT），不能用分号连接多条语句",
            "only one query (SELECT) is allowed; statements joined by ';' are refused", status_code=400, detail=detail,
        )  # fmt: skip
    if code == "42P11" and (match := _NOT_A_QUERY.search(message)):
        kind = match["kind"].strip()
        detail["statement"] = kind
        if kind == "COPY":
            return HubError("sql_copy_refused", "不允许执行 COPY（包括 COPY ... TO PROGRAM），请使用导出接口",
                            "COPY (including COPY ... TO PROGRAM) is refused; use the export endpoint",
                            status_code=403, detail=detail)  # fmt: skip
        if kind in _SETTING_KINDS or kind.startswith("SET") or kind.startswith("RESET"):
            return HubError("sql_setting_refused", f"不允许修改会话设置或角色（{kind}）",
                            f"changing settings or roles ({kind}) is refused", status_code=403, detail=detail)  # fmt: skip
        if kind in _WRITE_KINDS or kind.split()[0] in _WRITE_KINDS:
            return HubError("sql_write_refused", f"监督查询库只读，不允许 {kind}", f"the library is read-only: {kind} is refused",
                            status_code=403, detail=detail)  # fmt: skip
        return HubError("sql_not_a_query", f"只允许一条查询语句（SELECT），不允许 {kind}",
                        f"only a single query (SELECT) is allowed, not {kind}", status_code=403, detail=detail)  # fmt: skip
    if code in ("25006", "0A000") and ("read-only" in message or "non-volatile" in message):
        return HubError("sql_write_refused", "监督查询库只读，不允许写入或修改", "the library is read-only: writes are refused",
                        status_code=403, detail=detail)  # fmt: skip
    if code == "42501":
        match = _DENIED.search(message)
        if match:
            detail.update({"object_kind": match["kind"], "object": match["name"]})
        if "set role" in message or "set parameter" in message or "to set" in message:
            return HubError("sql_setting_refused", "不允许切换角色或修改受保护的设置", "switching roles or protected settings is refused",
                            status_code=403, detail=detail)  # fmt: skip
        if match and match["kind"] == "function":
            return HubError(
                "sql_function_refused", f"不允许调用函数 {match['name']}（文件、网络和服务器函数均被禁止）",
                f"calling {match['name']} is refused (file, network and server functions are not available)",
                status_code=403, detail=detail,
            )  # fmt: skip
        name = match["name"] if match else "?"
        return HubError(
            "sql_object_refused", f"只能查询 library 模式中的视图，无权访问 {name}（审计、凭证、原始数据等均不可见）",
            f"only the library views may be read; {name} is not accessible (audit, credentials, raw data are not)",
            status_code=403, detail=detail,
        )  # fmt: skip
    if code == "42883":
        return HubError(
            "sql_function_refused", "调用的函数不存在或不可用（dblink 等网络、文件函数均未提供）",
            "the function called does not exist or is not available (no dblink, network or file functions)",
            status_code=403, detail=detail,
        )  # fmt: skip
    if code == "57014":
        return HubError("sql_timeout", "查询超时已被终止，请缩小范围或提高 timeout_ms（上限 30000）",
                        "the query ran past its statement timeout and was cancelled; narrow it or raise timeout_ms (max 30000)",
                        status_code=408, detail=detail)  # fmt: skip
    if code in ("42P01", "3F000"):
        return HubError("sql_unknown_relation", f"表或视图不存在：{message}", f"no such table or view: {message}",
                        detail=detail)  # fmt: skip
    if code == "42601":
        return HubError(
            "sql_syntax_error", f"SQL 语法错误：{message}", f"SQL syntax error: {message}", detail=detail
        )
    return HubError("sql_error", f"查询无法执行：{message}", f"the query failed: {message}", detail=detail)


def json_value(value: Any) -> Any:
    """A database value as JSON can carry it (decimals as strings keep their exact digits)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


# ---------------------------------------------------------------- exports


EXPORT_FORMATS = ("parquet", "csv")


def arrow_type(pg_type: str) -> Any:
    """The Arrow type a library column is exported as (unknown types become strings)."""
    import pyarrow as pa

    base = pg_type.split("(")[0].strip()
    if pg_type.endswith("[]"):
        return pa.list_(arrow_type(pg_type[:-2]))
    if base.startswith("numeric") and "(" in pg_type:
        precision, scale = (int(x) for x in pg_type.split("(")[1].rstrip(")").split(","))
        return pa.decimal128(precision, scale)
    simple = {
        "bigint": pa.int64(), "integer": pa.int32(), "smallint": pa.int16(), "boolean": pa.bool_(),
        "date": pa.date32(), "double precision": pa.float64(), "real": pa.float32(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"), "timestamp without time zone": pa.timestamp("us"),
    }  # fmt: skip
    return simple.get(base, pa.string())


@dataclass
class ExportFile:
    """A finished export in a temporary file: its rows, sha256, bytes and the SQL that produced it."""

    file: BinaryIO
    rows: int
    sha256: str
    byte_size: int
    sql: str
    media_type: str

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The file's bytes in chunks (the response streams these), closing the file at the end."""
        try:
            self.file.seek(0)
            while chunk := self.file.read(size):
                yield chunk
        finally:
            self.file.close()


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts every byte on its way to the underlying file."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = bytes(data)
        self.digest.update(view)
        self.size += len(view)
        self.target.write(view)
        return len(view)


ARRAY_SEPARATOR = chr(31)  # joins array elements on their way to Parquet (unit separator: never in the data)


def _copy_expression(column: ColumnInfo, fmt: str) -> str:
    """How a column travels in the export's CSV: arrays as JSON text (CSV) or joined by U+001F (Parquet), JSON
    as text, times as ISO 8601 UTC."""
    ident = quote_ident(column.name)
    if column.type.endswith("[]"):
        if fmt == "parquet":
            return f"array_to_string({ident}, chr(31)) AS {ident}"
        return f"CAST(to_json({ident}) AS text) AS {ident}"
    if fmt == "parquet":
        return ident  # pyarrow parses PostgreSQL's own output (UTC, ISO): faster than to_char on every row
    if column.type == "timestamp with time zone":
        return f"""to_char({ident} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS {ident}"""
    if column.type in ("boolean", "json", "jsonb", "uuid"):
        return f"CAST({ident} AS text) AS {ident}"
    return ident


def _csv_to_parquet(raw: BinaryIO, sink: Any, view: ViewInfo, batch_rows: int) -> int:
    """Re-read the COPY output with pyarrow's streaming CSV reader and write typed Parquet batches."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c.name, arrow_type(c.type)) for c in view.columns])
    text_types = {f.name: pa.string() if pa.types.is_list(f.type) else f.type for f in schema}
    reader = pacsv.open_csv(
        raw,
        read_options=pacsv.ReadOptions(block_size=4 << 20, use_threads=True),
        convert_options=pacsv.ConvertOptions(
            column_types=text_types,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],  # PostgreSQL's boolean output
        ),
    )
    rows = 0
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in reader:
            arrays = []
            for field_ in schema:
                column = batch.column(field_.name)
                if pa.types.is_list(field_.type):
                    split = pc.split_pattern(column, ARRAY_SEPARATOR)
                    empty = pa.scalar([], type=split.type)
                    column = pc.if_else(pc.equal(column, ""), empty, split).cast(field_.type)
                arrays.append(column)
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            rows += batch.num_rows
    return rows


def _copy_into_parquet(cursor: Any, statement: str, sink: Any, view: ViewInfo, batch_rows: int) -> int:
    """Run the COPY in a thread that feeds a pipe while pyarrow converts what has arrived, so PostgreSQL's
    output and the Parquet encoding overlap (sequentially, the conversion doubled an export's time)."""
    read_fd, write_fd = os.pipe()
    source, pipe = os.fdopen(read_fd, "rb", buffering=1 << 20), os.fdopen(write_fd, "wb", buffering=1 << 20)
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            cursor.copy_expert(statement, pipe, size=1 << 20)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            failure.append(exc)
        finally:
            try:
                pipe.close()
            except OSError:  # the reader stopped first: its own error is raised below
                pass

    thread = threading.Thread(target=pump, name="export-copy", daemon=True)
    thread.start()
    try:
        rows = _csv_to_parquet(source, sink, view, batch_rows)
    except BaseException:
        source.close()  # a writer blocked on a full pipe gets EPIPE and ends
        thread.join()
        if failure:  # a truncated CSV is a symptom; the database's error is the cause
            raise failure[0] from None
        raise
    source.close()
    thread.join()
    if failure:
        raise failure[0]
    return rows


def export_view(
    conn: sa.Connection, view: ViewInfo, filters: list[Filter], fmt: str, *, order_by: str | None = None,
    descending: bool = False, batch_rows: int = EXPORT_BATCH_ROWS,
) -> ExportFile:  # fmt: skip
    """Export a whole (filtered) view: PostgreSQL's COPY streams CSV, pyarrow turns it into typed Parquet.

    CSV exports are the COPY output itself (arrays as JSON text, times ISO 8601 UTC); Parquet exports re-read
    it with pyarrow's streaming CSV reader into the view's column types. Bytes are hashed as they are written.
    """
    sql, values = view_query(view, filters, order_by, descending)
    where, _ = where_clause(view, filters)
    order = sql[sql.index(" ORDER BY ") :]
    select = ", ".join(_copy_expression(c, fmt) for c in view.columns)
    copy_sql = f"SELECT {select} FROM library.{quote_ident(view.name)}{where}{order}"
    cursor = conn.connection.dbapi_connection.cursor()
    statement = cursor.mogrify(
        "COPY (" + re.sub(r":(f\d+)", r"%(\1)s", copy_sql.replace("%", "%%")) + ") TO STDOUT WITH (FORMAT csv, HEADER true)",
        values,
    ).decode("utf-8")  # fmt: skip
    spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - handed to the response
    sink = _HashingWriter(spool)
    try:
        if fmt == "csv":
            cursor.copy_expert(statement, sink, size=1 << 20)
            rows = max(cursor.rowcount, 0)
        else:
            cursor.execute("SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'")
            rows = _copy_into_parquet(cursor, statement, sink, view, batch_rows)
    except psycopg2.Error as exc:
        spool.close()
        wrapped = sa.exc.DBAPIError(statement, values, exc)
        raise (
            data_error(wrapped, sql) if str(exc.pgcode or "").startswith("22") else sql_refusal(wrapped, sql)
        ) from None
    except BaseException:
        spool.close()
        raise
    finally:
        cursor.close()
    media = "application/vnd.apache.parquet" if fmt == "parquet" else "text/csv; charset=utf-8"
    return ExportFile(spool, rows, sink.digest.hexdigest(), sink.size, sql, media)  # type: ignore[arg-type]


# ---------------------------------------------------------------- unmasking


UNMASK_FIELDS = {
    "party_id": ("party_id_hash", "party_id_type"),
    "legal_rep_id": ("legal_rep_id_hash", "legal_rep_id_type"),
}


def reveal_id_number(
    engine: sa.Engine, settings: Settings, penalty_id: int, field_name: str
) -> dict[str, Any]:
    """Decrypt one personal ID number of a decision (API role; the caller audits the act); 404 if none."""
    hash_column, type_column = UNMASK_FIELDS[field_name]
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(f"SELECT p.{type_column} AS id_type, k.ciphertext FROM core.penalty_decision p"
                    f" LEFT JOIN protected.personal_id k ON k.id_hash = p.{hash_column} WHERE p.id = :id"),
            {"id": penalty_id},
        ).one_or_none()  # fmt: skip
    if row is None or row.ciphertext is None:
        raise HubError(
            "id_number_not_found",
            f"处罚决定 {penalty_id} 不存在或未保存该证件号（{field_name}）",
            f"no decision {penalty_id}, or it holds no stored {field_name} number",
            status_code=404, detail={"penalty_id": penalty_id, "field": field_name},
        )  # fmt: skip
    number = personal_id_cipher(settings.hub_secret()).decrypt(row.ciphertext.encode()).decode()
    return {"penalty_id": penalty_id, "field": field_name, "id_type": row.id_type, "id_number": number}
