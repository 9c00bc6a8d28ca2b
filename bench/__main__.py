"""`make bench` / `python -m bench`: the ingest and fan-out benchmarks of issue 2, then a summary.

    .venv/bin/python -m bench            # 1,000,000 rows; 10,000 decisions x 30 units
    .venv/bin/python -m bench --quick    # 20,000 rows; 500 decisions x 10 units
    .venv/bin/python -m bench --only ingest --rows 200000

Each benchmark starts its own embedded PostgreSQL in a temp dir; results go to bench/results/ as JSON.
Timing figures depend on the machine and its load (printed with the results). bench/validation_timing.py
(GX validation alone, on the configured warehouse) is separate: `python bench/validation_timing.py`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fanout, ingest_penalties  # noqa: E402
from bench.common import table  # noqa: E402

QUICK = {"rows": 20_000, "decisions": 500, "units": 10}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks with defaults (or --quick sizes) and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", choices=("ingest", "fanout"))
    parser.add_argument("--rows", type=int, help="ingest: rows in the generated CSV")
    parser.add_argument("--decisions", type=int, help="fan-out: decisions")
    parser.add_argument("--units", type=int, help="fan-out: member units")
    parser.add_argument(
        "--max-seconds", type=float, default=3600.0, help="fan-out: stop each side after this"
    )
    args = parser.parse_args(argv)
    sizes = {
        "rows": args.rows or (QUICK["rows"] if args.quick else ingest_penalties.DEFAULT_ROWS),
        "decisions": args.decisions or (QUICK["decisions"] if args.quick else fanout.DEFAULT_DECISIONS),
        "units": args.units or (QUICK["units"] if args.quick else fanout.DEFAULT_UNITS),
    }

    summary: list[tuple[str, str]] = []
    if args.only in (None, "ingest"):
        ingest = ingest_penalties.run(sizes["rows"])["runs"][0]
        summary += [
            (
                f"ingest {ingest['rows']:,} rows ({ingest['member_units_synced']} units)",
                f"{ingest['ours']['rows_per_second']:,} rows/s vs COPY {ingest['baseline']['rows_per_second']:,}"
                f" rows/s: ratio {ingest['ratio']:.3f} (target >= {ingest_penalties.TARGET_RATIO})",
            )
        ]
    if args.only in (None, "fanout"):
        fan = fanout.run(sizes["decisions"], sizes["units"], max_seconds=args.max_seconds)["runs"][0]
        summary += [
            (
                f"fan-out {fan['decisions']:,} x {fan['units']} units",
                f"{fan['ours']['deliveries_per_second']:,} deliveries/s vs plain POST loop"
                f" {fan['baseline']['deliveries_per_second']:,}/s: ratio {fan['ratio']:.3f}"
                + ("" if fan["complete"] else " (time-bounded)"),
            )
        ]
    print()
    print(table(summary, "Summary"))


if __name__ == "__main__":
    main()
