"""Credit as-of benchmark (not a test): 1,000,000 restriction entries, 10,000 random entities, one run.

1. Through the database driver (psycopg2), per entity: the as-of query the hub answers with
   (ggzy.pipelines.credit.ASOF_SQL: the entity's entries begun by the date) vs a plain indexed lookup of the
   same entity's rows (SELECT * FROM core.restriction WHERE entity_key = ...). Interleaved, median and p99,
   ratio target <= 2x. The bitemporal variant (KNOWN_ON_SQL, "as known on") is timed too, for information.
2. The API endpoint GET /v1/entities/{uscc}/credit at 32 concurrent clients vs the same app (same auth, same
   audit append before the answer leaves) serving a constant response from a route beside it; ratio target
   >= 0.8. For the breakdown, also: the same app's constant behind the token check only (no audit), and a
   bare FastAPI constant app (no auth, no audit): the framework's raw ceiling.

    .venv/bin/python -m bench.credit_asof [--entries 1000000] [--lookups 10000] [--seconds 30] [--clients 32]
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import environment, fresh_hub, write_results
from bench.oversight_api import Server

DB_RATIO_TARGET = 2.0
API_RATIO_TARGET = 0.8
ENTRIES_PER_ENTITY = 4  # on average: entities = entries / 4
CONSTANT_BODY = {"entity": {"key": None, "name": None, "kind": None, "id_masked": None}, "as_of": "2025-06-01",
                 "known_on": None, "restricted": False, "restrictions": [], "removed": [], "ended": []}  # fmt: skip


def entity_code(i: int) -> str:
    """The USCC-shaped key of synthetic entity i (the same text the SQL seeding builds)."""
    return f"91410800{i:09d}0"


def seed(engine: sa.Engine, entries: int) -> int:
    """entries restrictions (and one version each) over entries/4 entities, in SQL; returns the entity count."""
    entities = max(1, entries // ENTRIES_PER_ENTITY)
    with engine.begin() as conn:
        batch = conn.scalar(sa.text(
            "INSERT INTO ops.batch (dataset, source, sha256, byte_size, raw_path, status)"
            " VALUES ('credit_bench', 'bench', :s, 0, '-', 'landed') RETURNING id"), {"s": os.urandom(16).hex()})  # fmt: skip
        conn.execute(sa.text("""
            INSERT INTO core.restriction (source, source_key, entity_key, entity_kind, entity_name, entity_uscc,
                basis_document, basis_unit, reason, restricted_behaviour, start_date, end_date, removed_on,
                removal_document, active_from, active_until, version, content_hash, known_from, first_batch_id,
                last_batch_id)
            SELECT (ARRAY['credit_china_dishonest_debtor', 'serious_dishonesty_list', 'exchange_blacklist_302',
                          'penalty_decision'])[1 + g % 4],
                   'B-' || g, e.code, 'organisation', '基准测试企业' || e.i || '有限公司', e.code,
                   '豫发改信用〔2025〕' || g || '号', '河南省发展和改革委员会', '拖欠农民工工资', '联合惩戒',
                   s.start, CASE WHEN g % 3 = 0 THEN s.start + 365 END,
                   CASE WHEN g % 5 = 0 THEN s.start + 120 END,
                   CASE WHEN g % 5 = 0 THEN '豫信用移〔2025〕' || g || '号' END,
                   s.start,
                   CASE WHEN g % 5 = 0 THEN s.start + 120 WHEN g % 3 = 0 THEN s.start + 366 END,
                   1, md5(g::text), s.start::timestamptz, :b, :b
            FROM generate_series(1, :n) g
            CROSS JOIN LATERAL (SELECT (hashtext(g::text) & 2147483647) % :entities AS i) h
            CROSS JOIN LATERAL (SELECT h.i, '91410800' || lpad(h.i::text, 9, '0') || '0' AS code) e
            CROSS JOIN LATERAL (SELECT DATE '2022-01-01' + (hashtext('d' || g) & 2147483647) % 1400 AS start) s
        """), {"b": batch, "n": entries, "entities": entities})  # fmt: skip
        conn.execute(sa.text("""
            INSERT INTO core.restriction_version (restriction_id, version, change_type, entity_key, active_from,
                active_until, known_from, batch_id, content_hash, record)
            SELECT id, 1, 'inclusion', entity_key, active_from, active_until, known_from, first_batch_id,
                   content_hash, jsonb_build_object('id', id, 'source', source, 'source_key', source_key,
                   'entity_kind', entity_kind, 'entity_name', entity_name, 'entity_uscc', entity_uscc,
                   'basis_document', basis_document, 'start_date', start_date, 'end_date', end_date,
                   'removed_on', removed_on, 'active_from', active_from, 'active_until', active_until)
            FROM core.restriction
        """))  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE core.restriction"))
        conn.execute(sa.text("VACUUM ANALYZE core.restriction_version"))
    return entities


def _quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 4),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 4)}  # fmt: skip


def driver_queries(engine: sa.Engine, keys: list[str], rng: random.Random) -> dict[str, Any]:
    """Time the as-of query, the plain indexed lookup and the as-known-on query for each key (interleaved)."""
    from ggzy.pipelines.credit import ASOF_SQL, KNOWN_ON_SQL

    def pyformat(sql: str) -> str:
        for name in ("key", "as_of", "known_on"):
            sql = sql.replace(f":{name}", f"%({name})s")
        return sql

    asof, known, plain = (
        pyformat(ASOF_SQL),
        pyformat(KNOWN_ON_SQL),
        "SELECT * FROM core.restriction WHERE entity_key = %(key)s",
    )
    timings: dict[str, list[float]] = {"asof": [], "plain": [], "known_on": []}
    rows = {"asof": 0, "plain": 0, "known_on": 0}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for key in keys[:200]:  # warm-up: caches and plans
            cur.execute(plain, {"key": key})
            cur.fetchall()
        for i, key in enumerate(keys):
            day = date(2022, 1, 1) + timedelta(days=rng.randrange(1500))
            params = {
                "key": key,
                "as_of": day,
                "known_on": f"{day + timedelta(days=rng.randrange(400))}T12:00:00+08:00",
            }
            order = ["asof", "plain", "known_on"] if i % 2 == 0 else ["plain", "asof", "known_on"]
            for name in order:
                sql = {"asof": asof, "plain": plain, "known_on": known}[name]
                began = time.perf_counter()
                cur.execute(sql, params)
                fetched = cur.fetchall()
                timings[name].append(time.perf_counter() - began)
                rows[name] += len(fetched)
        raw.rollback()
    finally:
        raw.close()
    result = {name: {**_quantiles(samples), "rows_per_query": round(rows[name] / len(keys), 2)}
              for name, samples in timings.items()}  # fmt: skip
    result["ratio_median"] = round(result["asof"]["median_ms"] / result["plain"]["median_ms"], 3)
    result["ratio_p99"] = round(result["asof"]["p99_ms"] / result["plain"]["p99_ms"], 3)
    result["target_max_ratio"] = DB_RATIO_TARGET
    result["meets_target"] = (
        result["ratio_median"] <= DB_RATIO_TARGET and result["ratio_p99"] <= DB_RATIO_TARGET
    )
    return result


# ---------------------------------------------------------------------------------------------------
# API


def make_credit_app() -> Any:
    """The product app with the credit router (as api/app.py mounts it) plus, beside it, a constant route
    behind the same token check and audited dependency: the same app serving a constant response."""
    from fastapi import Depends
    from fastapi.responses import Response

    from api.app import create_app
    from api.deps import PenaltyReader, get_principal
    from api.routers import credit

    app = create_app(rate_per_second=None)
    if not any(getattr(r, "path", "") == "/v1/entities/{uscc}/credit" for r in app.routes):
        app.include_router(credit.router, prefix="/v1", dependencies=[Depends(get_principal)])

    @app.get("/v1/bench-constant/{uscc}/credit", dependencies=[Depends(get_principal)])
    def constant(read: PenaltyReader, uscc: str, as_of: date | None = None) -> Response:
        read.log_params({"uscc": uscc, "as_of": as_of.isoformat() if as_of else None, "known_on": None})
        return read.respond(CONSTANT_BODY, row_count=0)

    body = json.dumps(CONSTANT_BODY).encode()

    @app.get("/v1/bench-constant-token-only/{uscc}/credit", dependencies=[Depends(get_principal)])
    def constant_token_only(uscc: str, as_of: date | None = None) -> Response:
        return Response(body, media_type="application/json")  # for the breakdown only: not audited

    return app


def make_bare_constant_app() -> Any:
    """A bare FastAPI app answering a constant (no token, no audit): the framework's raw ceiling."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()
    body = json.dumps(CONSTANT_BODY).encode()

    @app.get("/v1/bench-constant/{uscc}/credit")
    def constant(uscc: str) -> Response:
        return Response(body, media_type="application/json")

    return app


async def _load(
    url: str, path: str, tokens: list[str], keys: list[str], seconds: float
) -> tuple[list[float], int, float]:
    """Drive one route with one client per token for `seconds`: (latencies, errors, elapsed seconds)."""
    import httpx

    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client(token: str, seed_value: int) -> None:
        nonlocal errors
        rng = random.Random(seed_value)
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, trust_env=False,
                                     timeout=60) as http:  # fmt: skip
            while time.monotonic() < stop:
                day = date(2022, 1, 1) + timedelta(days=rng.randrange(1500))
                began = time.perf_counter()
                response = await http.get(
                    path.format(uscc=rng.choice(keys)), params={"as_of": day.isoformat()}
                )
                latencies.append(time.perf_counter() - began)
                errors += response.status_code != 200

    started = time.monotonic()
    await asyncio.gather(*(client(token, i) for i, token in enumerate(tokens)))
    return latencies, errors, time.monotonic() - started


# (name, app factory, route): the endpoint, then its references, from the same app down to bare FastAPI.
API_TARGETS = (
    ("endpoint", "make_credit_app", "/v1/entities/{uscc}/credit"),
    ("same_app_constant", "make_credit_app", "/v1/bench-constant/{uscc}/credit"),
    ("same_app_constant_token_only", "make_credit_app", "/v1/bench-constant-token-only/{uscc}/credit"),
    ("bare_framework_constant", "make_bare_constant_app", "/v1/bench-constant/{uscc}/credit"),
)


def api_throughput(
    home: Path, tokens: list[str], keys: list[str], seconds: float, rounds: int = 10
) -> dict[str, Any]:
    """Throughput of the endpoint, of the same app's constant routes, and of a bare constant app.

    Both servers run side by side and the targets take turns in `rounds` short windows (seconds/rounds
    each), so a change in background load between windows hits every target alike.
    """
    window = seconds / rounds
    totals: dict[str, tuple[list[float], int, float]] = {name: ([], 0, 0.0) for name, _, _ in API_TARGETS}
    per_round: dict[str, list[float]] = {name: [] for name, _, _ in API_TARGETS}
    factories = sorted({factory for _, factory, _ in API_TARGETS})
    servers = {factory: Server(factory, home, module="bench.credit_asof") for factory in factories}
    urls = {factory: server.__enter__() for factory, server in servers.items()}
    try:
        for _, factory, path in API_TARGETS:  # warm-up: pools, imports, plans
            asyncio.run(_load(urls[factory], path, tokens[:4], keys, 1.0))
        for _ in range(rounds):
            for name, factory, path in API_TARGETS:
                latencies, errors, elapsed = asyncio.run(_load(urls[factory], path, tokens, keys, window))
                per_round[name].append(len(latencies) / elapsed)
                seen, failed, spent = totals[name]
                totals[name] = (seen + latencies, failed + errors, spent + elapsed)
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
    runs: dict[str, Any] = {}
    for name, (latencies, errors, elapsed) in totals.items():
        runs[name] = {"requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
                      "throughput_rps": round(len(latencies) / elapsed, 1), **_quantiles(latencies)}  # fmt: skip
    endpoint, constant, token_only, bare = (runs[name]["throughput_rps"] for name, _, _ in API_TARGETS)
    runs["rounds"] = rounds
    # The same ratio window by window (each endpoint window against the constant window right after it):
    # how much of the aggregate is the code and how much the machine's drift between windows.
    runs["ratio_per_round"] = [round(e / c, 3) for e, c in zip(per_round["endpoint"], per_round["same_app_constant"], strict=True)]
    runs["ratio_to_same_app_constant"] = round(endpoint / constant, 3) if constant else None
    runs["ratio_to_same_app_token_only"] = round(endpoint / token_only, 3) if token_only else None
    runs["ratio_to_bare_framework"] = round(endpoint / bare, 3) if bare else None
    runs["target_min_ratio"] = API_RATIO_TARGET
    runs["meets_target"] = bool(constant) and endpoint / constant >= API_RATIO_TARGET
    return runs


def main() -> None:
    """Seed a throw-away hub, run both measurements, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="per API target, split over 10 alternating windows")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from ggzy import auth, database
    from ggzy.settings import get_settings

    rng = random.Random(args.seed)
    results: dict[str, Any] = {"environment": environment(), "entries": args.entries, "lookups": args.lookups,
                               "clients": args.clients}  # fmt: skip
    with fresh_hub("bench-credit") as settings:
        os.environ["GGZY_HOME"] = str(settings.home)
        os.environ.pop("GGZY_DATABASE_URL", None)
        get_settings.cache_clear()
        engine = database.engine(settings)
        began = time.perf_counter()
        entities = seed(engine, args.entries)
        results["seed_seconds"] = round(time.perf_counter() - began, 1)
        results["entities"] = entities
        keys = [entity_code(rng.randrange(entities)) for _ in range(args.lookups)]
        results["driver"] = driver_queries(engine, keys, rng)
        print(json.dumps({"driver": results["driver"]}, indent=2), flush=True)
        tokens = [auth.create_token(engine, person=f"bench{i}", org_code="JZ-BENCH", role="member")[0]
                  for i in range(args.clients)]  # fmt: skip
        results["api"] = api_throughput(settings.home, tokens, keys, args.seconds)
        with engine.connect() as conn:
            results["audit_events"] = conn.scalar(sa.text("SELECT count(*) FROM audit.event"))
    path = write_results("credit_asof", results)
    print(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
