"""Trading ingest benchmark: N bids (507) and their fingerprints (519) pulled from the stand-in API and loaded.

    .venv/bin/python -m bench.trading_ingest [--bids 1000000] [--page-size 5000]

A fresh hub (embedded PostgreSQL in a temp home) loads the year's projects, tender projects and sections
first (untimed: they are the parents), then the timed run pulls 507 and 519 end to end through
ggzy.pipelines.trading.pull_api (land page by page, GX validation, quarantine, entity resolution, merge).
In the same run the same pages are pulled again by the same connector and written, as plain text columns,
to a CSV file; that file is then COPYed into an unindexed table: "raw COPY of the same rows". Reported:
rows/s end to end, the raw COPY's rows/s (and pull + COPY), the ratios, and the Python process's RSS when
100k bids had been pulled and at the end (flat memory: pages are streamed, never the whole set).

Two ceilings, measured in the same run:

* floor: the raw COPY's CSV files COPYed again as text, then the rows the ingest left in each state table
  (core.bid, core.bid_document_fingerprint, the market entities it created, its quarantined and waiting
  rows) INSERT .. SELECTed into a copy of that table with its indexes, one transaction
  (bench.common.state_floor): raw COPY / floor is the best ratio any ingest writing these rows could reach;
* pure pull: the same pages iterated through the same connector (stand-in server in this process, over
  HTTP), nothing written: the ingest cannot finish before its pull, so raw COPY / pure pull is a ceiling too.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa

from bench.common import (
    MemorySampler,
    Stopwatch,
    environment,
    fresh_hub,
    rate,
    state_floor,
    table,
    write_results,
)

CODES = ("507", "519")
PARENTS = ("500", "501", "502")


def _rss_mib() -> float:
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _pull_only(base_url: str, key: str, page_size: int) -> dict[str, Any]:
    """Seconds to pull the datasets' pages through the connector, each page's records touched, nothing written."""
    from connectors.trading import ExchangeApiConnector

    connector = ExchangeApiConnector(base_url, key, page_size=page_size)
    rows, pages = 0, 0
    try:
        with Stopwatch() as pulled:
            for code in CODES:
                for page in connector.pages(code, None, None):
                    pages += 1
                    for _record in page.records:
                        rows += 1
    finally:
        connector.close()
    return {"rows": rows, "pages": pages, "seconds": round(pulled.seconds, 2)}


def _raw_copy(
    engine: sa.Engine, base_url: str, key: str, page_size: int, folder: Path
) -> tuple[dict[str, Any], dict[str, tuple[Path, list[str]]]]:
    """Pull the same datasets' pages again, write them as CSV, COPY the CSV into plain text tables.

    Returns the figures and the CSV files (code -> (path, columns), no header line), kept for the floor.
    """
    from connectors.trading import ExchangeApiConnector

    connector = ExchangeApiConnector(base_url, key, page_size=page_size)
    files, rows = {}, 0
    with Stopwatch() as pulled:
        for code in CODES:
            path = folder / f"raw_{code}.csv"
            fields: list[str] | None = None
            with path.open("w", newline="", encoding="utf-8") as out:
                writer = None
                for page in connector.pages(code, None, None):
                    for record in page.records:
                        if writer is None:
                            fields = list(record)
                            writer = csv.writer(out)
                        writer.writerow([record.get(f) for f in fields])
                        rows += 1
            files[code] = (path, fields or [])
    connector.close()
    with engine.begin() as conn:
        for code, (_, fields) in files.items():
            conn.execute(sa.text(f"DROP TABLE IF EXISTS public.bench_copy_{code}"))
            conn.execute(
                sa.text(f"CREATE TABLE public.bench_copy_{code} ({', '.join(f'{f} text' for f in fields)})")
            )
    with Stopwatch() as copied, engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            for code, (path, _) in files.items():
                with path.open("rb") as data:
                    cur.copy_expert(f"COPY public.bench_copy_{code} FROM STDIN WITH (FORMAT csv)", data)
    figures = {
        "rows": rows,
        "pull_seconds": round(pulled.seconds, 2),
        "copy_seconds": round(copied.seconds, 2),
    }
    return figures, files


def _state_tables(entities_before: int) -> list[str | tuple[str, str]]:
    """What the timed pull of 507 and 519 leaves per row: their core rows, the market entities it created
    (those of the parents' untimed pull excluded), its quarantined rows and its children waiting for a parent.
    raw.trading_row is emptied after each merge; ops.batch and the watermark are per batch, not per row."""
    from connectors.trading import TRADING_DATASETS

    names = ", ".join(f"'{TRADING_DATASETS[c].name}'" for c in CODES)
    codes = ", ".join(f"'{c}'" for c in CODES)
    return [
        "core.bid",
        "core.bid_document_fingerprint",
        ("core.market_entity", f"id > {entities_before}"),
        ("quality.quarantine_row", f"dataset IN ({names})"),
        ("ops.trading_waiting", f"dataset IN ({codes})"),
    ]


def run(bids: int, page_size: int, keep: bool = False) -> dict[str, Any]:
    """Run the benchmark at one size; returns the figures."""
    from ggzy import database
    from ggzy.pipelines.trading import pull_api
    from standins.exchange_centre import ExchangeCentreServer, TradingYear

    results: dict[str, Any] = {"bids_requested": bids, "page_size": page_size, "environment": environment()}
    # Timings: "land" = stage + raw zone per page, "validate" = GX, "merge" = quarantine/wait/entities/core;
    # the HTTP fetch and JSON decoding of pages are the rest of the end-to-end time.
    year = TradingYear.for_bids(bids, seed=0)
    with fresh_hub("trading-bench", keep=keep) as settings, tempfile.TemporaryDirectory() as tmp:
        engine = database.engine(settings)
        indexing = time.perf_counter()
        with ExchangeCentreServer(year, api_key="bench") as server:
            results["standin_index_seconds"] = round(time.perf_counter() - indexing, 1)
            with Stopwatch() as parents:
                pull_api(
                    settings, server.base_url, "bench", codes=PARENTS, engine=engine, page_size=page_size
                )
            results["parents_seconds"] = round(parents.seconds, 1)
            with engine.connect() as conn:
                entities_before = conn.scalar(sa.text("SELECT coalesce(max(id), 0) FROM core.market_entity"))
            marks: dict[str, float] = {}
            pulled = {"507": 0}

            def progress(code: str, rows: int) -> None:
                if code == "507":
                    before = pulled["507"]
                    pulled["507"] += rows
                    if before < 100_000 <= pulled["507"]:
                        marks["rss_mib_at_100k_bids"] = _rss_mib()

            with MemorySampler(settings) as memory, Stopwatch() as loaded:
                reports = pull_api(
                    settings,
                    server.base_url,
                    "bench",
                    codes=CODES,
                    engine=engine,
                    page_size=page_size,
                    progress=progress,
                )
            marks["rss_mib_at_end"] = _rss_mib()
            rows = sum(r["rows_in"] for r in reports.values())
            results["pipeline"] = {
                "rows": rows,
                "seconds": round(loaded.seconds, 2),
                "rows_per_second": round(rate(rows, loaded.seconds)),
                "datasets": {
                    name: {k: v for k, v in r.items() if k.startswith("rows_")} for name, r in reports.items()
                },
                "timings": {name: r["timings"] for name, r in reports.items()},
                **marks,
                **memory.figures(),
            }
            pull_only = _pull_only(server.base_url, "bench", page_size)
            baseline, files = _raw_copy(engine, server.base_url, "bench", page_size, Path(tmp))
        copy_rate = rate(baseline["rows"], baseline["copy_seconds"])
        pull_copy_rate = rate(baseline["rows"], baseline["pull_seconds"] + baseline["copy_seconds"])
        results["raw_copy"] = {
            **baseline,
            "copy_rows_per_second": round(copy_rate),
            "pull_plus_copy_rows_per_second": round(pull_copy_rate),
        }
        pipeline_rate = results["pipeline"]["rows_per_second"]
        results["ratio_to_raw_copy"] = round(pipeline_rate / copy_rate, 3) if copy_rate else None
        results["ratio_to_pull_plus_raw_copy"] = (
            round(pipeline_rate / pull_copy_rate, 3) if pull_copy_rate else None
        )
        if pull_only["rows"] != baseline["rows"]:
            raise SystemExit(
                f"row count mismatch: pure pull {pull_only['rows']}, pull + CSV {baseline['rows']}"
            )
        results["pull_only_seconds"] = pull_only["seconds"]
        results["pull_only"] = {
            **pull_only,
            "rows_per_second": round(rate(pull_only["rows"], pull_only["seconds"])),
        }
        results["pull_ceiling_ratio"] = (
            round(baseline["copy_seconds"] / pull_only["seconds"], 3) if pull_only["seconds"] else None
        )
        state_tables = _state_tables(entities_before)
        with engine.connect() as conn:
            results["core_rows"] = {
                t: conn.scalar(sa.text(f"SELECT count(*) FROM core.{t}"))
                for t in ("bid", "bid_document_fingerprint", "market_entity")
            }
            results["state_rows"] = {}
            for t in state_tables:
                name, where = (t, "true") if isinstance(t, str) else t
                results["state_rows"][name] = conn.scalar(
                    sa.text(f"SELECT count(*) FROM {name} WHERE {where}")
                )
            # As in bench.ingest_penalties: the floor does not pay for flushing the writes before it.
            conn.execute(sa.text("CHECKPOINT"))
        landing = {f"landing COPY {code}": files[code] for code in CODES}
        floor = state_floor(engine, landing, state_tables, header=False)
        floor_seconds = sum(floor.values())
        results["floor"] = {
            "method": "the raw COPY's CSV files COPYed as text, then the ingest's rows of each state table"
                      " INSERT .. SELECTed into a copy with its indexes, one transaction",
            "timings": floor,
            "seconds": round(floor_seconds, 3),
            "best_possible_ratio": round(baseline["copy_seconds"] / floor_seconds, 3) if floor_seconds else None,
        }  # fmt: skip
    return results


def main() -> None:
    """Command line: run, print a table, write bench/results/trading_ingest-<time>.json."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bids", type=int, default=1_000_000, help="number of bids (507) in the year")
    parser.add_argument("--page-size", type=int, default=5000, help="records per API page (1..5000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary hub home")
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    started = time.perf_counter()
    results = run(args.bids, args.page_size, keep=args.keep)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    path = write_results("trading_ingest", results)
    p, c, f = results["pipeline"], results["raw_copy"], results["floor"]
    print(
        table(
            [
                ("rows (507 + 519)", f"{p['rows']:,}"),
                ("end to end", f"{p['seconds']} s, {p['rows_per_second']:,} rows/s"),
                ("raw COPY of the same rows", f"{c['copy_seconds']} s, {c['copy_rows_per_second']:,} rows/s"),
                (
                    "pull + raw COPY",
                    f"{c['pull_seconds'] + c['copy_seconds']:.1f} s, {c['pull_plus_copy_rows_per_second']:,} rows/s",
                ),
                ("ratio to raw COPY", str(results["ratio_to_raw_copy"])),
                ("ratio to pull + raw COPY", str(results["ratio_to_pull_plus_raw_copy"])),
                ("pull + CSV writing (raw COPY's pull)", f"{c['pull_seconds']} s"),
                (
                    "pure pull (no CSV): ceiling",
                    f"{results['pull_only_seconds']} s, {results['pull_only']['rows_per_second']:,} rows/s,"
                    f" ratio {results['pull_ceiling_ratio']} (raw COPY / pure pull)",
                ),
                (
                    "floor: write the state only",
                    f"{f['seconds']:.2f} s, ratio {f['best_possible_ratio']} (best possible: raw COPY / floor)",
                ),
                *((f"  floor {name}", f"{seconds:.2f} s") for name, seconds in f["timings"].items()),
                (
                    "RSS at 100k bids / end (MiB)",
                    f"{p.get('rss_mib_at_100k_bids', '-')} / {p['rss_mib_at_end']}",
                ),
                (
                    "peak RSS python / postgres (MiB)",
                    f"{p['python_peak_rss_mib']} / {p['postgres_peak_rss_mib']}",
                ),
            ],
            f"trading ingest benchmark ({results['bids_requested']:,} bids requested)",
        )
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
