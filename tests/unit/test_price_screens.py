"""Price screens and the combined score (issue 6): hand-computed cases from the definitions, properties."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ggzy.analytics.bidfile import read_bids
from ggzy.analytics.price_screens import SCREEN_CODES, compute_price_screens
from ggzy.analytics.score import ALERT_THRESHOLD, FLAGS, OUTPUT_COLUMNS, combine, screen_bids
from ggzy.errors import HubError


def bids_of(sections: dict[str, list[float]], estimates: dict[str, float] | None = None) -> pd.DataFrame:
    """A bids frame from {section: [prices]}, bidders named by position, optional 控制价 per section."""
    rows = [
        {
            "section_id": s,
            "bidder_id": f"{s}-B{i}",
            "bid_price": p,
            **({"estimate": (estimates or {}).get(s)} if estimates is not None else {}),
        }
        for s, prices in sections.items()
        for i, p in enumerate(prices)
    ]
    return pd.DataFrame(rows)


def one(prices: list[float], **kwargs) -> pd.Series:
    """The screens of a single section."""
    return compute_price_screens(bids_of({"S": prices}, **kwargs)).loc["S"]


# --------------------------------------------------------------------------------------------------
# Hand-computed values


def test_evenly_spaced_bids_match_hand_computation():
    s = one([130.0, 100.0, 120.0, 110.0])  # unsorted on purpose
    assert s["cv"] == pytest.approx(math.sqrt(500 / 3) / 115)  # std ddof 1 = sqrt((15²+5²+5²+15²)/3)
    assert s["spd"] == pytest.approx(0.30)  # (130 - 100) / 100
    assert s["diffp"] == pytest.approx(0.10)  # (110 - 100) / 100
    assert s["rd"] == pytest.approx(1.0)  # 10 / std(110, 120, 130) = 10 / 10
    assert s["skew"] == pytest.approx(0.0, abs=1e-12)
    assert s["kurt"] == pytest.approx(-1.2)  # 4·5·3·102500 / (2·1·500²) − 3·3² / (2·1)
    assert s["kstest"] == pytest.approx(0.25)  # F = 0, 1/3, 2/3, 1 against steps of 1/4
    assert s["pattern"] == pytest.approx(0.0)  # equal gaps
    assert s["cluster"] == pytest.approx(15 / 115)
    assert s["identical"] == 0
    assert all(
        s[f"{c}_status"] == "calculated"
        for c in SCREEN_CODES
        if c not in ("estimate_ratio", "above_estimate")
    )


def test_geometric_progression_is_a_pattern():
    s = one([100.0, 110.0, 121.0, 133.1])
    assert s["pattern"] == pytest.approx(0.0, abs=1e-9)  # log ratios all ln 1.1


def test_identical_prices_counted_and_named():
    s = one([100.0, 100.0, 105.0])
    assert s["identical"] == 2
    assert s["diffp"] == 0.0
    assert s["rd"] == 0.0
    assert "100.00: S-B0, S-B1" in s["identical_bidders"]


def test_prices_equal_to_the_fen_are_identical():
    assert one([100.001, 100.004, 150.0])["identical"] == 2
    assert one([100.00, 100.01, 150.0])["identical"] == 0


def test_all_equal_bids_leave_shape_screens_not_applicable():
    s = one([100.0] * 4)
    assert s["cv"] == 0.0 and s["cv_status"] == "calculated"
    assert s["identical"] == 4
    for code in ("kurt", "skew", "kstest", "pattern", "rd"):
        assert s[f"{code}_status"] == "not_applicable", code
        assert math.isnan(s[code])


def test_three_bids_not_enough_for_cv_and_kurtosis():
    s = one([100.0, 104.0, 111.0])
    assert s["cv_status"] == s["kurt_status"] == "insufficient_data"
    assert s["spd_status"] == s["skew_status"] == s["rd_status"] == "calculated"
    assert math.isnan(s["cv"])


@pytest.mark.parametrize("prices", [[], [100.0], [100.0, 120.0]], ids=["0", "1", "2"])
def test_fewer_than_three_bids_is_insufficient_data_never_zero(prices):
    frame = bids_of({"small": prices, "ok": [100.0, 104.0, 111.0, 119.0]})
    result = screen_bids(frame).set_index("section_id")
    if not prices:
        assert "small" not in result.index
        return
    row = result.loc["small"]
    assert row["n_bids"] == len(prices)
    assert row["score_status"] == "insufficient_data"
    assert pd.isna(row["score"])  # null, not 0
    assert all(row[f"{c}_status"] == "insufficient_data" for c in SCREEN_CODES)
    assert row["flags"] == ""
    assert result.loc["ok", "score_status"] == "calculated"


def test_estimate_ratio_and_bids_above_it():
    s = one([99.0, 101.0, 103.0], estimates={"S": 100.0})
    assert s["estimate_ratio"] == pytest.approx(0.99)
    assert s["above_estimate"] == 2
    flags = (
        screen_bids(bids_of({"S": [99.0, 101.0, 103.0]}, estimates={"S": 100.0})).loc[0, "flags"].split(";")
    )
    assert {"NEAR_CEILING", "BIDS_ABOVE_CEILING"} <= set(flags)


def test_missing_or_conflicting_estimate_is_insufficient_data():
    assert one([90.0, 95.0, 99.0])["estimate_ratio_status"] == "insufficient_data"  # no column
    assert one([90.0, 95.0, 99.0], estimates={})["estimate_ratio_status"] == "insufficient_data"  # empty
    frame = bids_of({"S": [90.0, 95.0, 99.0]}, estimates={"S": 100.0})
    frame.loc[2, "estimate"] = 120.0
    assert compute_price_screens(frame).loc["S", "estimate_ratio_status"] == "insufficient_data"


# --------------------------------------------------------------------------------------------------
# Properties


prices_strategy = st.lists(
    st.floats(min_value=1e3, max_value=1e9, allow_nan=False, allow_infinity=False), min_size=4, max_size=12
).filter(lambda xs: max(xs) - min(xs) > 1e-6 * max(xs))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prices=prices_strategy)
def test_moments_match_pandas_and_scipy(prices):
    s = one(prices)
    x = pd.Series(prices)
    assert s["cv"] == pytest.approx(x.std() / x.mean(), rel=1e-9)
    assert s["skew"] == pytest.approx(x.skew(), rel=1e-6, abs=1e-6)
    assert s["kurt"] == pytest.approx(x.kurt(), rel=1e-6, abs=1e-6)
    uniform = scipy.stats.uniform(loc=min(prices), scale=max(prices) - min(prices))
    assert s["kstest"] == pytest.approx(scipy.stats.kstest(prices, uniform.cdf).statistic, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(prices=prices_strategy, factor=st.floats(min_value=0.01, max_value=100), seed=st.integers(0, 2**16))
def test_screens_ignore_bid_order_and_currency_scale(prices, factor, seed):
    base = one(prices)
    shuffled = list(np.random.default_rng(seed).permutation(prices) * factor)
    other = one(shuffled)
    for code in ("cv", "spd", "diffp", "rd", "kurt", "skew", "kstest", "cluster"):
        if base[f"{code}_status"] == "calculated":
            assert other[code] == pytest.approx(base[code], rel=1e-6, abs=1e-9), code


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(1, 10**6), min_size=0, max_size=7), min_size=1, max_size=8))
def test_every_section_gets_a_status_and_a_bounded_score(sections):
    frame = bids_of({f"S{i}": [float(p) for p in ps] for i, ps in enumerate(sections) if ps})
    if frame.empty:
        return
    result = screen_bids(frame)
    scored = result["score_status"] == "calculated"
    assert (scored == (result["n_bids"] >= 3)).all()
    assert result.loc[scored, "score"].between(0, 1).all()
    assert result.loc[~scored, "score"].isna().all()
    for code in SCREEN_CODES:
        assert result[f"{code}_status"].isin(["calculated", "insufficient_data", "not_applicable"]).all()
        calculated = result[f"{code}_status"] == "calculated"
        assert result.loc[calculated, code].notna().all()
        assert result.loc[~calculated, code].isna().all()


# --------------------------------------------------------------------------------------------------
# Score


def test_noisy_or_score_and_contributions_add_up():
    strengths = pd.DataFrame({"A": [1.0, 1.0, 0.0], "B": [1.0, 0.0, 0.0]})
    score, contributions = combine(strengths, {"A": 0.5, "B": 0.5})
    assert score == pytest.approx([0.75, 0.5, 0.0])  # 1 − (1 − 0.5)(1 − 0.5)
    assert contributions.loc[0].tolist() == pytest.approx([0.375, 0.375])
    assert contributions.sum(axis=1).to_numpy() == pytest.approx(score)


def test_flags_measuring_one_fact_count_once():
    strengths = pd.DataFrame({"LOW_CV": [1.0], "LOW_SPD": [1.0], "IDENT": [1.0]})
    weights = {"LOW_CV": 0.25, "LOW_SPD": 0.15, "IDENT": 0.5}
    score, contributions = combine(strengths, weights, {"LOW_CV": "dispersion", "LOW_SPD": "dispersion"})
    assert score[0] == pytest.approx(1 - 0.75 * 0.5)  # LOW_SPD is subsumed by the stronger LOW_CV
    assert contributions.loc[0, "LOW_SPD"] == 0.0
    assert contributions.loc[0].sum() == pytest.approx(score[0])


def market(seed: int = 7, sections: int = 300) -> tuple[pd.DataFrame, list[str]]:
    """Clean lognormal sections around a 控制价, plus planted identical-price and cover-bidding sections."""
    rng = np.random.default_rng(seed)
    prices, estimates = {}, {}
    for i in range(sections):
        estimate = float(np.round(np.exp(rng.normal(np.log(2e6), 0.8)), -2))
        n = int(rng.integers(3, 9))
        prices[f"C{i}"] = list(np.round(estimate * np.exp(rng.normal(-0.10, 0.05, n)), 2))
        estimates[f"C{i}"] = estimate
    planted = []
    for i in range(10):
        estimate = float(np.round(np.exp(rng.normal(np.log(2e6), 0.8)), -2))
        winner = round(estimate * 0.97, 2)
        if i % 2:  # cover bids evenly 1.5 % apart above the agreed winner
            prices[f"R{i}"] = [round(winner * (1 + 0.015 * k), 2) for k in range(5)]
        else:  # two covers with the same price
            prices[f"R{i}"] = [
                winner,
                round(winner * 1.02, 2),
                round(winner * 1.02, 2),
                round(winner * 1.05, 2),
            ]
        estimates[f"R{i}"] = estimate
        planted.append(f"R{i}")
    return bids_of(prices, estimates), planted


def test_rigged_sections_score_above_clean_ones():
    frame, planted = market()
    result = screen_bids(frame).set_index("section_id")
    rigged, clean = result.loc[planted, "score"], result.drop(index=planted)["score"]
    assert rigged.min() > clean.quantile(0.99)
    assert (rigged >= ALERT_THRESHOLD).all()
    assert (clean >= ALERT_THRESHOLD).mean() < 0.02
    for section in planted:
        assert {"IDENTICAL_PRICES", "PATTERNED_PRICES"} & set(result.loc[section, "flags"].split(";"))


def test_flags_are_explained_with_articles_and_evidence():
    frame, planted = market()
    result = screen_bids(frame).set_index("section_id")
    row = result.loc["R0"]  # identical covers
    flags = row["flags"].split(";")
    assert flags[0] == "IDENTICAL_PRICES"  # strongest first
    shares = dict(item.split("=") for item in row["contributions"].split(";"))
    assert list(shares) == flags
    assert sum(float(v) for v in shares.values()) == pytest.approx(row["score"], abs=1e-3)
    assert "《招标投标法实施条例》第四十条(四)" in row["legal_basis"]
    evidence = json.loads(row["evidence"])
    assert set(evidence) == set(flags)
    assert "R0-B1, R0-B2" in evidence["IDENTICAL_PRICES"]
    assert list(result.reset_index().columns) == OUTPUT_COLUMNS


def test_market_fences_need_enough_sections():
    frame, _ = market(sections=10)  # 20 sections in all, below MIN_FENCE_SECTIONS
    fence_flags = {f.code for f in FLAGS if f.rule.startswith("fence")}
    raised = set(";".join(screen_bids(frame)["flags"]).split(";"))
    assert not raised & fence_flags
    frame, _ = market(sections=300)
    raised = set(";".join(screen_bids(frame)["flags"]).split(";"))
    assert raised & fence_flags


def test_every_flag_cites_a_legal_article_and_a_source():
    for flag in FLAGS:
        assert flag.articles and all("第" in a and "条" in a for a in flag.articles), flag.code
        assert flag.source and 0 < flag.weight < 1
    statistical = [f for f in FLAGS if f.rule.startswith("fence")]
    assert all(f.weight < ALERT_THRESHOLD for f in statistical)  # "no single screen is enough"


# --------------------------------------------------------------------------------------------------
# Reading bids files


def test_read_bids_csv_keeps_ids_as_text(tmp_path):
    path = tmp_path / "bids.csv"
    path.write_text(
        "Section_ID,bidder_id,bid_price,estimate\n007,001,100.5,\n007,002, 200 ,300\n", encoding="utf-8-sig"
    )
    bids = read_bids(path)
    assert bids["section_id"].tolist() == ["007", "007"]
    assert bids["bid_price"].tolist() == [100.5, 200.0]
    assert math.isnan(bids["estimate"][0]) and bids["estimate"][1] == 300.0


@pytest.mark.parametrize(
    ("content", "code", "row", "field"),
    [
        ("section_id,bid_price\nA,1\n", "missing_column", None, "bidder_id"),
        ("section_id,bidder_id,bid_price\nA,x,100\nA,y,1,000\n", "unreadable_file", None, None),
        ("section_id,bidder_id,bid_price\nA,x,100\nA,y,12万\n", "invalid_value", 3, "bid_price"),
        ("section_id,bidder_id,bid_price\nA,x,100\nA,y,\n", "invalid_value", 3, "bid_price"),
        ("section_id,bidder_id,bid_price\nA,x,100\nA,y,-1\n", "invalid_value", 3, "bid_price"),
        ("section_id,bidder_id,bid_price\nA,x,100\n,y,1\n", "invalid_value", 3, "section_id"),
        ("section_id,bidder_id,bid_price\nA,x,100\nA,x,101\n", "invalid_value", 3, "bidder_id"),
        ("section_id,bidder_id,bid_price,estimate\nA,x,100,abc\n", "invalid_value", 2, "estimate"),
    ],
    ids=[
        "missing-column",
        "ragged-row",
        "non-numeric",
        "empty-price",
        "negative",
        "empty-section",
        "duplicate",
        "bad-estimate",
    ],
)
def test_read_bids_errors_name_file_row_and_field(tmp_path, content, code, row, field):
    path = tmp_path / "bids.csv"
    path.write_text(content)
    with pytest.raises(HubError) as caught:
        read_bids(path)
    error = caught.value
    assert error.code == code
    assert str(path) in error.zh and str(path) in error.en
    if row is not None:
        assert error.detail["row"] == row and f"第{row}行" in error.zh and f"row {row}" in error.en
    if field is not None:
        assert error.detail["field"] == field and field in error.zh and field in error.en


def test_read_bids_reports_unreadable_and_unsupported_files(tmp_path):
    broken = tmp_path / "bids.parquet"
    broken.write_bytes(b"not parquet")
    for path, code in (
        (broken, "unreadable_file"),
        (tmp_path / "none.csv", "unreadable_file"),
        (tmp_path / "bids.xlsx", "unsupported_format"),
    ):
        with pytest.raises(HubError) as caught:
            read_bids(path)
        assert caught.value.code == code and str(path) in caught.value.en


def test_read_bids_accepts_gb18030_csv(tmp_path):
    path = tmp_path / "bids.csv"
    path.write_bytes("section_id,bidder_id,bid_price\n标段一,甲公司,100\n".encode("gb18030"))
    assert read_bids(path)["bidder_id"].tolist() == ["甲公司"]
