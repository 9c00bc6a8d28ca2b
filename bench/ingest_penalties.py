"""Ingest benchmark: N 双公示 rows (CSV) end to end through the penalty pipeline vs a raw COPY of the same file.

One run, one fresh embedded PostgreSQL (temp GGZY home, migrated):

* baseline: `COPY ... FROM STDIN (FORMAT csv, HEADER)` of the file, through psycopg2 copy_expert, into an
  unindexed table with the file's columns, all text (no parsing, checks, history or outbox);
* ours: `ggzy.pipelines.penalties.ingest_path` (land + sha256, parse, Parquet copy, dedupe, stage via COPY,
  Great Expectations validation in PostgreSQL, quarantine, merge with version history, delivery events and
  one outbox row per member unit, all committed together);
* floor: the same file COPYed as text, then the rows the ingest left in each state table written again into
  a copy of that table (with its indexes) by one INSERT .. SELECT, in one transaction. Nothing is parsed,
  validated, hashed or built: baseline / floor is the best ratio any ingest that must leave these rows
  could reach on this machine, the yardstick for the target.

Member units: by default the jurisdiction's units are synced first (as in production), so every decision
also gets one outbox row per unit (12 for jiaozuo); `--no-units` measures without them.

    .venv/bin/python -m bench.ingest_penalties            # 1,000,000 rows
    .venv/bin/python -m bench.ingest_penalties --rows 100000 --also-without-units
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    MemorySampler,
    Stopwatch,
    environment,
    fresh_hub,
    rate,
    state_floor,
    table,
    write_results,
)

TARGET_RATIO = 0.33
DEFAULT_ROWS = 1_000_000


def baseline_copy(engine: Any, path: Path, columns: list[str]) -> tuple[float, int]:
    """(seconds, rows) of a COPY of the CSV file into a fresh unindexed all-text table (committed)."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS public.bench_copy_baseline")
            cur.execute(
                f"CREATE TABLE public.bench_copy_baseline ({', '.join(f'{c} text' for c in columns)})"
            )
        raw.commit()
        with Stopwatch() as watch, open(path, "rb") as handle, raw.cursor() as cur:
            cur.copy_expert(
                f"COPY public.bench_copy_baseline ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, HEADER true)",
                handle,
            )
            raw.commit()
        with raw.cursor() as cur:
            cur.execute("SELECT count(*) FROM public.bench_copy_baseline")
            copied = cur.fetchone()[0]
            cur.execute("DROP TABLE public.bench_copy_baseline")
        raw.commit()
    finally:
        raw.close()
    return watch.seconds, copied


# What the ingest must leave behind, table by table: written again by bench.common.state_floor, plain
# INSERT .. SELECT of the rows the ingest produced (same columns and indexes), so no parsing, validation,
# hashing or JSON is counted.
STATE_TABLES = ("core.penalty_decision", "core.penalty_decision_version", "delivery.event", "delivery.outbox")


def sync_profile_units(settings: Any) -> int:
    """Sync the jurisdiction's member units into delivery.member_unit (no endpoints needed to enqueue)."""
    from ggzy import database
    from ggzy.delivery.units import sync_units
    from ggzy.jurisdictions import load_profile

    units = sync_units(database.engine(settings), load_profile(settings.jurisdiction), lambda unit: None)
    return len(units)


def measure(rows: int, seed: int, *, with_units: bool, workdir: Path | None = None) -> dict[str, Any]:
    """Generate the file, start a fresh hub, time the baseline COPY and our ingest; returns the figures."""
    import sqlalchemy as sa

    from connectors.penalties import PENALTY_FIELDS
    from ggzy import database
    from ggzy.pipelines.penalties import ingest_path
    from standins.departments import large_csv

    with Stopwatch() as imports:  # one-time cost of a fresh process (GX alone takes seconds), not per file
        import quality.runner  # noqa: F401

    with fresh_hub("bench-ingest") as settings:
        path = Path(workdir or settings.home) / f"penalties-{rows}.csv"
        with Stopwatch() as generated:
            large_csv(path, rows, seed=seed)
        size = path.stat().st_size
        engine = database.engine(settings)
        units = sync_profile_units(settings) if with_units else 0

        baseline_seconds, copied = baseline_copy(engine, path, list(PENALTY_FIELDS))
        with engine.connect() as conn:
            conn.execute(sa.text("CHECKPOINT"))

        with MemorySampler(settings) as memory, Stopwatch() as ours:
            report = ingest_path(path, submitted_by=None, settings=settings)
        with engine.connect() as conn:
            outbox = conn.scalar(sa.text("SELECT count(*) FROM delivery.outbox"))
            events = conn.scalar(sa.text("SELECT count(*) FROM delivery.event"))
            conn.execute(sa.text("CHECKPOINT"))
        floor = state_floor(engine, {"landing COPY": (path, list(PENALTY_FIELDS))}, STATE_TABLES)
        path.unlink(missing_ok=True)

    if copied != rows or report.rows_in != rows:
        raise SystemExit(f"row count mismatch: file {rows}, COPY {copied}, pipeline rows_in {report.rows_in}")
    if report.status != "loaded" or not report.conserved:
        raise SystemExit(f"pipeline did not load the file: {report.status} {report.error}")
    baseline_rate, ours_rate = rate(rows, baseline_seconds), rate(rows, ours.seconds)
    return {
        "rows": rows,
        "seed": seed,
        "file_mib": round(size / 2**20, 1),
        "generate_seconds": round(generated.seconds, 2),
        "import_seconds_excluded": round(imports.seconds, 2),
        "member_units_synced": units,
        "baseline": {"method": "COPY FROM STDIN (csv) into an unindexed all-text table, psycopg2 copy_expert",
                     "seconds": round(baseline_seconds, 3), "rows_per_second": round(baseline_rate)},
        "ours": {"method": "ggzy.pipelines.penalties.ingest_path end to end", "seconds": round(ours.seconds, 3),
                 "rows_per_second": round(ours_rate), "timings": report.timings,
                 "rows_loaded": report.rows_loaded, "rows_quarantined": report.rows_quarantined,
                 "rows_duplicate": report.rows_duplicate, "rows_warned": report.rows_warned,
                 "delivery_events": events, "outbox_rows": outbox},
        "state_floor": {"method": "the file COPYed as text, then the ingest's resulting rows of each state table"
                                  " INSERT .. SELECTed into a copy with its indexes, one transaction",
                        "seconds": round(sum(floor.values()), 3), "timings": floor,
                        "ratio": round(baseline_seconds / sum(floor.values()), 3)},
        "ratio": round(ours_rate / baseline_rate, 3) if baseline_rate else 0.0,
        "target_ratio": TARGET_RATIO,
        "memory": memory.figures(),
    }  # fmt: skip


def render(result: dict[str, Any]) -> str:
    """The readable table of one measurement."""
    ours, base, floor = result["ours"], result["baseline"], result["state_floor"]
    ratio = result["ratio"]
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    rows = [
        ("rows (file size)", f"{result['rows']:,} ({result['file_mib']} MiB CSV, UTF-8)"),
        ("member units synced", f"{result['member_units_synced']} (outbox rows: {ours['outbox_rows']:,})"),
        ("baseline: raw COPY", f"{base['seconds']:.2f} s  {base['rows_per_second']:,} rows/s"),
        ("ours: ingest end to end", f"{ours['seconds']:.2f} s  {ours['rows_per_second']:,} rows/s"),
        ("ratio ours/baseline", f"{ratio:.3f} ({verdict} target >= {TARGET_RATIO})"),
        ("floor: write the state only", f"{floor['seconds']:.2f} s, ratio {floor['ratio']:.3f} (best possible)"),
        *((f"  floor {name}", f"{seconds:.2f} s") for name, seconds in floor["timings"].items()),
        *((f"  phase {name}", f"{seconds:.2f} s") for name, seconds in ours["timings"].items()),
        ("loaded/quarantined/dup", f"{ours['rows_loaded']:,} / {ours['rows_quarantined']:,} / {ours['rows_duplicate']:,}"),
        ("peak RSS python", f"{result['memory']['python_peak_rss_mib']:,} MiB"),
        ("peak RSS postgres (all)", f"{result['memory']['postgres_peak_rss_mib']:,} MiB"),
    ]  # fmt: skip
    return table(
        rows, f"Ingest benchmark ({'with' if result['member_units_synced'] else 'without'} member units)"
    )


def run(
    rows: int = DEFAULT_ROWS,
    seed: int = 2026,
    *,
    with_units: bool = True,
    also_without: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the benchmark (and optionally a second one without units); print tables and write JSON."""
    results: dict[str, Any] = {"benchmark": "ingest_penalties", "environment": environment(), "runs": []}
    variants = [with_units] + ([not with_units] if also_without else [])
    for units in variants:
        result = measure(rows, seed, with_units=units)
        results["runs"].append(result)
        if not quiet:
            print(render(result), flush=True)
    results["path"] = str(write_results("ingest_penalties", results))
    if not quiet:
        print(f"results: {results['path']}")
    return results


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the generated file")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--no-units", action="store_true", help="measure without member units (no outbox rows)"
    )
    parser.add_argument("--also-without-units", action="store_true", help="a second run without member units")
    args = parser.parse_args(argv)
    run(args.rows, args.seed, with_units=not args.no_units, also_without=args.also_without_units)


if __name__ == "__main__":
    main()
