"""Screening benchmark (issue 6): price screens + score for N bids in N/5 sections, against one SQL pass.

For each size, synthetic seeded bids (lognormal around a lognormal 控制价 per section, 1 + Poisson(4)
bids per section, a few planted rigged sections with identical or evenly spaced prices) are screened
in a fresh child process, which reports wall times (read Parquet, screen + score, write Parquet) and
peak RSS. The same rows are COPYed into a table of an embedded PostgreSQL (ggzy.database under a
temporary GGZY_HOME) and one aggregate query computes count, mean and standard deviation per section;
only that query is timed (run 3 times, fetching all rows). Figures are printed and written as JSON to
bench/results/screening-<UTC time>.json.

    .venv/bin/python -m bench.screening                  # 100,000 and 1,000,000 bids
    .venv/bin/python -m bench.screening --bids 250000    # one size (repeat --bids for more)
    .venv/bin/python -m bench.screening --no-sql         # screening only
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import environment, write_results

REPO = Path(__file__).resolve().parents[1]
BIDS_PER_SECTION = 5
SEED = 20260601
DEFAULT_SIZES = (100_000, 1_000_000)
SQL_RUNS = 3
AGGREGATE_SQL = (
    "SELECT section_id, count(*), avg(bid_price), stddev_samp(bid_price) FROM bench_bids GROUP BY section_id"
)


def synthetic_bids(n_bids: int, seed: int = SEED) -> tuple[pd.DataFrame, np.ndarray]:
    """n_bids bids in n_bids/5 sections and the ids of the planted rigged sections (about 1 in 1,000)."""
    rng = np.random.default_rng(seed)
    sections = max(n_bids // BIDS_PER_SECTION, 1)
    section = np.sort(np.concatenate([np.arange(sections), rng.integers(0, sections, n_bids - sections)]))
    estimate = np.round(np.exp(rng.normal(np.log(2e6), 1.0, sections)), -2)
    price = estimate[section] * np.exp(rng.normal(-0.10, 0.05, n_bids))
    start = np.searchsorted(section, np.arange(sections))
    count = np.bincount(section, minlength=sections)
    rank = np.arange(n_bids) - start[section]

    candidates = np.flatnonzero(count >= 4)
    rigged = rng.choice(candidates, size=min(len(candidates), max(n_bids // 1000, 1)), replace=False)
    is_rigged = np.zeros(sections, dtype=bool)
    is_rigged[rigged] = True
    identical_ring = is_rigged & (np.arange(sections) % 2 == 0)
    winner = estimate * 0.93  # covers stay below 控制价: the ring is found from prices alone
    bid_rigged = is_rigged[section]
    # evenly spaced covers 1.5 % apart above the agreed winner; in half the rings two covers are identical
    cover = winner[section] * (1 + 0.015 * rank)
    cover = np.where(identical_ring[section] & (rank == 2), winner[section] * 1.015, cover)
    price = np.where(bid_rigged, cover, price)

    bidder = rng.choice(50_000, size=n_bids, replace=True)
    # one bid per bidder and section: make repeated (section, bidder) pairs unique by their rank
    bidder = np.where(pd.Series(section * 100_000 + bidder).duplicated().to_numpy(), 50_000 + rank, bidder)
    bids = pd.DataFrame(
        {
            "section_id": pd.Series(section).map("BD{:07d}".format),
            "bidder_id": pd.Series(bidder).map("B{:06d}".format),
            "bid_price": np.round(price, 2),
            "estimate": estimate[section],
        }
    )
    return bids, np.char.mod("BD%07d", rigged)


def planted_recovery(result: pd.DataFrame, rigged: np.ndarray) -> dict:
    """How the planted rigged sections rank: recall among the top-k scores, precision/recall at the alert threshold."""
    from ggzy.analytics.score import ALERT_THRESHOLD

    planted = result["section_id"].isin(set(rigged.tolist())).to_numpy()
    top = result["score"].fillna(-1).rank(method="first", ascending=False).to_numpy() <= len(rigged)
    alert = result["score"].fillna(0).to_numpy() >= ALERT_THRESHOLD
    return {
        "rings": int(planted.sum()),
        "recall_top_k": round(float((planted & top).sum() / max(planted.sum(), 1)), 3),
        "alert_threshold": ALERT_THRESHOLD,
        "alerts": int(alert.sum()),
        "precision_at_threshold": round(float((planted & alert).sum() / max(alert.sum(), 1)), 3),
        "recall_at_threshold": round(float((planted & alert).sum() / max(planted.sum(), 1)), 3),
    }


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(data: Path, out: Path) -> dict:
    """Measured in a fresh process: read the Parquet bids, screen and score them, write the result."""
    from ggzy.analytics.bidfile import read_bids, write_sections
    from ggzy.analytics.price_screens import compute_price_screens
    from ggzy.analytics.score import score_sections

    base = _maxrss_mb()
    t0 = time.perf_counter()
    bids = read_bids(data)
    t1 = time.perf_counter()
    loaded = _maxrss_mb()
    screens = compute_price_screens(bids)
    t2 = time.perf_counter()
    result = score_sections(screens)
    t3 = time.perf_counter()
    write_sections(result, out)
    t4 = time.perf_counter()
    return {
        "bids": len(bids),
        "sections": len(result),
        "read_s": round(t1 - t0, 3),
        "screens_s": round(t2 - t1, 3),
        "score_s": round(t3 - t2, 3),
        "screen_and_score_s": round(t3 - t1, 3),
        "write_s": round(t4 - t3, 3),
        "file_to_file_s": round(t4 - t0, 3),
        "rss_after_imports_mb": round(base, 1),
        "rss_after_read_mb": round(loaded, 1),
        "peak_rss_mb": round(_maxrss_mb(), 1),
        "flagged_sections": int((result["flags"] != "").sum()),
        "insufficient_sections": int((result["score_status"] == "insufficient_data").sum()),
    }


def run_child(data: Path, out: Path) -> dict:
    """Run `child` in a new interpreter so its peak RSS belongs to this size alone."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.screening", "--child", str(data), str(out)],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def sql_pass(engine, bids: pd.DataFrame) -> dict:
    """COPY the bids into a table, then time one GROUP BY computing count, mean and stddev per section."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_pandas(bids[["section_id", "bidder_id", "bid_price"]], preserve_index=False),
        buffer,
        pacsv.WriteOptions(include_header=False),
    )
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_bids")
            cur.execute(
                "CREATE TABLE bench_bids (section_id text, bidder_id text, bid_price double precision)"
            )
            started = time.perf_counter()
            cur.copy_expert("COPY bench_bids FROM STDIN WITH (FORMAT csv)", buffer)
            copy_s = time.perf_counter() - started
            cur.execute("ANALYZE bench_bids")
            raw.commit()
            cur.execute("SHOW work_mem")
            work_mem = cur.fetchone()[0]
            cur.execute("SELECT version()")
            version = cur.fetchone()[0]
            runs = []
            for _ in range(SQL_RUNS):
                started = time.perf_counter()
                cur.execute(AGGREGATE_SQL)
                rows = cur.fetchall()
                runs.append(time.perf_counter() - started)
            cur.execute("DROP TABLE bench_bids")
            raw.commit()
    finally:
        raw.close()
    return {
        "copy_s": round(copy_s, 3),
        "aggregate_runs_s": [round(r, 3) for r in runs],
        "aggregate_best_s": round(min(runs), 3),
        "groups": len(rows),
        "work_mem": work_mem,
        "server": version.split(",")[0],
    }


def main() -> None:
    """Run every size, print the figures and write bench/results/screening-<UTC time>.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bids", type=int, action="append", help="bids per run (repeatable); default 100k and 1M"
    )
    parser.add_argument("--no-sql", action="store_true", help="skip the PostgreSQL comparison")
    parser.add_argument("--child", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]))))
        return
    run(args.bids or list(DEFAULT_SIZES), sql=not args.no_sql)


def run(sizes: list[int], sql: bool = True) -> dict:
    """Screen each size (and time the SQL pass); print the figures, write them to bench/results/, return them."""
    report: dict = {
        "benchmark": "ggzy screen: price screens + score vs one SQL aggregate pass",
        "environment": {**environment(), "numpy": np.__version__, "pandas": pd.__version__},
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="ggzy-bench-screening-") as tmp:
        engine, settings = _embedded(Path(tmp) / "home") if sql else (None, None)
        try:
            for n in sizes:
                bids, rigged = synthetic_bids(n)
                data = Path(tmp) / f"bids-{n}.parquet"
                bids.to_parquet(data, index=False)
                entry = {"bids": n, "load_avg_1m": round(os.getloadavg()[0], 2)}
                out = Path(tmp) / f"sections-{n}.parquet"
                entry["screening"] = screening = run_child(data, out)
                entry["planted"] = planted_recovery(pd.read_parquet(out), rigged)
                if engine is not None:
                    entry["sql"] = aggregate = sql_pass(engine, bids)
                    best = aggregate["aggregate_best_s"]
                    entry["ratio_screen_to_sql"] = round(screening["screen_and_score_s"] / best, 2)
                    entry["ratio_file_to_file_to_sql"] = round(screening["file_to_file_s"] / best, 2)
                report["runs"].append(entry)
                _print_run(entry)
        finally:
            if engine is not None:
                from ggzy import database

                engine.dispose()
                database.dispose_engines()
                database.stop_embedded(settings)
    if len(report["runs"]) >= 2:
        first, last = report["runs"][0], report["runs"][-1]
        per_bid = [r["screening"]["screen_and_score_s"] / r["bids"] for r in (first, last)]
        report["scaling"] = {
            "sizes": [first["bids"], last["bids"]],
            "us_per_bid": [round(x * 1e6, 3) for x in per_bid],
            "time_ratio": round(
                last["screening"]["screen_and_score_s"] / first["screening"]["screen_and_score_s"], 2
            ),
            "size_ratio": round(last["bids"] / first["bids"], 2),
        }
        print(
            f"scaling {first['bids']:,} -> {last['bids']:,} bids: time x{report['scaling']['time_ratio']}"
            f" for size x{report['scaling']['size_ratio']} ({report['scaling']['us_per_bid'][0]} ->"
            f" {report['scaling']['us_per_bid'][1]} us per bid)"
        )
    print(f"written {write_results('screening', report).relative_to(REPO)}")
    return report


def _embedded(home: Path):
    """An embedded PostgreSQL under a temporary GGZY_HOME and an engine on its warehouse database."""
    import sqlalchemy as sa

    from ggzy import database
    from ggzy.settings import Settings

    settings = Settings(home=home, database_url=None)  # always a throw-away embedded server
    return sa.create_engine(database.start_embedded(settings)), settings


def _print_run(run: dict) -> None:
    s = run["screening"]
    line = (
        f"{run['bids']:>9,} bids / {s['sections']:,} sections (load {run['load_avg_1m']}):"
        f" screen+score {s['screen_and_score_s']:.2f}s (screens {s['screens_s']:.2f}s, score {s['score_s']:.2f}s),"
        f" file->file {s['file_to_file_s']:.2f}s, peak RSS {s['peak_rss_mb']:.0f} MB"
        f" (after read {s['rss_after_read_mb']:.0f} MB); planted rings: recall in top-k"
        f" {run['planted']['recall_top_k']}, at score >= {run['planted']['alert_threshold']}: precision"
        f" {run['planted']['precision_at_threshold']} recall {run['planted']['recall_at_threshold']}"
    )
    if "sql" in run:
        q = run["sql"]
        line += (
            f" | SQL count/avg/stddev {q['aggregate_best_s']:.2f}s (runs {q['aggregate_runs_s']}, COPY {q['copy_s']:.1f}s)"
            f" | ratio screen/SQL {run['ratio_screen_to_sql']}, file->file/SQL {run['ratio_file_to_file_to_sql']}"
        )
    print(line, flush=True)


if __name__ == "__main__":
    main()
