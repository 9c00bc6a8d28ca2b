"""Flags raised from the screens, and the combined, explained suspicion score per section.

A flag turns one screen's value into a strength in [0, 1]: 0 when the flag is not raised, 0.5 at its
threshold, rising linearly to 1 at its saturation point. Thresholds (integrity-indicators.md §3):

| flag | screen | raised when | source of the threshold |
| --- | --- | --- | --- |
| IDENTICAL_PRICES | identical | >= 2 bids share a price | §3 "identical prices from different bidders" |
| PATTERNED_PRICES | pattern | <= 0.02 (half strength with only 3 bids: two gaps) | §3 "sorted differences or ratios within ~2 % of each other" |
| TIGHT_CLUSTER | cluster | <= 0.03 | §3 "all bids within ~3 % of their mean" |
| NEAR_CEILING | estimate_ratio | >= 0.98 | §3 "ratio near 1 is suspicious"; 0.98 is the hub's default |
| BIDS_ABOVE_CEILING | above_estimate | >= 1 (deliberately invalid cover bids) | hub default; a bid above 控制价 is void, so it can only be a cover |
| LOW_DIFFP | diffp | below the market fence | §3 "Cardinal-style fences: DIFFP below Q1 - 1.5 IQR of the market" |
| LOW_CV, LOW_SPD | cv, spd | below the market fence | the same fence rule; §3 "collusion lowers it" |
| HIGH_RD, HIGH_KURT, HIGH_KSTEST | rd, kurt, kstest | above Q3 + 1.5 IQR | the same fence rule, upper side (cover bids far above a lone winner) |
| NEG_SKEW | skew | below Q1 - 1.5 IQR | the same fence rule, lower side |

Market fences are Tukey fences over the sections of the same input (the "market"), computed per
number of bids (3, 4, ..., 9, 10+) because every screen's spread depends on it, falling back to all
sections together when a stratum has fewer than `MIN_FENCE_SECTIONS`; with fewer sections in total
no fence flag is raised. Positive ratio screens (cv, spd, diffp, rd) are fenced on the log scale: they
are bounded by 0 and right-skewed, and on the raw scale Q1 - 1.5 IQR is negative on typical markets and
never fires. Strength saturates at the outer fence (3 IQR). Values of exactly 0 (ties) are left to
IDENTICAL_PRICES so one fact is not counted twice.

The score is a noisy-OR: score = 1 - prod(1 - weight * strength) over the raised flags, where flags
that measure one fact form a group of which only the strongest counts (dispersion: TIGHT_CLUSTER,
LOW_CV, LOW_SPD; shape of the bids: HIGH_RD, HIGH_KURT, NEG_SKEW, HIGH_KSTEST; the others stand
alone; the rest of a group is still listed, with contribution 0). Each flag's contribution is its
share of -sum(log(1 - weight * strength)), scaled to the score, so contributions add up to the score.
Weights reflect how specific a flag is: "no single screen is enough" (§3), so each statistical screen
alone stays well below `ALERT_THRESHOLD`, while identical or patterned prices (条例第四十条(四)) weigh more.
Weights and thresholds are the hub's defaults until calibrated on labelled rings (issue 6, item 2).
Other screen families (identity, market) add their own `Flag`s and strengths to `combine`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ggzy.analytics.price_screens import (
    CALCULATED,
    INSUFFICIENT,
    MIN_BIDS,
    SCREEN_CODES,
    compute_price_screens,
)

ALERT_THRESHOLD = 0.5  # hub default for raising an alert; to be calibrated (issue 6, item 2)
MIN_FENCE_SECTIONS = 30  # sections with a calculated value needed for a market fence
SIZE_STRATA_CAP = 10  # sections with >= 10 bids share one fence stratum

LAW_32 = "《招标投标法》第三十二条"
REG_39 = "《招标投标法实施条例》第三十九条"
REG_39_3 = "《招标投标法实施条例》第三十九条(三)"
REG_40_4 = "《招标投标法实施条例》第四十条(四)"
REG_41 = "《招标投标法实施条例》第四十一条"
# What each cited article says (integrity-indicators.md §1), for reports and alerts.
ARTICLES: dict[str, tuple[str, str]] = {
    LAW_32: (
        "投标人不得相互串通投标报价，不得与招标人串通投标",
        "bidders must not collude on prices, nor with the tenderer",
    ),
    REG_39: (
        "投标人相互串通投标：协商投标报价、约定中标人等",
        "bidders colluding: agreeing on prices or on the winner",
    ),
    REG_39_3: ("约定部分投标人放弃投标或者中标", "agreeing that some bidders withdraw or do not win"),
    REG_40_4: (
        "视为串通投标：投标文件异常一致或者投标报价呈规律性差异",
        "deemed collusion: bid documents abnormally identical or prices differing in a regular pattern",
    ),
    REG_41: (
        "招标人与投标人串通投标（如泄露标底）",
        "tenderer-bidder collusion (e.g. leaking the reserve price)",
    ),
}


@dataclass(frozen=True)
class Flag:
    """A red flag raised from one screen: threshold rule, weight in the score, legal articles it maps to."""

    code: str
    screen: str
    weight: float
    rule: str  # 'at_least' | 'at_most' | 'fence_low' | 'fence_high'
    threshold: float | None  # for at_least / at_most
    saturation: float | None  # value at which the strength reaches 1 (at_least / at_most)
    log_scale: bool  # fences on log(value)
    zh: str
    en: str
    source: str
    articles: tuple[str, ...]
    full_strength_bids: int = MIN_BIDS  # fewer bids than this -> half strength
    group: str | None = None  # flags measuring the same fact: only the strongest of a group counts


FLAGS: tuple[Flag, ...] = (
    Flag("IDENTICAL_PRICES", "identical", 0.7, "at_least", 2, 2, False, "不同投标人报价相同", "identical prices from different bidders",
         "integrity-indicators.md §3: identical prices from different bidders", (REG_40_4, LAW_32)),
    Flag("PATTERNED_PRICES", "pattern", 0.6, "at_most", 0.02, 0.0, False, "报价呈等差或等比规律", "prices in arithmetic or geometric progression",
         "integrity-indicators.md §3: sorted differences or ratios within ~2 % of each other", (REG_40_4, LAW_32), 4),
    Flag("TIGHT_CLUSTER", "cluster", 0.3, "at_most", 0.03, 0.0, False, "全部报价在均值3%以内", "all bids within 3 % of their mean",
         "integrity-indicators.md §3: all bids within ~3 % of their mean", (REG_39, LAW_32), group="dispersion"),
    Flag("NEAR_CEILING", "estimate_ratio", 0.3, "at_least", 0.98, 1.0, False, "最低报价接近控制价", "lowest bid close to 控制价",
         "integrity-indicators.md §3: winning bid vs 控制价, ratio near 1 is suspicious (0.98: hub default)", (REG_39, REG_41)),
    Flag("BIDS_ABOVE_CEILING", "above_estimate", 0.2, "at_least", 1, 2, False, "有报价高于控制价(陪标)", "bids above 控制价 (cover bids)",
         "hub default: a bid above 控制价 is void and can only serve as a cover bid", (REG_39_3, LAW_32)),
    Flag("LOW_DIFFP", "diffp", 0.2, "fence_low", None, None, True, "最低两价过近", "two lowest bids unusually close",
         "integrity-indicators.md §3: DIFFP below Q1 - 1.5 IQR of the market (log scale)", (REG_39, LAW_32)),
    Flag("LOW_CV", "cv", 0.25, "fence_low", None, None, True, "变异系数异常低", "coefficient of variation unusually low",
         "integrity-indicators.md §3: CV (collusion lowers it); fence Q1 - 1.5 IQR (log scale)", (REG_39, LAW_32), group="dispersion"),
    Flag("LOW_SPD", "spd", 0.15, "fence_low", None, None, True, "报价极差异常小", "spread of bids unusually small",
         "integrity-indicators.md §3: SPD; fence Q1 - 1.5 IQR (log scale)", (REG_39, LAW_32), group="dispersion"),
    Flag("HIGH_RD", "rd", 0.25, "fence_high", None, None, True, "最低价远离其余报价", "lowest bid far from tightly grouped losing bids",
         "integrity-indicators.md §3: RD = (b2 - b1) / std of losing bids; fence Q3 + 1.5 IQR (log scale)", (REG_39, LAW_32), group="shape"),
    Flag("HIGH_KURT", "kurt", 0.1, "fence_high", None, None, False, "峰度异常高", "kurtosis unusually high",
         "integrity-indicators.md §3: KURT; fence Q3 + 1.5 IQR", (REG_39, LAW_32), group="shape"),
    Flag("NEG_SKEW", "skew", 0.1, "fence_low", None, None, False, "偏度异常为负", "skewness unusually negative",
         "integrity-indicators.md §3: SKEW; fence Q1 - 1.5 IQR", (REG_39, LAW_32), group="shape"),
    Flag("HIGH_KSTEST", "kstest", 0.1, "fence_high", None, None, False, "报价分布偏离均匀", "bids far from a uniform spread",
         "integrity-indicators.md §3: KSTEST against a fitted uniform; fence Q3 + 1.5 IQR", (REG_39, LAW_32), group="shape"),
)  # fmt: skip
FLAGS_BY_CODE = {f.code: f for f in FLAGS}

COUNT_SCREENS = ("identical", "above_estimate")  # whole numbers (nullable) in the output
OUTPUT_COLUMNS = (
    ["section_id", "n_bids", "score", "score_status"]
    + [c for code in SCREEN_CODES for c in (code, f"{code}_status")]
    + ["flags", "contributions", "legal_basis", "evidence"]
)


def _ramp(distance: np.ndarray, width: float | np.ndarray) -> np.ndarray:
    """0.5 at the threshold (distance 0) rising linearly to 1 at `width` beyond it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        grow = np.where(np.asarray(width) > 0, distance / width, 1.0)
    return 0.5 + 0.5 * np.clip(grow, 0.0, 1.0)


def market_fences(screens: pd.DataFrame, flag: Flag, min_sections: int = MIN_FENCE_SECTIONS) -> pd.DataFrame:
    """Tukey fence (and outer fence) per section for a fence flag: columns fence, outer; NaN = no fence."""
    value = screens[flag.screen].to_numpy(dtype=np.float64)
    usable = screens[f"{flag.screen}_status"].eq(CALCULATED).to_numpy() & np.isfinite(value)
    if flag.log_scale:
        usable &= value > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(value) if flag.log_scale else value
    stratum = np.minimum(screens["n_bids"].to_numpy(), SIZE_STRATA_CAP)
    frame = pd.DataFrame({"x": x[usable], "stratum": stratum[usable]})
    fence = np.full(len(screens), np.nan)
    outer = np.full(len(screens), np.nan)
    if len(frame) < min_sections:
        return pd.DataFrame({"fence": fence, "outer": outer}, index=screens.index)
    q = frame.groupby("stratum")["x"].quantile([0.25, 0.75]).unstack()
    sizes = frame.groupby("stratum").size()
    pooled = frame["x"].quantile([0.25, 0.75]).to_numpy()
    q1 = pd.Series(pooled[0], index=np.arange(SIZE_STRATA_CAP + 1))
    q3 = pd.Series(pooled[1], index=q1.index)
    big = sizes.index[sizes >= min_sections]
    q1.loc[big], q3.loc[big] = q.loc[big, 0.25].to_numpy(), q.loc[big, 0.75].to_numpy()
    iqr = (q3 - q1).to_numpy()[stratum]
    if flag.rule == "fence_low":
        fence, outer = q1.to_numpy()[stratum] - 1.5 * iqr, q1.to_numpy()[stratum] - 3 * iqr
    else:
        fence, outer = q3.to_numpy()[stratum] + 1.5 * iqr, q3.to_numpy()[stratum] + 3 * iqr
    if flag.log_scale:
        fence, outer = np.exp(fence), np.exp(outer)
    degenerate = iqr <= 0
    fence[degenerate], outer[degenerate] = np.nan, np.nan
    return pd.DataFrame({"fence": fence, "outer": outer}, index=screens.index)


def flag_strengths(screens: pd.DataFrame, flags: Sequence[Flag] = FLAGS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Strength in [0, 1] of every flag per section, and the threshold each section was compared with."""
    strengths, thresholds = {}, {}
    n_bids = screens["n_bids"].to_numpy()
    for flag in flags:
        value = screens[flag.screen].to_numpy(dtype=np.float64)
        calculated = screens[f"{flag.screen}_status"].eq(CALCULATED).to_numpy() & np.isfinite(value)
        if flag.rule in ("at_least", "at_most"):
            threshold = np.full(len(value), float(flag.threshold))
            sign = 1.0 if flag.rule == "at_least" else -1.0
            distance = sign * (value - threshold)
            width = abs(flag.saturation - flag.threshold)
        else:
            fences = market_fences(screens, flag)
            threshold = fences["fence"].to_numpy()
            sign = -1.0 if flag.rule == "fence_low" else 1.0
            distance = sign * (value - threshold)
            width = np.abs(fences["outer"].to_numpy() - threshold)
            if flag.log_scale:
                calculated &= value > 0
        with np.errstate(invalid="ignore"):
            raised = calculated & (distance >= 0) & np.isfinite(threshold)
        strength = np.where(raised, _ramp(np.where(raised, distance, 0.0), width), 0.0)
        strength = np.where(n_bids < flag.full_strength_bids, strength / 2, strength)
        strengths[flag.code] = strength
        thresholds[flag.code] = threshold
    return (
        pd.DataFrame(strengths, index=screens.index),
        pd.DataFrame(thresholds, index=screens.index),
    )


def combine(
    strengths: pd.DataFrame, weights: Mapping[str, float], groups: Mapping[str, str | None] | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Noisy-OR score per row and each flag's additive contribution to it (same columns as strengths).

    Within a group (flags measuring one fact, e.g. CV, SPD and clustering all measure dispersion) only
    the strongest weighted flag counts; the others stay raised but contribute 0.
    """
    w = np.array([weights[c] for c in strengths.columns])
    weighted = np.clip(strengths.to_numpy() * w, 0.0, 0.999999)
    for group in {g for g in (groups or {}).values() if g}:
        members = np.array([j for j, c in enumerate(strengths.columns) if (groups or {}).get(c) == group])
        strongest = members[np.argmax(weighted[:, members], axis=1)]
        keep = np.zeros_like(weighted, dtype=bool)
        keep[np.arange(len(weighted)), strongest] = True
        weighted[:, members] = np.where(keep[:, members], weighted[:, members], 0.0)
    evidence = -np.log1p(-weighted)
    total = evidence.sum(axis=1)
    score = -np.expm1(-total)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total[:, None] > 0, evidence / total[:, None], 0.0)
    return score, pd.DataFrame(share * score[:, None], index=strengths.index, columns=strengths.columns)


def _fmt(x: float) -> str:
    return f"{x:,.2f}" if abs(x) >= 1000 else f"{x:.4g}"


def _evidence_texts(
    flag: Flag, columns: Mapping[str, np.ndarray], rows: np.ndarray, threshold: np.ndarray
) -> list[str]:
    """One sentence per given row saying why the flag was raised there, with the numbers."""
    value, n_bids = columns[flag.screen], columns["n_bids"]
    if flag.code == "IDENTICAL_PRICES":
        shared = columns["identical_bidders"]
        return [f"{int(value[i])} bids share a price: {shared[i]}" for i in rows]
    if flag.code == "PATTERNED_PRICES":
        low, high = columns["gap_min"], columns["gap_max"]
        return [
            f"sorted gaps {_fmt(low[i])}..{_fmt(high[i])} differ by {value[i]:.2%} of their mean (<= 2%),"
            f" {n_bids[i]} bids"
            for i in rows
        ]
    if flag.code == "TIGHT_CLUSTER":
        mean = columns["mean"]
        return [f"all bids within {value[i]:.2%} of the mean {_fmt(mean[i])} (<= 3%)" for i in rows]
    estimate = columns["estimate"]
    if flag.code == "NEAR_CEILING":
        b1 = columns["b1"]
        return [
            f"lowest bid {_fmt(b1[i])} is {value[i]:.2%} of 控制价 {_fmt(estimate[i])} (>= 98%)" for i in rows
        ]
    if flag.code == "BIDS_ABOVE_CEILING":
        return [f"{int(value[i])} of {n_bids[i]} bids above 控制价 {_fmt(estimate[i])}" for i in rows]
    side, rule = ("below", "Q1 - 1.5 IQR") if flag.rule == "fence_low" else ("above", "Q3 + 1.5 IQR")
    scale = " of the log" if flag.log_scale else ""
    return [
        f"{flag.screen} = {value[i]:.4g} {side} the market fence {threshold[i]:.4g}"
        f" ({rule}{scale} over sections with as many bids, here {n_bids[i]})"
        for i in rows
    ]


def score_sections(screens: pd.DataFrame, flags: Sequence[Flag] = FLAGS) -> pd.DataFrame:
    """The documented per-section output: n_bids, score, score_status, every screen, flags and evidence.

    Sections with fewer than 3 bids get score null and score_status 'insufficient_data', never 0.
    """
    strengths, thresholds = flag_strengths(screens, flags)
    score, contributions = combine(
        strengths, {f.code: f.weight for f in flags}, {f.code: f.group for f in flags}
    )
    enough = screens["n_bids"].to_numpy() >= MIN_BIDS
    out = screens[["n_bids"] + [c for code in SCREEN_CODES for c in (code, f"{code}_status")]].copy()
    out.insert(1, "score", np.where(enough, np.round(score, 4), np.nan))
    out.insert(2, "score_status", np.where(enough, CALCULATED, INSUFFICIENT).astype(object))
    for count in COUNT_SCREENS:
        out[count] = out[count].astype("Int64")
    raised = (strengths.to_numpy() > 0) & enough[:, None]
    out["flags"], out["contributions"], out["legal_basis"], out["evidence"] = _explain(
        screens, raised, contributions, thresholds, flags
    )
    return out.reset_index()[OUTPUT_COLUMNS]


def _explain(
    screens: pd.DataFrame,
    raised: np.ndarray,
    contributions: pd.DataFrame,
    thresholds: pd.DataFrame,
    flags: Sequence[Flag],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """flags, contributions, legal_basis and evidence (JSON) text columns; '' where nothing was raised."""
    size = len(screens)
    result = [np.full(size, "", dtype=object) for _ in range(4)]
    rows = np.flatnonzero(raised.any(axis=1))
    if not len(rows):
        return tuple(result)  # type: ignore[return-value]
    columns = {c: screens[c].to_numpy() for c in screens.columns}
    texts = np.full((size, len(flags)), "", dtype=object)
    for j, flag in enumerate(flags):
        hit = np.flatnonzero(raised[:, j])
        texts[hit, j] = [
            json.dumps(t, ensure_ascii=False)
            for t in _evidence_texts(flag, columns, hit, thresholds[flag.code].to_numpy())
        ]
    share = contributions.to_numpy()[rows]
    hits = raised[rows]
    order = np.argsort(
        -np.where(hits, share, -1.0), axis=1, kind="stable"
    )  # raised flags first, strongest first
    codes = np.array([f.code for f in flags], dtype=object)
    flag_text, share_text, evidence = (np.full(len(rows), "", dtype=object) for _ in range(3))
    for k in range(len(flags)):
        at = np.flatnonzero(hits[np.arange(len(rows)), order[:, k]])  # rows with a k-th raised flag
        if not len(at):
            break
        j = order[at, k]
        sep, open_ = ("", "{") if k == 0 else (";", ", ")
        flag_text[at] = flag_text[at] + sep + codes[j]
        amount = np.char.mod("%.4f", share[at, j]).astype(object)
        share_text[at] = share_text[at] + sep + codes[j] + "=" + amount
        evidence[at] = evidence[at] + open_ + '"' + codes[j] + '": ' + texts[rows[at], j]
    result[0][rows], result[1][rows], result[3][rows] = flag_text, share_text, evidence + "}"
    # legal basis: one text per distinct combination of raised flags
    mask = hits.astype(np.int64) @ (1 << np.arange(len(flags), dtype=np.int64))
    combos = {
        m: "; ".join(dict.fromkeys(a for j, f in enumerate(flags) if m >> j & 1 for a in f.articles))
        for m in np.unique(mask).tolist()
    }
    result[2][rows] = pd.Series(mask).map(combos).to_numpy(dtype=object)
    return tuple(result)  # type: ignore[return-value]


def screen_bids(bids: pd.DataFrame, flags: Sequence[Flag] = FLAGS) -> pd.DataFrame:
    """Price screens, flags and score for every section of a bids frame (one row per section)."""
    return score_sections(compute_price_screens(bids), flags)
