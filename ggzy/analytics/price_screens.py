"""Price screens per 标段 (integrity-indicators.md §3), computed for every section at once.

The bids are sorted once by (section, price); each per-section statistic is then a segment reduction
(`np.add.reduceat`, `np.minimum.reduceat`, ...) over that order, so screening costs one sort plus a few
linear passes, with no Python loop over sections. With b1 <= b2 <= ... <= bn the bids of a section:

| screen | value | needs |
| --- | --- | --- |
| cv | sample std (ddof 1) / mean | 4 bids ("CV, KURT need more") |
| spd | (bn - b1) / b1 | 3 bids |
| diffp | (b2 - b1) / b1 | 3 bids |
| rd | (b2 - b1) / std(b2..bn), ddof 1 (the losing bids) | 3 bids, losing bids not all equal |
| kurt | sample excess kurtosis, bias-corrected (pandas `.kurt()`) | 4 bids, not all equal |
| skew | sample skewness, bias-corrected (pandas `.skew()`) | 3 bids, not all equal |
| kstest | Kolmogorov-Smirnov statistic against U(b1, bn), the uniform fitted by maximum likelihood | 3 bids, not all equal |
| identical | bids whose price (to the fen, 0.01 元) equals another bidder's | 3 bids |
| pattern | relative spread (max - min) / mean of the sorted gaps b(i+1) - b(i), or of the log ratios ln(b(i+1)/b(i)) (arithmetic or geometric progression), the smaller | 3 bids, not all equal |
| cluster | max abs(b - mean) / mean | 3 bids |
| estimate_ratio | b1 / 控制价 (the lowest bid, the usual winner, against the estimate) | 3 bids and one 控制价 |
| above_estimate | number of bids above 控制价 | 3 bids and one 控制价 |

Every screen has a status per section: 'calculated', 'insufficient_data' (fewer bids than it needs, or
no / conflicting 控制价) or 'not_applicable' (undefined for these bids, e.g. kurtosis when all bids are
equal; another screen covers that case). A value is only present when the status is 'calculated'.
Prices must be in one unit (元; convert 万元 first, PRICE_UNIT 1) and positive; one bid per bidder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CALCULATED = "calculated"
INSUFFICIENT = "insufficient_data"
NOT_APPLICABLE = "not_applicable"
STATUSES = (CALCULATED, INSUFFICIENT, NOT_APPLICABLE)
MIN_BIDS = 3  # integrity-indicators.md §3: "Screens need >= 3 bids"
PRICE_RESOLUTION = 100  # identical prices are compared to the fen (0.01 元)


@dataclass(frozen=True)
class Screen:
    """One price screen: its column name, names in Chinese and English, bids it needs, definition."""

    code: str
    zh: str
    en: str
    min_bids: int
    definition: str


SCREENS: tuple[Screen, ...] = (
    Screen("cv", "变异系数", "coefficient of variation", 4, "std (ddof 1) / mean"),
    Screen("spd", "极差比", "relative spread", 3, "(max - min) / min"),
    Screen("diffp", "最低两价差", "gap between the two lowest bids", 3, "(b2 - b1) / b1"),
    Screen("rd", "相对距离", "relative distance", 3, "(b2 - b1) / std(b2..bn)"),
    Screen("kurt", "峰度", "excess kurtosis", 4, "sample excess kurtosis (bias-corrected)"),
    Screen("skew", "偏度", "skewness", 3, "sample skewness (bias-corrected)"),
    Screen("kstest", "KS统计量", "Kolmogorov-Smirnov statistic", 3, "sup |F_n - U(b1, bn)|"),
    Screen(
        "identical",
        "相同报价",
        "identical prices",
        3,
        "bids sharing their price (to the fen) with another bidder",
    ),
    Screen("pattern", "规律性报价", "patterned prices", 3, "relative spread of sorted gaps or log ratios"),
    Screen("cluster", "报价集中", "clustering around the mean", 3, "max |b - mean| / mean"),
    Screen("estimate_ratio", "最低价/控制价", "lowest bid / 控制价", 3, "b1 / estimate"),
    Screen("above_estimate", "超控制价报价数", "bids above 控制价", 3, "count of bids > estimate"),
)
SCREEN_CODES = tuple(s.code for s in SCREENS)

# Per-section figures kept next to the screens: the scorer quotes them as evidence.
SUPPORT_COLUMNS = (
    "n_bids",
    "b1",
    "b2",
    "bmax",
    "mean",
    "std",
    "gap_min",
    "gap_max",
    "estimate",
    "identical_bidders",
)


@dataclass(frozen=True)
class _Segments:
    """Bids sorted by (section, price) with each section's start offset and size."""

    price: np.ndarray  # sorted
    estimate: np.ndarray | None  # same order; NaN where unknown
    order: np.ndarray  # input row of each sorted bid
    bidders: pd.Series  # bidder_id in input order
    code: np.ndarray  # section number of each sorted bid
    start: np.ndarray  # per section
    count: np.ndarray  # per section
    rank: np.ndarray  # 0-based position of each sorted bid inside its section
    sections: pd.Index


def _segments(bids: pd.DataFrame) -> _Segments:
    """Factorise section ids and sort the bids by (section, price) once."""
    codes, sections = pd.factorize(bids["section_id"], sort=False)
    price = bids["bid_price"].to_numpy(dtype=np.float64)
    order = np.lexsort((price, codes))
    code = codes[order]
    count = np.bincount(code, minlength=len(sections))
    start = np.zeros(len(sections), dtype=np.int64)
    np.cumsum(count[:-1], out=start[1:])
    estimate = None
    if "estimate" in bids.columns:
        estimate = bids["estimate"].to_numpy(dtype=np.float64, na_value=np.nan)[order]
    return _Segments(
        price=price[order],
        estimate=estimate,
        order=order,
        bidders=bids["bidder_id"],
        code=code,
        start=start,
        count=count,
        rank=np.arange(len(code)) - start[code],
        sections=pd.Index(sections, name="section_id"),
    )


def _status(calculable: np.ndarray, enough: np.ndarray) -> pd.Categorical:
    """Status per section: too few bids -> insufficient; enough bids but undefined -> not applicable."""
    codes = np.where(~enough, 1, np.where(calculable, 0, 2)).astype(np.int8)
    return pd.Categorical.from_codes(codes, categories=list(STATUSES))


def _segment_sum(seg: _Segments, values: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, seg.start)


def _empty_result() -> pd.DataFrame:
    columns = list(SUPPORT_COLUMNS) + [c for code in SCREEN_CODES for c in (code, f"{code}_status")]
    return pd.DataFrame({c: [] for c in columns}, index=pd.Index([], name="section_id"))


def compute_price_screens(bids: pd.DataFrame) -> pd.DataFrame:
    """Every price screen's value and status per section (index section_id), plus the support columns.

    `bids` has one row per (section_id, bidder_id) with a positive numeric bid_price and, optionally, an
    `estimate` (控制价) column; `ggzy.analytics.bidfile.validate_bids` checks exactly that.
    """
    if bids.empty:
        return _empty_result()
    seg = _segments(bids)
    p, n = seg.price, seg.count.astype(np.float64)
    last = seg.start + seg.count - 1
    b1, bmax = p[seg.start], p[last]
    b2 = np.where(seg.count >= 2, p[np.minimum(seg.start + 1, last)], np.nan)
    flat = bmax == b1  # all bids equal
    losing_flat = bmax == b2
    enough = {k: seg.count >= k for k in (3, 4)}
    losing = seg.rank >= 1

    with np.errstate(divide="ignore", invalid="ignore"):
        mean = _segment_sum(seg, p) / n
        dev = p - mean[seg.code]
        m2 = _segment_sum(seg, dev * dev)
        m3 = _segment_sum(seg, dev**3)
        m4 = _segment_sum(seg, dev**4)
        std = np.sqrt(m2 / (n - 1))
        losing_mean = (_segment_sum(seg, p) - b1) / (n - 1)
        losing_dev = np.where(losing, p - losing_mean[seg.code], 0.0)
        losing_std = np.sqrt(_segment_sum(seg, losing_dev * losing_dev) / (n - 2))

        skew = n * np.sqrt(n - 1) / (n - 2) * m3 / m2**1.5
        kurt = n * (n + 1) * (n - 1) * m4 / ((n - 2) * (n - 3) * m2**2) - 3 * (n - 1) ** 2 / (
            (n - 2) * (n - 3)
        )

        width = (bmax - b1)[seg.code]
        cdf = (p - b1[seg.code]) / width
        position = seg.rank.astype(np.float64)
        nb = n[seg.code]
        ks_terms = np.maximum((position + 1) / nb - cdf, cdf - position / nb)
        kstest = np.maximum.reduceat(np.where(np.isnan(ks_terms), -np.inf, ks_terms), seg.start)

        previous = np.concatenate(([np.nan], p[:-1]))
        gap = np.where(losing, p - previous, np.nan)
        log_gap = np.where(losing, np.log(p / previous), np.nan)
        pattern = np.fmin(_relative_spread(seg, gap), _relative_spread(seg, log_gap))
        gap_min = np.minimum.reduceat(np.where(losing, gap, np.inf), seg.start)
        gap_max = np.maximum.reduceat(np.where(losing, gap, -np.inf), seg.start)

        cluster = np.maximum(bmax - mean, mean - b1) / mean

    cents = np.round(p * PRICE_RESOLUTION)
    same_as_previous = losing & (cents == np.concatenate(([np.nan], cents[:-1])))
    same_as_next = np.concatenate((same_as_previous[1:], [False]))
    tied = same_as_previous | same_as_next
    identical = np.bincount(seg.code, weights=tied, minlength=len(seg.count))

    estimate, estimate_known = _section_estimate(seg)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate_ratio = b1 / estimate
    above = _segment_sum(seg, (p > estimate[seg.code]).astype(np.float64))

    values = {
        "cv": (std / mean, enough[4], np.ones_like(flat)),
        "spd": ((bmax - b1) / b1, enough[3], np.ones_like(flat)),
        "diffp": ((b2 - b1) / b1, enough[3], np.ones_like(flat)),
        "rd": (_safe_divide(b2 - b1, losing_std), enough[3], ~losing_flat),
        "kurt": (kurt, enough[4], ~flat),
        "skew": (skew, enough[3], ~flat),
        "kstest": (kstest, enough[3], ~flat),
        "identical": (identical, enough[3], np.ones_like(flat)),
        "pattern": (pattern, enough[3], ~flat),
        "cluster": (cluster, enough[3], np.ones_like(flat)),
        "estimate_ratio": (estimate_ratio, enough[3] & estimate_known, np.ones_like(flat)),
        "above_estimate": (above, enough[3] & estimate_known, np.ones_like(flat)),
    }
    out = {
        "n_bids": seg.count,
        "b1": b1,
        "b2": b2,
        "bmax": bmax,
        "mean": mean,
        "std": np.where(seg.count >= 2, std, np.nan),
        "gap_min": np.where(seg.count >= 2, gap_min, np.nan),
        "gap_max": np.where(seg.count >= 2, gap_max, np.nan),
        "estimate": estimate,
        "identical_bidders": _identical_evidence(seg, tied, cents),
    }
    for code, (value, has_bids, calculable) in values.items():
        calculated = has_bids & calculable & np.isfinite(value)
        status = _status(calculable & np.isfinite(value), has_bids)
        out[code] = np.where(calculated, value, np.nan)
        out[f"{code}_status"] = status
    return pd.DataFrame(out, index=seg.sections)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _relative_spread(seg: _Segments, gaps: np.ndarray) -> np.ndarray:
    """(max - min) / mean of each section's gaps (NaN entries ignored); NaN when the mean gap is 0."""
    present = ~np.isnan(gaps)
    low = np.minimum.reduceat(np.where(present, gaps, np.inf), seg.start)
    high = np.maximum.reduceat(np.where(present, gaps, -np.inf), seg.start)
    mean = _segment_sum(seg, np.where(present, gaps, 0.0)) / np.maximum(seg.count - 1, 1)
    return np.where(mean > 0, (high - low) / mean, np.nan)


def _section_estimate(seg: _Segments) -> tuple[np.ndarray, np.ndarray]:
    """The section's 控制价 when its bids carry one value (NaN when none or conflicting), and a mask."""
    sections = len(seg.count)
    if seg.estimate is None:
        return np.full(sections, np.nan), np.zeros(sections, dtype=bool)
    known = ~np.isnan(seg.estimate)
    low = np.minimum.reduceat(np.where(known, seg.estimate, np.inf), seg.start)
    high = np.maximum.reduceat(np.where(known, seg.estimate, -np.inf), seg.start)
    consistent = np.isfinite(low) & (high - low <= 1e-9 * np.abs(high))
    return np.where(consistent, low, np.nan), consistent


def _identical_evidence(seg: _Segments, tied: np.ndarray, cents: np.ndarray) -> np.ndarray:
    """Per section, 'price: bidder, bidder' for each shared price (None where nothing is shared)."""
    evidence = np.full(len(seg.count), None, dtype=object)
    if not tied.any():
        return evidence
    rows = pd.DataFrame(
        {
            "code": seg.code[tied],
            "cents": cents[tied],
            "bidder": seg.bidders.iloc[seg.order[tied]].astype(str).to_numpy(),
        }
    )
    groups = rows.groupby(["code", "cents"], sort=True)["bidder"].agg(", ".join).reset_index()
    groups["text"] = (groups["cents"] / PRICE_RESOLUTION).map("{:,.2f}".format) + ": " + groups["bidder"]
    per_section = groups.groupby("code", sort=False)["text"].agg("; ".join)
    evidence[per_section.index.to_numpy()] = per_section.to_numpy()
    return evidence
