"""`ggzy screen`: price screens and a suspicion score per 标段 from a file of bids (no database needed)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ggzy.errors import HubError

console = Console(stderr=True)
PROGRESS_ROWS = 100_000  # show a progress bar from this many bids on

HELP = (
    "围标串标价格筛查 / Screen bids for signs of bid rigging, per 标段 (section). No database needed.\n\n"
    "Input (CSV or Parquet, by extension): one row per bid with columns section_id, bidder_id, bid_price"
    " (元, positive; convert 万元 first) and optionally estimate (控制价, the same value on every row of a"
    " section). Example input.csv:\n\n"
    "\b\n"
    "    section_id,bidder_id,bid_price,estimate\n"
    "    BD-001,A,1000000,1200000\n"
    "    BD-001,B,1030000,1200000\n"
    "    BD-001,C,1060000,1200000\n"
    "    BD-002,D,980000,\n"
    "    BD-002,E,980000,\n\n"
    "\b\n"
    "    ggzy screen --input input.csv --output sections.csv\n"
    "    ggzy screen --input bids.parquet --output sections.parquet\n\n"
    "Output: one row per section with section_id, n_bids, score (0-1, higher = more suspicious), score_status,"
    " each screen's value and status (cv, spd, diffp, rd, kurt, skew, kstest, identical, pattern, cluster,"
    " estimate_ratio, above_estimate; status calculated / insufficient_data / not_applicable), flags (raised,"
    " ';'-joined, strongest first), contributions (each flag's share of the score), legal_basis (the articles"
    " of 招标投标法 / 实施条例 the flags map to) and evidence (JSON). Above, BD-001 is flagged"
    " PATTERNED_PRICES (equal gaps) and TIGHT_CLUSTER; BD-002 has 2 bids: insufficient_data.\n\n"
    "Sections with fewer than 3 bids get score_status insufficient_data and an empty score, never 0: missing"
    ' data is never "no risk". Market fences (LOW_CV, HIGH_RD, ...) compare each section with the other'
    " sections of the same file with as many bids, and need at least 30 of them. Definitions, thresholds"
    " and their sources: ggzy/analytics/price_screens.py and ggzy/analytics/score.py."
)


def screen_command(
    input_path: Path = typer.Option(
        ..., "--input", "-i", help="Bids file: .csv or .parquet (one row per bid)."
    ),
    output_path: Path = typer.Option(
        ..., "--output", "-o", help="Result file: .csv or .parquet (one row per section)."
    ),
) -> None:
    """围标串标价格筛查 / Screen bids for signs of bid rigging, per 标段 (section)."""
    from ggzy.analytics.bidfile import file_format, read_bids, write_sections
    from ggzy.analytics.price_screens import compute_price_screens
    from ggzy.analytics.score import ALERT_THRESHOLD, score_sections

    started = time.perf_counter()
    try:
        file_format(output_path)  # fail on a bad output name before reading a large input
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"读取 / reading {input_path.name}", total=4)
            bids = read_bids(input_path)
            show = len(bids) >= PROGRESS_ROWS
            if not show:
                progress.update(task, visible=False)
            progress.update(task, advance=1, description=f"筛查 / screening {len(bids):,} bids")
            screens = compute_price_screens(bids)
            progress.update(task, advance=1, description=f"评分 / scoring {len(screens):,} sections")
            result = score_sections(screens)
            progress.update(task, advance=1, description=f"写出 / writing {output_path.name}")
            write_sections(result, output_path)
            progress.update(task, advance=1)
    except HubError as error:
        console.print(f"[red]{error.zh}[/]\n[red]{error.en}[/]", soft_wrap=True)  # whole lines: paths are long
        raise typer.Exit(2) from None
    scored = result["score_status"] == "calculated"
    flagged = int((result["flags"] != "").sum())
    alerts = int((result["score"] >= ALERT_THRESHOLD).sum())
    console.print(
        f"{len(bids):,} 条报价 / bids, {len(result):,} 个标段 / sections: {int(scored.sum()):,} 已评分 / scored,"
        f" {int((~scored).sum()):,} 数据不足 / insufficient data (< 3 bids), {flagged:,} 有标记 / flagged,"
        f" {alerts:,} 分数 >= {ALERT_THRESHOLD} / score >= {ALERT_THRESHOLD}"
        f" -> {output_path} ({time.perf_counter() - started:.1f}s)"
    )


screen_command.__doc__ = HELP
