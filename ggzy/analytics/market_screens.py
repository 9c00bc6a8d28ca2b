"""Market and behaviour screens across 标段 (integrity-indicators.md §4), computed in SQL.

Temporary tables built once per run (`build_market`): sv_bid (section, bidder, tenderer, winner flag),
sv_pair (every pair of bidders that bid together, with how often and how the wins split between them).
Indicators per section:

| indicator | value | status calculated when | article |
| --- | --- | --- | --- |
| SINGLE_BID | 1 when the section had one bid (OCDS R018) | the section has bids | 《招标投标法》第二十八条 (fewer than 3 bids: re-tender) |
| RECURRING_COBIDDERS | most sections any two of its bidders bid together, counted for pairs that bid together in at least `min_together` sections and in at least `min_share` of the rarer bidder's sections (R053) | >= 2 bids | 条例第三十九条 |
| WINNER_ROTATION | recurring pairs in the section whose shared sections were won by each of the two in turn, the winner being one of them (R057) | a result (513) exists | 条例第三十九条(三) |
| PERENNIAL_LOSERS | bidders of the section with >= `min_bids` bids market-wide and no win (R025 "陪标") | the market has results | 条例第三十九条(三) |
| RESTRICTED_BIDDERS | bidders restricted (core.restriction, as of the bid opening day) or marked IS_LOST | restrictions or IS_LOST known | 条例第四十二条; 失信联合惩戒 |
| EXPERT_REPEAT | most sections in which one of the section's experts evaluated a win of the section's winner | experts (508) and a result | 条例第四十一条 / 第四十九条 |
| LOYAL_WINNER | wins of the section's winner with the same tenderer, when >= `loyal_share` of its bids go to that tenderer (萝卜招标) | a result and a tenderer | 条例第四十一条 |

Absent data gives 'insufficient_data', never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ggzy.analytics.price_screens import CALCULATED, INSUFFICIENT, NOT_APPLICABLE

MIN_TOGETHER = 3  # sections two bidders must share to count as a recurring pair
MIN_SHARE = 0.6  # ... and that share of the rarer bidder's sections
MIN_BIDS_LOSER = 5  # bids needed before "never wins" means something
LOYAL_SHARE = 0.8  # share of a winner's bids that go to one tenderer

LAW_28 = "《招标投标法》第二十八条"
REG_39 = "《招标投标法实施条例》第三十九条"
REG_39_3 = "《招标投标法实施条例》第三十九条(三)"
REG_41 = "《招标投标法实施条例》第四十一条"
REG_42 = "《招标投标法实施条例》第四十二条"
REG_49 = "《招标投标法实施条例》第四十九条"
ARTICLES: dict[str, tuple[str, str]] = {
    LAW_28: (
        "投标人少于三个的，招标人应当依法重新招标",
        "fewer than three bidders: the tender must be repeated",
    ),
    REG_42: ("以他人名义投标或者以其他方式弄虚作假骗取中标", "bidding in another's name or by fraud"),
    REG_49: (
        "评标委员会成员应当客观、公正地履行职务",
        "evaluation experts must act objectively and impartially",
    ),
}


@dataclass(frozen=True)
class MarketIndicator:
    """One market screen: code, names, the articles a raised flag cites."""

    code: str
    zh: str
    en: str
    articles: tuple[str, ...]


INDICATORS: tuple[MarketIndicator, ...] = (
    MarketIndicator("SINGLE_BID", "单一投标人标段", "single-bid section", (LAW_28,)),
    MarketIndicator("RECURRING_COBIDDERS", "固定投标人组合反复共同投标", "the same firms repeatedly bidding together", (REG_39,)),
    MarketIndicator("WINNER_ROTATION", "组合内轮流中标", "winner rotation inside a co-bidding group", (REG_39, REG_39_3)),
    MarketIndicator("PERENNIAL_LOSERS", "长期陪标（多次投标从未中标）", "bidders that bid often and never win", (REG_39_3,)),
    MarketIndicator("RESTRICTED_BIDDERS", "失信或受限主体参与投标", "restricted or dishonest bidders taking part", (REG_42,)),
    MarketIndicator("EXPERT_REPEAT", "同一专家反复评审同一中标人", "the same expert repeatedly evaluating one winner", (REG_41, REG_49)),
    MarketIndicator("LOYAL_WINNER", "只投同一招标人且屡屡中标", "winner bidding almost only for one tenderer and winning", (REG_41,)),
)  # fmt: skip
INDICATORS_BY_CODE = {i.code: i for i in INDICATORS}
MARKET_CODES = tuple(i.code for i in INDICATORS)
CATEGORIES = [CALCULATED, INSUFFICIENT, NOT_APPLICABLE]

BID_SQL = """
SELECT b.bid_section_code AS section, b.bidder_code AS bidder, max(b.bidder_name) AS bidder_name,
       max(coalesce(s.tender_project_code, b.tender_project_code)) AS tender_project_code,
       max(t.tenderer_code) AS tenderer, bool_or(w.win_bidder_code = b.bidder_code) AS won,
       bool_or(w.bid_section_code IS NOT NULL) AS has_result, bool_or(b.is_dishonest) AS is_dishonest,
       min(core.spec_time(to_char(a.bid_open_time, 'YYYYMMDDHH24MISS')))::date AS open_day
  FROM core.bid b
  LEFT JOIN core.bid_section s ON s.bid_section_code = b.bid_section_code
  LEFT JOIN core.tender_project t ON t.tender_project_code = coalesce(s.tender_project_code, b.tender_project_code)
  LEFT JOIN core.win_result w ON w.bid_section_code = b.bid_section_code
  LEFT JOIN core.tender_announcement a ON a.tender_project_code = t.tender_project_code
 WHERE b.bidder_code IS NOT NULL
 GROUP BY b.bid_section_code, b.bidder_code
"""


def build_market(conn: sa.Connection, min_together: int = MIN_TOGETHER, min_share: float = MIN_SHARE) -> None:
    """Fill temp tables sv_bid (one row per bid) and sv_pair (recurring co-bidding pairs with their wins)."""
    conn.execute(sa.text("DROP TABLE IF EXISTS sv_bid, sv_pair"))
    conn.execute(sa.text(f"CREATE TEMP TABLE sv_bid AS {BID_SQL}"))
    conn.execute(sa.text("CREATE INDEX ON sv_bid (section)"))
    conn.execute(sa.text("CREATE INDEX ON sv_bid (bidder)"))
    conn.execute(sa.text("ANALYZE sv_bid"))
    conn.execute(sa.text(
        "CREATE TEMP TABLE sv_pair AS"
        " WITH n AS (SELECT bidder, count(*) AS bids FROM sv_bid GROUP BY bidder),"
        " together AS (SELECT x.bidder AS a, y.bidder AS b, count(*) AS together,"
        "   count(*) FILTER (WHERE x.won) AS wins_a, count(*) FILTER (WHERE y.won) AS wins_b"
        "   FROM sv_bid x JOIN sv_bid y ON y.section = x.section AND x.bidder < y.bidder GROUP BY x.bidder, y.bidder)"
        " SELECT t.*, na.bids AS bids_a, nb.bids AS bids_b,"
        "   t.together::numeric / least(na.bids, nb.bids) AS share"
        " FROM together t JOIN n na ON na.bidder = t.a JOIN n nb ON nb.bidder = t.b"
        " WHERE t.together >= :m AND t.together::numeric / least(na.bids, nb.bids) >= :s"
    ), {"m": min_together, "s": min_share})  # fmt: skip
    conn.execute(sa.text("CREATE INDEX ON sv_pair (a, b)"))
    conn.execute(sa.text("ANALYZE sv_pair"))


def _restriction_join(conn: sa.Connection) -> tuple[str, bool]:
    """SQL for 'bidder restricted on the opening day' and whether any restriction list is loaded."""
    exists = conn.scalar(sa.text("SELECT to_regclass('core.restriction') IS NOT NULL"))
    if not exists:
        return "false", False
    loaded = bool(conn.scalar(sa.text("SELECT EXISTS (SELECT 1 FROM core.restriction)")))
    return (
        "EXISTS (SELECT 1 FROM core.restriction r WHERE r.entity_key = x.bidder AND r.active_from <= x.open_day"
        " AND (r.active_until IS NULL OR x.open_day < r.active_until))",
        loaded,
    )


def market_screens(
    conn: sa.Connection,
    sections: pd.Index,
    min_bids_loser: int = MIN_BIDS_LOSER,
    loyal_share: float = LOYAL_SHARE,
) -> pd.DataFrame:
    """Per section (index): every market indicator's value and status, plus evidence columns."""
    restricted, lists_loaded = _restriction_join(conn)
    rows = conn.execute(sa.text(f"""
        WITH sec AS (SELECT section, count(*) AS n_bids, bool_or(has_result) AS has_result,
                            max(bidder) FILTER (WHERE won) AS winner, max(tenderer) AS tenderer,
                            bool_or(is_dishonest IS NOT NULL) AS lost_known
                       FROM sv_bid GROUP BY section),
        ent AS (SELECT bidder, count(*) AS bids, count(*) FILTER (WHERE won) AS wins FROM sv_bid GROUP BY bidder),
        market AS (SELECT bool_or(has_result) AS any_result FROM sv_bid),
        cobid AS (SELECT x.section, max(p.together) AS together,
                         string_agg(DISTINCT p.a || '+' || p.b, ';') AS pairs
                    FROM sv_bid x JOIN sv_bid y ON y.section = x.section AND x.bidder < y.bidder
                    JOIN sv_pair p ON p.a = x.bidder AND p.b = y.bidder GROUP BY x.section),
        rotation AS (SELECT s.section, count(*) AS rotating, string_agg(p.a || '+' || p.b, ';') AS pairs
                       FROM sec s JOIN sv_bid y ON y.section = s.section AND y.bidder <> s.winner
                       JOIN sv_pair p ON (p.a, p.b) = (least(s.winner, y.bidder), greatest(s.winner, y.bidder))
                      WHERE p.wins_a >= 1 AND p.wins_b >= 1 GROUP BY s.section),
        losers AS (SELECT x.section, count(*) AS losers, string_agg(x.bidder, ';') AS who
                     FROM sv_bid x JOIN ent e ON e.bidder = x.bidder
                    WHERE e.bids >= :min_bids AND e.wins = 0 GROUP BY x.section),
        restricted AS (SELECT x.section, count(*) FILTER (WHERE {restricted} OR x.is_dishonest) AS hits,
                              string_agg(x.bidder, ';') FILTER (WHERE {restricted} OR x.is_dishonest) AS who
                         FROM sv_bid x GROUP BY x.section),
        expert_wins AS (SELECT e.expert_id_hash, x.bidder, count(DISTINCT x.section) AS n
                          FROM core.evaluation_expert e JOIN sv_bid x ON x.section = e.bid_section_code AND x.won
                         WHERE e.expert_id_hash IS NOT NULL GROUP BY e.expert_id_hash, x.bidder),
        expert AS (SELECT s.section, count(e.*) AS experts, max(ew.n) AS repeat, max(e.expert_name) FILTER (WHERE ew.n
                          = (SELECT max(ew2.n) FROM expert_wins ew2 JOIN core.evaluation_expert e2
                             ON e2.expert_id_hash = ew2.expert_id_hash WHERE e2.bid_section_code = s.section
                             AND ew2.bidder = s.winner)) AS expert_name
                     FROM sec s JOIN core.evaluation_expert e ON e.bid_section_code = s.section
                     LEFT JOIN expert_wins ew ON ew.expert_id_hash = e.expert_id_hash AND ew.bidder = s.winner
                    GROUP BY s.section),
        loyal AS (SELECT s.section, count(*) FILTER (WHERE x.won) AS wins_with_tenderer,
                         count(*)::numeric / max(e.bids) AS share
                    FROM sec s JOIN sv_bid x ON x.bidder = s.winner AND x.tenderer = s.tenderer
                    JOIN ent e ON e.bidder = s.winner GROUP BY s.section)
        SELECT s.section, s.n_bids, s.has_result, s.winner, s.tenderer IS NOT NULL AS has_tenderer, s.lost_known,
               (SELECT any_result FROM market) AS any_result,
               coalesce(c.together, 0) AS together, c.pairs AS cobid_pairs,
               coalesce(r.rotating, 0) AS rotating, r.pairs AS rotation_pairs,
               coalesce(l.losers, 0) AS losers, l.who AS loser_ids,
               coalesce(rs.hits, 0) AS restricted, rs.who AS restricted_ids,
               coalesce(ex.experts, 0) AS experts, coalesce(ex.repeat, 0) AS expert_repeat, ex.expert_name,
               coalesce(ly.wins_with_tenderer, 0) AS loyal_wins, coalesce(ly.share, 0) AS loyal_share
          FROM sec s LEFT JOIN cobid c USING (section) LEFT JOIN rotation r USING (section)
          LEFT JOIN losers l USING (section) LEFT JOIN restricted rs USING (section)
          LEFT JOIN expert ex USING (section) LEFT JOIN loyal ly USING (section)
    """), {"min_bids": min_bids_loser}).mappings().all()  # fmt: skip
    f = pd.DataFrame([dict(r) for r in rows])
    if f.empty:
        f = pd.DataFrame(columns=["section", "n_bids"])
    f = f.set_index("section").reindex(sections)
    n = f["n_bids"].fillna(0).to_numpy()
    has_result = f.get("has_result", pd.Series(False, index=f.index)).fillna(False).astype(bool).to_numpy()
    any_result = bool(f.get("any_result", pd.Series(False, index=f.index)).fillna(False).any())
    out = pd.DataFrame(index=sections)

    def put(
        code: str, value: np.ndarray, calculated: np.ndarray, applicable: np.ndarray | None = None
    ) -> None:
        applicable = np.ones(len(value), dtype=bool) if applicable is None else applicable
        status = np.where(~applicable, NOT_APPLICABLE, np.where(calculated, CALCULATED, INSUFFICIENT))
        out[code] = np.where(calculated & applicable, value.astype(float), np.nan)
        out[f"{code}_status"] = pd.Categorical(status, categories=CATEGORIES)

    def col(name: str, default: float = 0.0) -> np.ndarray:
        return f[name].fillna(default).to_numpy(dtype=float) if name in f else np.full(len(f), default)

    put("SINGLE_BID", (n == 1).astype(float), n >= 1)
    put("RECURRING_COBIDDERS", col("together"), n >= 2, n >= 2)
    put("WINNER_ROTATION", col("rotating"), has_result & (n >= 2), n >= 2)
    put("PERENNIAL_LOSERS", col("losers"), np.full(len(n), any_result) & (n >= 1))
    lost_known = (
        f["lost_known"].fillna(False).astype(bool).to_numpy() if "lost_known" in f else np.zeros(len(n), bool)
    )
    put(
        "RESTRICTED_BIDDERS", col("restricted"), (n >= 1) & (lost_known | _lists_loaded(lists_loaded, len(n)))
    )
    put("EXPERT_REPEAT", col("expert_repeat"), has_result & (col("experts") > 0))
    loyal = np.where(col("loyal_share") >= loyal_share, col("loyal_wins"), 0.0)
    has_tenderer = (
        f["has_tenderer"].fillna(False).astype(bool).to_numpy()
        if "has_tenderer" in f
        else np.zeros(len(n), bool)
    )
    put("LOYAL_WINNER", loyal, has_result & has_tenderer)
    for extra in (
        "winner",
        "cobid_pairs",
        "rotation_pairs",
        "loser_ids",
        "restricted_ids",
        "expert_name",
        "loyal_share",
    ):
        out[f"_{extra}"] = f[extra].to_numpy() if extra in f else None
    return out


def _lists_loaded(loaded: bool, size: int) -> np.ndarray:
    return np.full(size, loaded)


def entity_facts(conn: sa.Connection, min_bids_loser: int = MIN_BIDS_LOSER) -> pd.DataFrame:
    """Per bidder (index entity_code): name, bids, wins, recurring partners, rotating partners, perennial loser."""
    rows = conn.execute(sa.text(
        "WITH ent AS (SELECT bidder, max(bidder_name) AS name, count(*) AS bids, count(*) FILTER (WHERE won) AS wins,"
        "   bool_or(has_result) AS has_result FROM sv_bid GROUP BY bidder),"
        " partners AS (SELECT bidder, count(*) AS partners, count(*) FILTER (WHERE wins_a >= 1 AND wins_b >= 1)"
        "   AS rotating FROM (SELECT a AS bidder, wins_a, wins_b FROM sv_pair UNION ALL"
        "   SELECT b, wins_a, wins_b FROM sv_pair) p GROUP BY bidder)"
        " SELECT e.bidder AS entity_code, e.name, e.bids, e.wins, coalesce(p.partners, 0) AS partners,"
        "   coalesce(p.rotating, 0) AS rotating, (e.bids >= :m AND e.wins = 0) AS perennial_loser"
        " FROM ent e LEFT JOIN partners p USING (bidder)"
    ), {"m": min_bids_loser}).mappings().all()  # fmt: skip
    columns = ["entity_code", "name", "bids", "wins", "partners", "rotating", "perennial_loser"]
    return pd.DataFrame([dict(r) for r in rows], columns=columns).set_index("entity_code")
