"""`ggzy screen` end to end: the real console script on CSV and Parquet files, no database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ggzy.analytics.price_screens import SCREEN_CODES

GGZY = str(Path(sys.executable).with_name("ggzy"))
DOCUMENTED = (
    ["section_id", "n_bids", "score", "score_status"]
    + [c for code in SCREEN_CODES for c in (code, f"{code}_status")]
    + ["flags", "contributions", "legal_basis", "evidence"]
)


def ggzy(*args: str) -> subprocess.CompletedProcess:
    """Run the installed `ggzy` console script."""
    return subprocess.run([GGZY, *args], capture_output=True, text=True, timeout=300)


def bids_frame() -> pd.DataFrame:
    """40 clean sections, one with identical covers, one cover-bidding ladder, one with only 2 bids."""
    rng = np.random.default_rng(6)
    rows = []
    for i in range(40):
        estimate = float(np.round(np.exp(rng.normal(np.log(3e6), 0.7)), -2))
        for b, price in enumerate(
            np.round(estimate * np.exp(rng.normal(-0.1, 0.05, int(rng.integers(3, 8)))), 2)
        ):
            rows.append((f"C{i:02d}", f"C{i}-{b}", price, estimate))
    rows += [
        ("IDENT", "A", 970000.0, 1e6),
        ("IDENT", "B", 990000.0, 1e6),
        ("IDENT", "C", 990000.0, 1e6),
        ("IDENT", "D", 1010000.0, 1e6),
    ]
    rows += [("LADDER", f"L{k}", 970000.0 * (1 + 0.015 * k), 1e6) for k in range(5)]
    rows += [("PAIR", "P1", 500000.0, None), ("PAIR", "P2", 510000.0, None)]
    return pd.DataFrame(rows, columns=["section_id", "bidder_id", "bid_price", "estimate"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_screen_writes_documented_columns(tmp_path, suffix):
    source = tmp_path / f"bids{suffix}"
    frame = bids_frame()
    frame.to_csv(source, index=False) if suffix == ".csv" else frame.to_parquet(source, index=False)
    target = tmp_path / f"sections{suffix}"

    done = ggzy("screen", "--input", str(source), "--output", str(target))

    assert done.returncode == 0, done.stderr
    assert "PAIR" not in done.stdout  # results go to the file, the summary to stderr
    assert "43 个标段 / sections" in done.stderr.replace("\n", " ")
    result = (
        pd.read_csv(target, keep_default_na=False, na_values=[""])
        if suffix == ".csv"
        else pd.read_parquet(target)
    )
    assert list(result.columns) == DOCUMENTED
    result = result.set_index("section_id")
    assert len(result) == 43 and result["n_bids"].sum() == len(frame)

    pair = result.loc["PAIR"]
    assert pair["n_bids"] == 2 and pair["score_status"] == "insufficient_data" and pd.isna(pair["score"])
    assert all(pair[f"{c}_status"] == "insufficient_data" for c in SCREEN_CODES)

    clean = result.filter(like="C", axis=0)["score"]
    for section, flag in (("IDENT", "IDENTICAL_PRICES"), ("LADDER", "PATTERNED_PRICES")):
        row = result.loc[section]
        assert flag in row["flags"].split(";")
        assert row["score"] > clean.max()
        assert "第四十条(四)" in row["legal_basis"]
        assert flag in json.loads(row["evidence"])
    assert result.loc["IDENT", "identical"] == 2
    assert result.loc["LADDER", "estimate_ratio"] == pytest.approx(0.97)


def test_screen_errors_are_bilingual_and_name_file_row_field(tmp_path):
    source = tmp_path / "bids.csv"
    source.write_text("section_id,bidder_id,bid_price\nA,x,100\nA,y,1.2万\n", encoding="utf-8")
    done = ggzy("screen", "--input", str(source), "--output", str(tmp_path / "out.csv"))
    message = " ".join(done.stderr.split())
    assert done.returncode == 2
    assert "第3行" in message and "row 3" in message
    assert "bid_price" in message and "bids.csv" in message
    assert not (tmp_path / "out.csv").exists()

    source.write_text("section_id,price\nA,1\n")
    done = ggzy("screen", "--input", str(source), "--output", str(tmp_path / "out.csv"))
    message = " ".join(done.stderr.split())
    assert done.returncode == 2 and "缺少必需的列" in message and "lacks required column" in message
    assert "bidder_id" in message and "bid_price" in message


def test_screen_help_teaches_with_an_example():
    done = ggzy("screen", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "ggzy screen --input input.csv --output sections.csv" in text
    assert "section_id,bidder_id,bid_price,estimate" in text
    assert "insufficient_data" in text
