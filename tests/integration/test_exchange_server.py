"""The exchange-centre stand-in over real sockets and real databases: keyset pagination, watermarks, the
clock, the one-shot mid-response failure, auth, and the same year seeded into PostgreSQL and MariaDB and
dropped as JSON/XML/CSV files."""

from __future__ import annotations

import socket
import uuid

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from standins.exchange_centre import (
    DATASETS,
    ExchangeCentreServer,
    TradingYear,
    read_file,
    seed_database,
    write_files,
)

KEY = "test-key"
MARIADB_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/"
POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def served():
    """A small year with everything visible, served on a free port."""
    year = TradingYear(seed=21, sections=150)
    with ExchangeCentreServer(year, api_key=KEY) as server:
        yield year, server


def _client(server: ExchangeCentreServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"X-Api-Key": KEY}, timeout=30)


def _pull(client: httpx.Client, code: str, since: str | None = None, limit: int = 100) -> tuple[list[dict], list[dict]]:
    """Every record after `since`, following next_cursor; also the page bodies."""
    records, pages, cursor = [], [], None
    while True:
        params = {"limit": limit}
        if since:
            params["since"] = since
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"/api/v1/datasets/{code}", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        records.extend(page["records"])
        cursor = page["next_cursor"]
        if cursor is None:
            return records, pages


@pytest.mark.parametrize("code,limit", [("507", 97), ("519", 500), ("502", 1), ("9011", 5000), ("402", 7)])
def test_pagination_returns_every_record_once_in_order_and_is_stable(served, code, limit):
    year, server = served
    with _client(server) as client:
        records, pages = _pull(client, code, limit=limit)
        again, pages_again = _pull(client, code, limit=limit)
    assert records == list(year.records(code)), "every record exactly once, in (DATA_TIMESTAMP, key) order"
    assert pages == pages_again, "same pages and cursors on a second walk"
    assert all(len(p["records"]) == limit for p in pages[:-1]) and pages[-1]["next_cursor"] is None
    assert all(p["dataset"] == code and p["table"] == DATASETS[code].table for p in pages)
    assert [p["watermark"] for p in pages] == [p["records"][-1]["DATA_TIMESTAMP"] for p in pages]


def test_dataset_list_counts_visible_records(served):
    year, server = served
    with _client(server) as client:
        listing = client.get("/api/v1/datasets").json()
    assert [d["code"] for d in listing] == list(DATASETS)
    assert all(d["count"] == year.total(d["code"]) > 0 for d in listing)


def test_since_is_strictly_greater(served):
    year, server = served
    everything = list(year.records("507"))
    watermark = everything[len(everything) // 2]["DATA_TIMESTAMP"]
    with _client(server) as client:
        records, _ = _pull(client, "507", since=watermark, limit=250)
        empty = client.get("/api/v1/datasets/507", params={"since": everything[-1]["DATA_TIMESTAMP"]}).json()
    assert records == [r for r in everything if r["DATA_TIMESTAMP"] > watermark]
    assert records and all(r["DATA_TIMESTAMP"] > watermark for r in records)
    assert any(r["DATA_TIMESTAMP"] == watermark for r in everything), "ties at the watermark are excluded"
    assert empty == {"dataset": "507", "table": "TENDER_LIST", "records": [], "next_cursor": None,
                     "watermark": everything[-1]["DATA_TIMESTAMP"]}  # fmt: skip


def test_advance_reveals_only_newer_records():
    year = TradingYear(seed=22, sections=120, clock="20250501000000")
    with ExchangeCentreServer(year, api_key=KEY) as server, _client(server) as client:
        first, pages = _pull(client, "507", limit=200)
        assert first and all(r["DATA_TIMESTAMP"] <= "20250501000000" for r in first)
        watermark = pages[-1]["watermark"]
        assert _pull(client, "507", since=watermark)[0] == [], "nothing new before the clock moves"
        moved = client.post("/control/advance", json={"days": 60}).json()
        assert moved == {"clock": "20250630000000"}
        newer, _ = _pull(client, "507", since=watermark, limit=200)
        count = next(d["count"] for d in client.get("/api/v1/datasets").json() if d["code"] == "507")
    assert newer and all(watermark < r["DATA_TIMESTAMP"] <= "20250630000000" for r in newer)
    assert first + newer == list(year.records("507")) and count == len(first) + len(newer)


def test_fail_control_drops_one_response_mid_page_and_resume_is_exact(served):
    year, server = served
    with _client(server) as client:
        armed = client.post("/control/fail", json={"after_records": 130}).json()
        assert armed == {"armed": True, "after_records": 130}
        page1 = client.get("/api/v1/datasets/519", params={"limit": 100}).json()  # 100 of the 130 go through
        cursor = page1["next_cursor"]
        with pytest.raises(httpx.TransportError):
            client.get("/api/v1/datasets/519", params={"limit": 100, "cursor": cursor})
        retry = client.get("/api/v1/datasets/519", params={"limit": 100, "cursor": cursor}).json()
        resumed, cursor = page1["records"] + retry["records"], retry["next_cursor"]
        while cursor:
            page = client.get("/api/v1/datasets/519", params={"limit": 1000, "cursor": cursor}).json()
            resumed, cursor = resumed + page["records"], page["next_cursor"]
    assert len(retry["records"]) == 100, "the failure fires once"
    assert resumed == list(year.records("519")), "resuming from the last cursor loses and repeats nothing"


def test_the_cut_is_inside_the_records_array(served):
    _, server = served
    server.fail_after(3)
    with socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(f"GET /api/v1/datasets/507?limit=10 HTTP/1.1\r\nHost: x\r\nX-Api-Key: {KEY}\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    promised = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    assert len(body) < promised and body.count(b'"BIDDER_ORG_CODE"') == 4, "3 whole records and part of the 4th"


def test_auth_and_parameter_errors(served):
    _, server = served
    url = f"{server.base_url}/api/v1/datasets/507"
    assert httpx.get(url).status_code == 401
    wrong = httpx.get(url, headers={"X-Api-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json()["message"]["zh"] and wrong.json()["message"]["en"]
    assert httpx.get(f"{server.base_url}/api/v1/datasets").status_code == 401
    with _client(server) as client:
        for params, error in (({"since": "2025-01-01"}, "bad_since"), ({"limit": "0"}, "bad_limit"),
                              ({"limit": "5001"}, "bad_limit"), ({"cursor": "@@@"}, "bad_cursor")):  # fmt: skip
            response = client.get("/api/v1/datasets/507", params=params)
            assert response.status_code == 400 and response.json()["error"] == error, params
        assert client.get("/api/v1/datasets/999").status_code == 404


# --- databases and files ----------------------------------------------------------------------------


def _check_seeded(url: str, year: TradingYear, codes: list[str]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for code in codes:
                table = sa.Table(DATASETS[code].table, sa.MetaData(), autoload_with=conn)
                assert [c.name for c in table.columns] == list(DATASETS[code].fields)
                rows = [dict(r._mapping) for r in conn.execute(sa.select(table))]
                key = DATASETS[code].key_of
                assert sorted(rows, key=lambda r: (r["DATA_TIMESTAMP"], key(r))) == list(year.records(code)), code
    finally:
        engine.dispose()


def _seed_and_check(url: str) -> None:
    year = TradingYear(seed=23, sections=60, clock="20250601000000")
    codes = list(DATASETS)
    counts = seed_database(url, year, codes)
    assert counts == {code: year.count(code) for code in codes}
    _check_seeded(url, year, codes)
    year.advance(30)
    added = seed_database(url, year, ["507", "519"], replace=False)
    assert added["507"] > 0 and added["507"] + counts["507"] == year.count("507")
    _check_seeded(url, year, ["507", "519"])


def test_seed_database_into_postgresql(server_url):
    """The hub fixture's embedded PostgreSQL server, in a database of its own."""
    name = f"exchange_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        _seed_and_check(make_url(server_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.mark.external
def test_seed_database_into_mariadb():
    """The machine's MariaDB on 127.0.0.1:3306 (root, no password); skipped when it does not answer."""
    try:
        socket.create_connection(("127.0.0.1", 3306), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"no MariaDB on 127.0.0.1:3306 (a machine service; start it to run this test): {exc}")
    name = f"exchange_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    try:
        _seed_and_check(f"{MARIADB_ADMIN_URL}{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.mark.external
def test_seed_database_into_machine_postgresql():
    """The machine's PostgreSQL 15 on 127.0.0.1:5432 (trust), as a centre's own server; skipped when absent."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        admin.connect().close()
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 (a machine service; start it to run this test): {exc}")
    name = f"exchange_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        _seed_and_check(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.mark.parametrize("fmt", ["json", "xml", "csv"])
def test_files_round_trip(tmp_path, fmt):
    year = TradingYear(seed=24, sections=40)
    codes = ["502", "507", "519", "513", "404", "302"]
    paths = write_files(tmp_path, year, fmt, codes)
    assert paths and all(p.exists() and p.suffix == f".{fmt}" for p in paths)
    assert not list(tmp_path.glob(".*")), "no temporary files left behind"
    for code in codes:
        table = DATASETS[code].table
        files = sorted(p for p in paths if p.name.rsplit("_", 1)[0] == table)
        assert all(p.name[len(table) + 1 : -len(fmt) - 1] == read_file(p)[0]["DATA_TIMESTAMP"][:8] for p in files)
        assert [r for p in files for r in read_file(p)] == list(year.records(code)), (fmt, code)
