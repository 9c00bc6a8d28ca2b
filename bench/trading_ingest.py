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
  HTTP), nothing written: the ingest cannot finish before its pull, so raw COPY / pure pull is a ceiling too;
* CPU: the pull and the floor both need the machine's cores (the stand-in serves from this process), so no
  ingest finishes before (pure pull CPU + floor CPU) / cores either: raw COPY / the largest of the three
  bounds is the tightest ceiling. The timed run's own CPU (this process, PostgreSQL) is reported beside it.
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
    CpuMeter,
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


def _pull_only(settings: Any, base_url: str, key: str, page_size: int) -> dict[str, Any]:
    """Seconds (and CPU) to pull the datasets' pages through the connector, records touched, nothing written.

    The pages are iterated in this thread, so its CPU is the client's; the rest of the process's CPU is
    the stand-in server's.
    """
    from connectors.trading import ExchangeApiConnector

    connector = ExchangeApiConnector(base_url, key, page_size=page_size)
    rows, pages = 0, 0
    try:
        with CpuMeter(settings) as cpu:
            for code in CODES:
                for page in connector.pages(code, None, None):
                    pages += 1
                    for _record in page.records:
                        rows += 1
    finally:
        connector.close()
    return {"rows": rows, "pages": pages, "seconds": cpu.figures["wall_seconds"], "cpu": cpu.figures}


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


def _cpu_ceiling(
    copy_seconds: float, pull: dict[str, Any], floor_seconds: float, floor_cpu: dict[str, float], cpus: int
) -> dict[str, Any]:
    """The shortest time any ingest could take on this machine, from the pull's and the floor's wall and CPU.

    Pulling and writing can overlap, but they share the cores: the pure pull's CPU (client and stand-in)
    plus the floor's (PostgreSQL and this process) spread over every core is a lower bound, as are the two
    wall times. The ceiling ratio is raw COPY over the largest of them.
    """
    busy = (
        pull["cpu"]["python_cpu_seconds"]
        + floor_cpu["python_cpu_seconds"]
        + floor_cpu["postgres_cpu_seconds"]
    )
    bounds = {
        "pure_pull_wall": pull["seconds"],
        "floor_wall": round(floor_seconds, 2),
        "pull_and_floor_cpu_over_cores": round(busy / cpus, 2),
    }
    binding = max(bounds, key=bounds.__getitem__)
    return {
        "lower_bounds_seconds": bounds,
        "binding": binding,
        "pull_client_cpu_seconds": pull["cpu"]["python_this_thread_cpu_seconds"],
        "pull_standin_cpu_seconds": round(
            pull["cpu"]["python_cpu_seconds"] - pull["cpu"]["python_this_thread_cpu_seconds"], 2
        ),
        "ratio": round(copy_seconds / bounds[binding], 3) if bounds[binding] else None,
    }


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

            with MemorySampler(settings) as memory, Stopwatch() as loaded, CpuMeter(settings) as cpu:
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
                "cpu": cpu.figures,
            }
            pull_only = _pull_only(settings, server.base_url, "bench", page_size)
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
        with CpuMeter(settings) as floor_cpu:
            floor = state_floor(engine, landing, state_tables, header=False)
        floor_seconds = sum(floor.values())
        results["floor"] = {
            "method": "the raw COPY's CSV files COPYed as text, then the ingest's rows of each state table"
                      " INSERT .. SELECTed into a copy with its indexes, one transaction",
            "timings": floor,
            "seconds": round(floor_seconds, 3),
            "best_possible_ratio": round(baseline["copy_seconds"] / floor_seconds, 3) if floor_seconds else None,
            "cpu": floor_cpu.figures,
        }  # fmt: skip
        results["cpu_ceiling"] = _cpu_ceiling(
            baseline["copy_seconds"],
            pull_only,
            floor_seconds,
            floor_cpu.figures,
            results["environment"]["cpus"],
        )
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
    ceiling = results["cpu_ceiling"]
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
                    "CPU ceiling: pull + floor over cores",
                    f"{ceiling['lower_bounds_seconds']['pull_and_floor_cpu_over_cores']} s"
                    f" (pull client {ceiling['pull_client_cpu_seconds']} s + stand-in"
                    f" {ceiling['pull_standin_cpu_seconds']} s + floor {f['cpu']['postgres_cpu_seconds']} s"
                    f" PostgreSQL, over {results['environment']['cpus']} cores)",
                ),
                (
                    "tightest ceiling",
                    f"ratio {ceiling['ratio']} (bound by {ceiling['binding'].replace('_', ' ')})",
                ),
                (
                    "end to end CPU: python / PostgreSQL",
                    f"{p['cpu']['python_cpu_seconds']} s / {p['cpu']['postgres_cpu_seconds']} s,"
                    f" {p['cpu']['cores_busy']} cores busy",
                ),
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
