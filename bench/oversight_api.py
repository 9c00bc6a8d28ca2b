"""Oversight API benchmark: audited entity profiles vs the same reads without the audit append (not a test).

32 concurrent clients on loopback ask for entity profiles by USCC. Three servers, each in its own process:
the real app (api.app.create_app, every answer audited before it leaves); the same reads served by an app
assembled here without the audit append (the product has no switch for that); and a constant response (the
framework's ceiling). Also: Parquet export throughput against a raw `COPY ... TO STDOUT` of the same view.
All figures come from one run.

    .venv/bin/python -m bench.oversight_api [--seconds 10] [--clients 32] [--entities 300]
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

CASE_HEADERS = {"X-Case-Ref": "BENCH-2026-001", "X-Purpose": "benchmark"}
RATIO_TARGET = 0.8
EXPORT_RATIO_TARGET = 0.5


def make_unaudited_app() -> Any:
    """The same entity-profile read as the product, assembled here without the audit append."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    from api.deps import LibraryDep, PrincipalDep, response_bytes
    from ggzy import library
    from ggzy.settings import get_settings

    app = FastAPI()
    app.state.settings = get_settings()
    app.state.api_engine = None
    app.state.library = None
    app.state.rate_limiter = None

    @app.get("/v1/entities/{uscc}")
    def profile(uscc: str, principal: PrincipalDep, reader: LibraryDep) -> Response:
        scope = library.scope_for(principal.role, principal.org_code)
        catalog = reader.catalog(scope)
        with reader.session(scope) as conn:
            body = library.json_value(library.entity_profile(conn, catalog, uscc))
        return Response(response_bytes(body), media_type="application/json")

    return app


def make_audited_app() -> Any:
    """The product app (rate limit off: the clients would otherwise measure the limiter)."""
    from api.app import create_app

    return create_app(rate_per_second=None)


def make_constant_app() -> Any:
    """A constant JSON response: the web framework's ceiling on this machine."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()
    body = json.dumps({"uscc": "x", "sections": {}}).encode()

    @app.get("/v1/entities/{uscc}")
    def constant(uscc: str) -> Response:
        return Response(body, media_type="application/json")

    return app


def _serve(app: str, port: int, home: str) -> None:
    os.environ["GGZY_HOME"] = home
    os.environ.pop("GGZY_DATABASE_URL", None)
    import uvicorn

    uvicorn.run(app, factory=True, host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One app served by uvicorn in a child process on a free loopback port."""

    def __init__(self, factory: str, home: Path, module: str = "bench.oversight_api") -> None:
        self.port = _free_port()
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(
            target=_serve, args=(f"{module}:{factory}", self.port, str(home)), daemon=True
        )

    def __enter__(self) -> str:
        self.process.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return f"http://127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(10)


def seed(engine: sa.Engine, entities: int, per_entity: int = 3, start: int = 0) -> list[str]:
    """A batch and entities x per_entity decisions; returns the USCCs."""
    from ggzy.identifiers import make_uscc

    usccs = [make_uscc("91", "410800", f"MA{i:06d}") for i in range(start, start + entities)]
    with engine.begin() as conn:
        batch = conn.scalar(sa.text(
            "INSERT INTO ops.batch (dataset, source, sha256, byte_size, raw_path, status)"
            " VALUES ('penalty_decision', 'bench', :s, 1, '/bench', 'loaded') RETURNING id"), {"s": os.urandom(32).hex()})  # fmt: skip
        rows = [
            {"no": f"焦建罚〔2026〕{i}-{j}号", "party": f"焦作市某某建设工程有限公司{i}", "uscc": uscc,
             "day": date(2026, 1, 1) + timedelta(days=(i * 7 + j) % 300), "hash": f"{i:032d}{j:032d}", "b": batch}
            for i, uscc in enumerate(usccs, start=start) for j in range(per_entity)
        ]  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO core.penalty_decision (authority_code, decision_no, party_name, party_category, party_uscc,"
            " violation_type, penalty_categories, fine_yuan, decision_date, authority_name, source_format,"
            " content_hash, first_batch_id, last_batch_id) VALUES ('11410800B7A50E5D5Q', :no, :party, '法人及非法人组织',"
            " :uscc, '串通投标', ARRAY['警告','罚款'], 20000, :day, '焦作市住房和城乡建设局', 'current', :hash, :b, :b)"),
            rows)  # fmt: skip
    return usccs


async def _load(url: str, tokens: list[str], usccs: list[str], seconds: float) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client(token: str, seed_value: int) -> None:
        nonlocal errors
        rng = random.Random(seed_value)
        headers = {"Authorization": f"Bearer {token}", **CASE_HEADERS}
        async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False, timeout=60) as http:
            while time.monotonic() < stop:
                began = time.perf_counter()
                response = await http.get(f"/v1/entities/{rng.choice(usccs)}")
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    errors += 1

    started = time.monotonic()
    await asyncio.gather(*(client(token, i) for i, token in enumerate(tokens)))
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2) if ordered else None,
    }  # fmt: skip


def measure(factory: str, home: Path, tokens: list[str], usccs: list[str], seconds: float) -> dict[str, Any]:
    """Serve one app, warm it up, then drive it with the clients."""
    with Server(factory, home) as url:
        asyncio.run(_load(url, tokens[:4], usccs, 1.0))  # warm-up: pools, catalogue, imports
        return asyncio.run(_load(url, tokens, usccs, seconds))


def export_vs_copy(settings: Any, home: Path, token: str, repeats: int = 3) -> dict[str, Any]:
    """Rows/s of the audited Parquet export of library.penalty_decisions vs raw COPY of the same view.

    Both are timed `repeats` times, alternating, after one warm-up of each (imports, pyarrow's codecs, the
    pages in PostgreSQL's cache); the medians are compared.
    """
    import httpx

    from ggzy import database, library

    reader = library.LibraryReader(settings, database.api_engine(settings))
    scope = library.Scope(library.ALL_UNITS)

    def raw_copy() -> float:
        with reader.session(scope, timeout_ms=600_000) as conn:
            sql, _ = library.view_query(reader.catalog(scope)["penalty_decisions"], [], None, False)
            cursor = conn.connection.dbapi_connection.cursor()
            with tempfile.TemporaryFile() as sink:
                began = time.perf_counter()
                cursor.copy_expert(f"COPY ({sql}) TO STDOUT", sink)
                return time.perf_counter() - began

    export_times, copy_times, rows = [], [], 0
    try:
        with Server("make_audited_app", home) as url:
            headers = {"Authorization": f"Bearer {token}", **CASE_HEADERS}
            with httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=600) as http:
                for attempt in range(repeats + 1):
                    began = time.perf_counter()
                    response = http.get(
                        "/v1/library/views/penalty_decisions/export", params={"format": "parquet"}
                    )
                    response.raise_for_status()
                    seconds = time.perf_counter() - began
                    rows = int(response.headers["x-row-count"])
                    copied = raw_copy()
                    if attempt:  # the first of each is the warm-up
                        export_times.append(seconds)
                        copy_times.append(copied)
    finally:
        reader.dispose()
    export_seconds, copy_seconds = statistics.median(export_times), statistics.median(copy_times)
    export_rps, copy_rps = rows / export_seconds, rows / copy_seconds
    return {"rows": rows, "repeats": repeats, "export_seconds_median": round(export_seconds, 3),
            "copy_seconds_median": round(copy_seconds, 3), "export_rows_per_s": round(export_rps),
            "copy_rows_per_s": round(copy_rps), "ratio": round(export_rps / copy_rps, 3),
            "target": EXPORT_RATIO_TARGET}  # fmt: skip


def main() -> None:
    """Run the benchmark on a throw-away hub and print (and save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--entities", type=int, default=300)
    parser.add_argument(
        "--export-entities", type=int, default=20_000, help="entities (x3 decisions) for the export"
    )
    args = parser.parse_args()

    from ggzy import auth, database
    from ggzy.settings import Settings, get_settings

    home = Path(tempfile.mkdtemp(prefix="ggzy-bench-oversight-"))
    os.environ["GGZY_HOME"] = str(home)
    os.environ.pop("GGZY_DATABASE_URL", None)
    get_settings.cache_clear()
    settings = Settings(home=home, database_url=None)
    try:
        database.migrate(settings)
        owner = database.engine(settings)
        usccs = seed(owner, args.entities)
        tokens = [auth.create_token(owner, person=f"officer{i}", org_code="JZ-JWJW", role="oversight")[0]
                  for i in range(args.clients)]  # fmt: skip
        results: dict[str, Any] = {"clients": args.clients, "seconds_per_run": args.seconds,
                                   "entities": args.entities, "cpus": os.cpu_count()}  # fmt: skip
        results["audited"] = measure("make_audited_app", home, tokens, usccs, args.seconds)
        results["unaudited"] = measure("make_unaudited_app", home, tokens, usccs, args.seconds)
        results["constant"] = measure("make_constant_app", home, tokens, usccs, args.seconds)
        audited, plain, ceiling = (results[k]["throughput_rps"] for k in ("audited", "unaudited", "constant"))
        results["ratio_audited_to_unaudited"] = round(audited / plain, 3) if plain else None
        results["ratio_target"] = RATIO_TARGET
        results["fraction_of_constant_ceiling"] = round(audited / ceiling, 3) if ceiling else None
        with owner.begin() as conn:
            results["audit_events"] = conn.scalar(sa.text("SELECT count(*) FROM audit.event"))
        if args.export_entities:
            seed(owner, args.export_entities, start=args.entities)
            results["export"] = export_vs_copy(settings, home, tokens[0])
        from ggzy import audit

        results["audit_chain_ok"] = audit.verify_chain(owner).ok
        print(json.dumps(results, ensure_ascii=False, indent=2))
        out = Path(__file__).resolve().parent / "results"
        out.mkdir(exist_ok=True)
        (out / f"oversight_api-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(
            json.dumps(results, indent=2)
        )
    finally:
        database.dispose_engines()
        database.stop_embedded(settings)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
