"""Flags raised from the identity and market screens, in ggzy.analytics.score's `Flag` form, and the
entity-level flags; the section score combines them with the price flags by the same noisy-OR.

Weights (calibrated on the exchange-centre stand-in's planted rings, see tests/integration/
test_supervision.py): a deterministic identity hit (same computer, dongle, document, deposit account or
project-manager certificate: 条例第四十条 "视为串通投标") alone crosses the alert threshold (weight >= 0.85);
softer identity evidence (same manager name, same upload IP) and every market screen stay below it alone
("no single screen is enough") and raise an alert only together with other evidence.
"""

from __future__ import annotations

from dataclasses import replace

from ggzy.analytics import identity_screens as ids
from ggzy.analytics import market_screens as mkt
from ggzy.analytics.score import FLAGS as SCREEN_FLAGS
from ggzy.analytics.score import Flag

# With identity and market evidence next to the prices, two bidders sharing one price is weaker than a
# deterministic identity hit: on the stand-in year identical prices alone raised 12 alerts outside any
# ring and none inside one. Alone it now stays below the threshold; with any other flag it still alerts.
# (`ggzy screen`, which has only prices, keeps score.py's weights.)
PRICE_WEIGHTS = {"IDENTICAL_PRICES": 0.45}
PRICE_FLAGS: tuple[Flag, ...] = tuple(
    replace(f, weight=PRICE_WEIGHTS.get(f.code, f.weight)) for f in SCREEN_FLAGS
)

SOURCE_IDENTITY = "integrity-indicators.md §2 (identity screens per pair of bidders)"
SOURCE_MARKET = "integrity-indicators.md §4 (market and behaviour screens)"


def _identity(code: str, weight: float, group: str | None = None) -> Flag:
    indicator = ids.INDICATORS_BY_CODE[code]
    return Flag(code, code, weight, "at_least", 1, 1, False, indicator.zh, indicator.en, SOURCE_IDENTITY,
                (indicator.article,), full_strength_bids=0, group=group)  # fmt: skip


def _market(code: str, weight: float, threshold: float, saturation: float) -> Flag:
    indicator = mkt.INDICATORS_BY_CODE[code]
    return Flag(code, code, weight, "at_least", threshold, saturation, False, indicator.zh, indicator.en,
                SOURCE_MARKET, indicator.articles, full_strength_bids=0)  # fmt: skip


IDENTITY_FLAGS: tuple[Flag, ...] = (
    _identity("SAME_MACHINE", 0.9, "machine"),
    _identity("UPLOAD_IP", 0.4, "machine"),
    _identity("LOCK_SERIAL", 0.9),
    _identity("DOCUMENT_MD5", 0.9),
    _identity("DEPOSIT_ACCOUNT", 0.9),
    _identity("PROJECT_MANAGER_CODE", 0.85, "manager"),
    _identity("PROJECT_MANAGER_NAME", 0.45, "manager"),
    _identity("LINKED_COMPANIES", 0.85),
)
# Deterministic identity evidence (an entity involved in one is linked, not merely similar).
DETERMINISTIC = ("SAME_MACHINE", "LOCK_SERIAL", "DOCUMENT_MD5", "DEPOSIT_ACCOUNT", "PROJECT_MANAGER_CODE",
                 "LINKED_COMPANIES")  # fmt: skip

MARKET_FLAGS: tuple[Flag, ...] = (
    _market("SINGLE_BID", 0.2, 1, 1),
    _market("RECURRING_COBIDDERS", 0.3, 4, 8),
    _market("WINNER_ROTATION", 0.45, 1, 2),
    _market("PERENNIAL_LOSERS", 0.05, 3, 6),
    _market("RESTRICTED_BIDDERS", 0.2, 1, 1),
    _market("EXPERT_REPEAT", 0.25, 3, 5),
    _market("LOYAL_WINNER", 0.3, 3, 5),
)

SECTION_FLAGS: tuple[Flag, ...] = PRICE_FLAGS + IDENTITY_FLAGS + MARKET_FLAGS
SECTION_FLAGS_BY_CODE = {f.code: f for f in SECTION_FLAGS}
FAMILY = {
    **{f.code: "price" for f in PRICE_FLAGS},
    **{f.code: "identity" for f in IDENTITY_FLAGS},
    **{f.code: "market" for f in MARKET_FLAGS},
}

REG_39 = "《招标投标法实施条例》第三十九条"
REG_40 = "《招标投标法实施条例》第四十条"


def _entity(code: str, weight: float, threshold: float, saturation: float, zh: str, en: str,
            articles: tuple[str, ...]) -> Flag:  # fmt: skip
    return Flag(code, code, weight, "at_least", threshold, saturation, False, zh, en,
                "hub default (issue 6): entity-level roll-up of the section screens", articles, full_strength_bids=0)  # fmt: skip


ENTITY_FLAGS: tuple[Flag, ...] = (
    _entity("LINKED_IN_SECTIONS", 0.8, 1, 3, "在多个标段与其他投标人存在身份关联",
            "identity links to other bidders (computer, dongle, document, deposit, manager)", (REG_40,)),
    _entity("SUSPICIOUS_SECTIONS", 0.6, 2, 4, "参与多个高可疑度标段", "bid in several sections above the alert threshold",
            (REG_39,)),
    _entity("ROTATING_PARTNERS", 0.5, 1, 2, "与固定伙伴轮流中标", "takes turns winning with recurring co-bidders",
            (REG_39, mkt.REG_39_3)),
    _entity("PERENNIAL_LOSER", 0.15, 1, 1, "多次投标从未中标", "bids often, never wins", (mkt.REG_39_3,)),
    _entity("RESTRICTED_WHILE_BIDDING", 0.4, 1, 2, "受限期间参与投标", "bid while restricted or listed as dishonest",
            (mkt.REG_42,)),
)  # fmt: skip
ENTITY_FLAGS_BY_CODE = {f.code: f for f in ENTITY_FLAGS}


def articles_text(article: str) -> tuple[str, str]:
    """What an article says (zh, en), from whichever screen family cites it."""
    from ggzy.analytics.score import ARTICLES as PRICE_ARTICLES

    for table in (PRICE_ARTICLES, ids.ARTICLES, mkt.ARTICLES):
        if article in table:
            return table[article]
    return ("", "")
