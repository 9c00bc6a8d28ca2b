"""Shared pieces of the benchmarks: a throw-away hub, memory sampling, results files, tables."""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@contextmanager
def fresh_hub(prefix: str, keep: bool = False) -> Iterator[Any]:
    """Settings for a new GGZY home in a temp dir with a fresh, migrated embedded PostgreSQL; stopped after."""
    from ggzy import database
    from ggzy.settings import Settings

    home = Path(tempfile.mkdtemp(prefix=f"ggzy-{prefix}-"))
    # An external GGZY_DATABASE_URL would make the run measure (and write to) someone else's server.
    settings = Settings(home=home, database_url=None, airflow_database_url=None)
    try:
        database.migrate(settings)
        yield settings
    finally:
        database.dispose_engines()
        try:
            database.stop_embedded(settings)
        finally:
            if not keep:
                shutil.rmtree(home, ignore_errors=True)


def postgres_pids(settings: Any) -> list[int]:
    """The embedded server's postmaster and its children (for memory figures)."""
    import psutil

    pid_file = settings.pgdata / "postmaster.pid"
    try:
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [postmaster.pid, *(c.pid for c in postmaster.children(recursive=True))]
    except (OSError, ValueError, psutil.Error):
        return []


class MemorySampler:
    """Samples this process's RSS and the embedded PostgreSQL's total RSS in the background; keeps peaks."""

    def __init__(self, settings: Any, interval: float = 0.25) -> None:
        self.settings = settings
        self.interval = interval
        self.peak_python = 0
        self.peak_postgres = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def _sample(self) -> None:
        import psutil

        self.peak_python = max(self.peak_python, psutil.Process().memory_info().rss)
        total = 0
        for pid in postgres_pids(self.settings):
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.Error:
                pass
        self.peak_postgres = max(self.peak_postgres, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> MemorySampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def figures(self) -> dict[str, float]:
        """Peaks in MiB: sampled python RSS, kernel-reported python max RSS, sampled PostgreSQL total RSS."""
        max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        return {
            "python_peak_rss_mib": round(max(self.peak_python / 2**20, max_rss_kib / 1024), 1),
            "postgres_peak_rss_mib": round(self.peak_postgres / 2**20, 1),
        }


class CpuMeter:
    """CPU seconds spent during a with-block: this process, the thread that entered it, the embedded PostgreSQL.

    PostgreSQL's figure is its live processes' CPU plus what the postmaster has reaped from backends that
    exited, so a connection closed inside the block is still counted.
    """

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.figures: dict[str, float] = {}

    def _postgres(self) -> float:
        import psutil

        total = 0.0
        for i, pid in enumerate(postgres_pids(self.settings)):
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
            if i == 0:  # the postmaster: its reaped children too
                total += times.children_user + times.children_system
        return total

    def __enter__(self) -> CpuMeter:
        self._start = (time.perf_counter(), time.process_time(), time.thread_time(), self._postgres())
        return self

    def __exit__(self, *exc: object) -> None:
        now = (time.perf_counter(), time.process_time(), time.thread_time(), self._postgres())
        wall, process, thread, postgres = (b - a for a, b in zip(self._start, now, strict=True))
        self.figures = {
            "wall_seconds": round(wall, 2),
            "python_cpu_seconds": round(process, 2),
            "python_this_thread_cpu_seconds": round(thread, 2),
            "postgres_cpu_seconds": round(postgres, 2),
            "cores_busy": round((process + postgres) / wall, 2) if wall > 0 else 0.0,
        }


def environment() -> dict[str, Any]:
    """Where the figures were taken: machine, load, versions."""
    import psutil

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write results as JSON under bench/results/ (git-ignored); returns the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def table(rows: list[tuple[str, str]], title: str) -> str:
    """A plain two-column text table (copy-pasteable into the README)."""
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 3 + max(len(v) for _, v in rows))
    return "\n".join([title, line, *(f"{k.ljust(width)} | {v}" for k, v in rows), line])


def rate(count: int, seconds: float) -> float:
    """count per second (0 when nothing was timed)."""
    return count / seconds if seconds > 0 else 0.0


class Stopwatch:
    """perf_counter seconds of a with-block, in `.seconds`."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def state_floor(
    engine: Any,
    landing: Mapping[str, tuple[Path, Sequence[str]]],
    state_tables: Sequence[str | tuple[str, str]],
    *,
    header: bool = True,
) -> dict[str, float]:
    """Seconds to write an ingest's resulting state with nothing computed: the floor under any ingest.

    One transaction: each landing CSV file (`landing`: timing label -> (path, columns); `header`: the files
    start with a header line) COPYed as text into a fresh unindexed table, then each of `state_tables` copied
    into a fresh table LIKE it (defaults and indexes) by one INSERT .. SELECT *. A state table is a name, or
    (name, SQL condition) to copy only the rows the measured ingest wrote (not those already there). The
    ratio baseline COPY / floor is the best any implementation writing these rows into PostgreSQL could reach.
    Returns seconds per step (the landing labels, the state tables' names, "commit"); the copies are dropped.
    """
    timings: dict[str, float] = {}
    landed = [f"public.bench_floor_landing_{i}" for i in range(len(landing))]
    copies = [
        "public.bench_floor_" + (t if isinstance(t, str) else t[0]).replace(".", "_") for t in state_tables
    ]
    options = "FORMAT csv, HEADER true" if header else "FORMAT csv"
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            for target, (label, (path, columns)) in zip(landed, landing.items(), strict=True):
                with Stopwatch() as watch, open(path, "rb") as handle:
                    cur.execute(f"CREATE TABLE {target} ({', '.join(f'{c} text' for c in columns)})")
                    cur.copy_expert(
                        f"COPY {target} ({', '.join(columns)}) FROM STDIN WITH ({options})", handle
                    )
                timings[label] = watch.seconds
            for copy, table in zip(copies, state_tables, strict=True):
                source, where = (table, "") if isinstance(table, str) else (table[0], f" WHERE {table[1]}")
                with Stopwatch() as watch:
                    cur.execute(f"CREATE TABLE {copy} (LIKE {source} INCLUDING DEFAULTS INCLUDING INDEXES)")
                    cur.execute(f"INSERT INTO {copy} SELECT * FROM {source}{where}")
                timings[source] = watch.seconds
        with Stopwatch() as watch:
            raw.commit()
        timings["commit"] = watch.seconds
        with raw.cursor() as cur:
            for name in (*landed, *copies):
                cur.execute(f"DROP TABLE {name}")
        raw.commit()
    finally:
        raw.close()
    return {name: round(seconds, 3) for name, seconds in timings.items()}
