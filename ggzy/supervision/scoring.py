"""Score the warehouse's trading data: price, identity and market screens per section, one combined and
explained suspicion score per section and per entity, written to supervision.section_score / entity_score /
pair_hit.

The screens run set-based over the whole market (SQL for identity and market screens, the vectorised
price screens for prices: market fences and co-bidding need the whole market); only the sections whose
trading rows changed since `changed_since` (and the entities bidding there) are rewritten.

Section score status: 'calculated' when the price screens had >= 3 bids, or any identity indicator had
data for two bidders, or any flag was raised; otherwise 'insufficient_data' with score NULL (a section
with two bids and no fingerprints is not "no risk").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ggzy.analytics.identity_screens import (
    IDENTITY_CODES,
    build_identifiers,
    identity_pairs,
    identity_screens,
)
from ggzy.analytics.market_screens import MARKET_CODES, build_market, entity_facts, market_screens
from ggzy.analytics.price_screens import (
    CALCULATED,
    INSUFFICIENT,
    MIN_BIDS,
    SCREEN_CODES,
    compute_price_screens,
)
from ggzy.analytics.score import Flag, _evidence_texts, combine, flag_strengths
from ggzy.supervision.flags import (
    DETERMINISTIC,
    ENTITY_FLAGS,
    FAMILY,
    SECTION_FLAGS,
)

ALERT_THRESHOLD = (
    0.6  # calibrated on the stand-in year (seed 1, 600 sections): P 0.94, R 1.0; see test_supervision.py
)
WATCH_THRESHOLD = 0.6  # entity score for the watch list (stand-in seed 1: P 0.93, R 1.0 over ring members)

# Trading tables whose changes make a section worth rescoring.
SECTION_TABLES = ("bid", "bid_section", "win_result", "bid_document_fingerprint", "bid_tool_fingerprint",
                  "bid_deposit", "evaluation_expert", "tender_candidate")  # fmt: skip

PRICE_BIDS_SQL = """
SELECT b.bid_section_code AS section_id, b.bidder_code AS bidder_id, b.bid_price_yuan::float8 AS bid_price,
       s.contract_reckon_price_yuan::float8 AS estimate
  FROM core.bid b LEFT JOIN core.bid_section s ON s.bid_section_code = b.bid_section_code
 WHERE b.bid_price_yuan > 0 AND b.bidder_code IS NOT NULL
"""


@dataclass
class Scores:
    """One scoring pass: per-section and per-entity frames, pair hits and what was excluded."""

    sections: pd.DataFrame  # index bid_section_code
    entities: pd.DataFrame  # index entity_code
    pairs: pd.DataFrame
    bids: pd.DataFrame  # section, bidder (all bids, for roll-ups)
    terminals: list[dict[str, Any]] = field(default_factory=list)


def changed_sections(conn: sa.Connection, since: datetime | None) -> list[str] | None:
    """Sections with a trading row created or updated after `since`; None = everything (first run)."""
    if since is None:
        return None
    parts = " UNION ".join(
        f"SELECT bid_section_code FROM core.{t} WHERE updated_at > :since" for t in SECTION_TABLES
    )
    return [r[0] for r in conn.execute(sa.text(parts), {"since": since})]


def _frame(
    conn: sa.Connection, site_min_bidders: int
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Every screen of every family per section (index), and the identity pair hits."""
    terminals = build_identifiers(conn, site_min_bidders)
    build_market(conn)
    sections = pd.Index(
        [
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT bid_section_code FROM core.bid_section UNION SELECT section FROM sv_bid ORDER BY 1"
                )
            )
        ],  # fmt: skip
        name="bid_section_code",
    )
    bids = pd.DataFrame(conn.execute(sa.text(PRICE_BIDS_SQL)).mappings().all(),
                        columns=["section_id", "bidder_id", "bid_price", "estimate"])  # fmt: skip
    price = compute_price_screens(bids).reindex(sections)
    price["n_bids"] = price["n_bids"].fillna(0).astype(np.int64)
    for code in SCREEN_CODES:  # sections without priced bids: insufficient, never "no risk"
        price[f"{code}_status"] = price[f"{code}_status"].astype(object).where(
            price[f"{code}_status"].notna(), INSUFFICIENT)  # fmt: skip
    frame = price.join(identity_screens(conn, sections)).join(market_screens(conn, sections))
    frame.index.name = "bid_section_code"
    info = pd.DataFrame(conn.execute(sa.text(
        "SELECT x.section AS bid_section_code, count(*) AS bids_total, max(x.tender_project_code) AS tender_project_code"
        " FROM sv_bid x GROUP BY x.section"
    )).mappings().all(), columns=["bid_section_code", "bids_total", "tender_project_code"])  # fmt: skip
    frame = frame.join(info.set_index("bid_section_code"))
    frame["bids_total"] = frame["bids_total"].fillna(0).astype(np.int64)
    return frame, identity_pairs(conn), terminals


def _pair_texts(pairs: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """'A + B: value' lines per (section, indicator)."""
    texts: dict[tuple[str, str], list[str]] = {}
    for row in pairs.itertuples(index=False):
        texts.setdefault((row.bid_section_code, row.indicator), []).append(
            f"{row.bidder_a} + {row.bidder_b}: {row.shared_value}"
        )
    return texts


def _market_text(flag: Flag, frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """One sentence per raised market flag with the figures and the bidders concerned."""
    value = frame[flag.screen].to_numpy()
    extras = {c: frame[f"_{c}"].to_numpy() for c in ("winner", "cobid_pairs", "rotation_pairs", "loser_ids",
                                                       "restricted_ids", "expert_name")}  # fmt: skip
    out = []
    for i in rows:
        v = value[i]
        if flag.code == "SINGLE_BID":
            out.append("只有1家投标 / a single bid (OCDS R018)")
        elif flag.code == "RECURRING_COBIDDERS":
            out.append(
                f"同组投标人共同投标{int(v)}个标段 / pairs bidding together in {int(v)} sections: {extras['cobid_pairs'][i]}"
            )
        elif flag.code == "WINNER_ROTATION":
            out.append(
                f"中标人 {extras['winner'][i]} 与组合内 {int(v)} 家轮流中标 / winner rotates with: {extras['rotation_pairs'][i]}"
            )
        elif flag.code == "PERENNIAL_LOSERS":
            out.append(f"{int(v)} 家多次投标从未中标 / {int(v)} bidders never win: {extras['loser_ids'][i]}")
        elif flag.code == "RESTRICTED_BIDDERS":
            out.append(f"受限或失信投标人 / restricted bidders: {extras['restricted_ids'][i]}")
        elif flag.code == "EXPERT_REPEAT":
            out.append(
                f"专家 {extras['expert_name'][i]} 评审中标人 {extras['winner'][i]} 中标 {int(v)} 次"
                f" / expert evaluated {int(v)} wins of the winner"
            )
        else:
            out.append(
                f"中标人 {extras['winner'][i]} 在同一招标人处中标 {int(v)} 次 / {int(v)} wins with one tenderer"
            )
    return out


def _explain(frame: pd.DataFrame, strengths: pd.DataFrame, contributions: pd.DataFrame, thresholds: pd.DataFrame,
             pairs: pd.DataFrame, flags: Sequence[Flag]) -> list[dict[str, Any]]:  # fmt: skip
    """Per section: raised flags (strongest first), contributions, legal basis and evidence."""
    raised = strengths.to_numpy() > 0
    evidence: list[dict[str, str]] = [{} for _ in range(len(frame))]
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    pair_texts = _pair_texts(pairs)
    index = frame.index.to_numpy()
    for j, flag in enumerate(flags):
        rows = np.flatnonzero(raised[:, j])
        if not len(rows):
            continue
        if FAMILY[flag.code] == "price":
            texts = _evidence_texts(flag, columns, rows, thresholds[flag.code].to_numpy())
        elif FAMILY[flag.code] == "identity":
            texts = ["; ".join(pair_texts.get((index[i], flag.code), [])) for i in rows]
        else:
            texts = _market_text(flag, frame, rows)
        for i, text in zip(rows, texts, strict=True):
            evidence[i][flag.code] = text
    share = contributions.to_numpy()
    codes = [f.code for f in flags]
    out = []
    for i in range(len(frame)):
        hit = np.flatnonzero(raised[i])
        order = hit[np.argsort(-share[i, hit], kind="stable")]
        articles = list(dict.fromkeys(a for j in order for a in flags[j].articles))
        out.append({
            "flags": [codes[j] for j in order],
            "contributions": {codes[j]: round(float(share[i, j]), 4) for j in order},
            "legal_basis": articles,
            "evidence": {codes[j]: evidence[i][codes[j]] for j in order},
        })  # fmt: skip
    return out


def _indicator_json(frame: pd.DataFrame, i: int, evidence: dict[str, str]) -> dict[str, Any]:
    """Every indicator's value and status for one section (evidence where a flag was raised)."""
    result = {}
    for code in (*SCREEN_CODES, *IDENTITY_CODES, *MARKET_CODES):
        value = frame[code].iat[i]
        entry: dict[str, Any] = {"value": None if pd.isna(value) else round(float(value), 6),
                                 "status": str(frame[f"{code}_status"].iat[i])}  # fmt: skip
        if code in evidence:
            entry["evidence"] = evidence[code]
        result[code] = entry
    for code, text in evidence.items():  # flags named after their screen (price) are under the screen
        result.setdefault(code, {"evidence": text})
    return result


def score_sections(
    frame: pd.DataFrame, pairs: pd.DataFrame, flags: Sequence[Flag] = SECTION_FLAGS
) -> pd.DataFrame:
    """Combined score, status and explanation per section of a screens frame (index bid_section_code)."""
    strengths, thresholds = flag_strengths(frame, flags)
    score, contributions = combine(
        strengths, {f.code: f.weight for f in flags}, {f.code: f.group for f in flags}
    )
    explained = _explain(frame, strengths, contributions, thresholds, pairs, flags)
    identity_known = np.column_stack(
        [frame[f"{c}_status"].astype(object).eq(CALCULATED).to_numpy() for c in IDENTITY_CODES]
    ).any(axis=1)
    calculated = (
        (frame["n_bids"].to_numpy() >= MIN_BIDS) | identity_known | (strengths.to_numpy() > 0).any(axis=1)
    )
    out = pd.DataFrame(index=frame.index)
    out["tender_project_code"] = frame["tender_project_code"]
    out["n_bids"] = frame["bids_total"]
    out["score"] = np.where(calculated, np.round(score, 4), np.nan)
    out["score_status"] = np.where(calculated, CALCULATED, INSUFFICIENT)
    out["flags"] = [e["flags"] for e in explained]
    out["contributions"] = [e["contributions"] for e in explained]
    out["legal_basis"] = [e["legal_basis"] for e in explained]
    out["evidence"] = [e["evidence"] for e in explained]
    out["indicators"] = [_indicator_json(frame, i, e["evidence"]) for i, e in enumerate(explained)]
    for code in ("winner",):
        out[code] = frame[f"_{code}"]
    return out


def score_entities(sections: pd.DataFrame, pairs: pd.DataFrame, bids: pd.DataFrame, facts: pd.DataFrame,
                   frame: pd.DataFrame, threshold: float = ALERT_THRESHOLD) -> pd.DataFrame:  # fmt: skip
    """Combined score per entity from its sections: identity links, suspicious sections, rotation, losses."""
    deterministic = pairs[pairs["indicator"].isin(DETERMINISTIC)]
    linked = pd.concat([deterministic[["bid_section_code", "bidder_a"]].set_axis(["section", "bidder"], axis=1),
                        deterministic[["bid_section_code", "bidder_b"]].set_axis(["section", "bidder"], axis=1)])  # fmt: skip
    linked_n = linked.drop_duplicates().groupby("bidder").size()
    hot = sections.index[sections["score"].fillna(0).to_numpy() >= threshold]
    suspicious_n = bids[bids["section"].isin(hot)].groupby("bidder").size()
    restricted = frame["_restricted_ids"].dropna().str.split(";").explode()
    restricted_n = restricted.value_counts()
    e = facts.copy()
    e["LINKED_IN_SECTIONS"] = linked_n.reindex(e.index).fillna(0).to_numpy()
    e["SUSPICIOUS_SECTIONS"] = suspicious_n.reindex(e.index).fillna(0).to_numpy()
    e["ROTATING_PARTNERS"] = e["rotating"].astype(float)
    e["PERENNIAL_LOSER"] = e["perennial_loser"].astype(float)
    e["RESTRICTED_WHILE_BIDDING"] = restricted_n.reindex(e.index).fillna(0).to_numpy()
    e["n_bids"] = e["bids"]
    for flag in ENTITY_FLAGS:
        e[f"{flag.screen}_status"] = CALCULATED
    strengths, _ = flag_strengths(e, ENTITY_FLAGS)
    score, contributions = combine(strengths, {f.code: f.weight for f in ENTITY_FLAGS})
    raised = strengths.to_numpy() > 0
    share = contributions.to_numpy()
    out = pd.DataFrame(index=e.index)
    out["entity_name"] = e["name"]
    out["score"] = np.round(score, 4)
    out["bids"], out["wins"] = e["bids"], e["wins"]
    flags_col, contrib_col, basis_col, ind_col = [], [], [], []
    for i in range(len(e)):
        hit = np.flatnonzero(raised[i])
        order = hit[np.argsort(-share[i, hit], kind="stable")]
        flags_col.append([ENTITY_FLAGS[j].code for j in order])
        contrib_col.append({ENTITY_FLAGS[j].code: round(float(share[i, j]), 4) for j in order})
        basis_col.append(list(dict.fromkeys(a for j in order for a in ENTITY_FLAGS[j].articles)))
        ind_col.append(
            {f.code: {"value": float(e[f.code].iat[i]), "status": CALCULATED} for f in ENTITY_FLAGS}
        )
    out["flags"], out["contributions"], out["legal_basis"], out["indicators"] = (
        flags_col,
        contrib_col,
        basis_col,
        ind_col,
    )
    return out


def compute_scores(
    conn: sa.Connection, *, threshold: float = ALERT_THRESHOLD, site_min_bidders: int = 8
) -> Scores:
    """Screen the whole market held in the warehouse and score every section and entity."""
    frame, pairs, terminals = _frame(conn, site_min_bidders)
    sections = score_sections(frame, pairs)
    bids = pd.DataFrame(
        conn.execute(sa.text("SELECT section, bidder FROM sv_bid")).all(), columns=["section", "bidder"]
    )
    entities = score_entities(sections, pairs, bids, entity_facts(conn), frame, threshold)
    return Scores(sections=sections, entities=entities, pairs=pairs, bids=bids, terminals=terminals)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def write_scores(conn: sa.Connection, scores: Scores, run_id: int, scope: list[str] | None) -> dict[str, int]:
    """Replace the scores of the sections in scope (None = all) and of the entities bidding there."""
    sections = scores.sections if scope is None else scores.sections[scores.sections.index.isin(scope)]
    bidders = set(scores.bids.loc[scores.bids["section"].isin(sections.index), "bidder"])
    entities = scores.entities if scope is None else scores.entities[scores.entities.index.isin(bidders)]
    pairs = scores.pairs[scores.pairs["bid_section_code"].isin(sections.index)]
    codes = list(sections.index)
    conn.execute(sa.text("DELETE FROM supervision.pair_hit WHERE bid_section_code = ANY(:c)"), {"c": codes})
    conn.execute(
        sa.text("DELETE FROM supervision.section_score WHERE bid_section_code = ANY(:c)"), {"c": codes}
    )
    conn.execute(
        sa.text("DELETE FROM supervision.entity_score WHERE entity_code = ANY(:c)"),
        {"c": list(entities.index)},
    )
    if len(sections):
        conn.execute(sa.text(
            "INSERT INTO supervision.section_score (bid_section_code, tender_project_code, n_bids, score, score_status,"
            " flags, contributions, indicators, legal_basis, run_id) VALUES (:code, :project, :n, :score, :status,"
            " :flags, CAST(:contrib AS jsonb), CAST(:ind AS jsonb), :basis, :run)"
        ), [{"code": code, "project": r.tender_project_code if isinstance(r.tender_project_code, str) else None,
             "n": int(r.n_bids), "score": None if pd.isna(r.score) else float(r.score), "status": r.score_status,
             "flags": r.flags, "contrib": _json(r.contributions), "ind": _json(r.indicators), "basis": r.legal_basis,
             "run": run_id} for code, r in zip(sections.index, sections.itertuples(index=False), strict=True)])  # fmt: skip
    if len(entities):
        conn.execute(sa.text(
            "INSERT INTO supervision.entity_score (entity_code, entity_name, score, bids, wins, flags, contributions,"
            " indicators, legal_basis, run_id) VALUES (:code, :name, :score, :bids, :wins, :flags,"
            " CAST(:contrib AS jsonb), CAST(:ind AS jsonb), :basis, :run)"
        ), [{"code": code, "name": r.entity_name, "score": float(r.score), "bids": int(r.bids), "wins": int(r.wins),
             "flags": r.flags, "contrib": _json(r.contributions), "ind": _json(r.indicators), "basis": r.legal_basis,
             "run": run_id} for code, r in zip(entities.index, entities.itertuples(index=False), strict=True)])  # fmt: skip
    if len(pairs):
        conn.execute(sa.text(
            "INSERT INTO supervision.pair_hit (bid_section_code, bidder_a, bidder_b, indicator, shared_value,"
            " legal_article, run_id) VALUES (:bid_section_code, :bidder_a, :bidder_b, :indicator, :shared_value,"
            " :legal_article, :run)"
        ), [{**r, "run": run_id} for r in pairs.to_dict("records")])  # fmt: skip
    return {"sections": len(sections), "entities": len(entities), "pairs": len(pairs)}
