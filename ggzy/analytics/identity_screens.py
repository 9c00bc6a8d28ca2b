"""Identity screens per bidder pair in one 标段 (integrity-indicators.md §2), computed in SQL.

Every identifier a bid carries becomes one row (section, bidder, indicator, value) of a temporary table;
a self-join on (section, indicator, value) yields every pair of bidders sharing it, so the whole market
is screened in one set-based pass. Indicators and the article each maps to:

| indicator | shared value | source (warehouse table) | article |
| --- | --- | --- | --- |
| SAME_MACHINE | CPU_ID + HARD_DISK_SERIAL_NUMBER + MAC_ADDRESS, all three | core.bid_document_fingerprint (519), core.bid_tool_fingerprint (9010) | 条例第四十条(二) |
| LOCK_SERIAL | 计价软件加密锁 serial (VALUATION_XML <LOCK_SERIAL>) | 519 | 条例第四十条(一) |
| DOCUMENT_MD5 | BID_DOCUMENT_MD5 | 519 | 条例第四十条(四) |
| UPLOAD_IP | NET_ID | 519, 9010 | 条例第四十条(二) |
| DEPOSIT_ACCOUNT | MARGIN_ACCOUNT (spaces removed) | core.bid_deposit (9011) | 条例第四十条(六) |
| PROJECT_MANAGER_CODE | PM_CODE | core.bid (507) | 条例第四十条(三) |
| PROJECT_MANAGER_NAME | BID_MANAGER (same person named for two bidders) | 507 | 条例第四十条(三) |
| LINKED_COMPANIES | legal representative / shareholder | no warehouse data: always insufficient_data | 条例第三十四条 |

Uploads made at the trading centre's own terminals (开标现场) are excluded, as provincial rules require:
a machine or IP value seen with `site_min_bidders` or more distinct bidders across the market is a public
terminal, not a shared private computer (the excluded values are returned as evidence).

Per section and indicator the status is 'calculated' when at least two bidders of the section carry a
value (the value is then the number of pairs sharing one), else 'insufficient_data': missing fingerprints
are never read as "no shared identity".
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from ggzy.analytics.price_screens import CALCULATED, INSUFFICIENT

SITE_MIN_BIDDERS = 8  # a machine/IP shared by this many distinct bidders is a public upload terminal

REG_34 = "《招标投标法实施条例》第三十四条"
REG_40_1 = "《招标投标法实施条例》第四十条(一)"
REG_40_2 = "《招标投标法实施条例》第四十条(二)"
REG_40_3 = "《招标投标法实施条例》第四十条(三)"
REG_40_4 = "《招标投标法实施条例》第四十条(四)"
REG_40_6 = "《招标投标法实施条例》第四十条(六)"
ARTICLES: dict[str, tuple[str, str]] = {
    REG_34: ("单位负责人为同一人或者存在控股、管理关系的不同单位不得参加同一标段投标",
             "bidders with the same head or a control relation may not bid in the same section"),
    REG_40_1: ("视为串通投标：不同投标人的投标文件由同一单位或者个人编制",
               "deemed collusion: bid documents prepared by the same unit or person"),
    REG_40_2: ("视为串通投标：不同投标人委托同一单位或者个人办理投标事宜",
               "deemed collusion: the same unit or person handles bidding for several bidders"),
    REG_40_3: ("视为串通投标：不同投标人的投标文件载明的项目管理成员为同一人",
               "deemed collusion: the same project-management member for several bidders"),
    REG_40_4: ("视为串通投标：不同投标人的投标文件异常一致或者投标报价呈规律性差异",
               "deemed collusion: bid documents abnormally identical or prices in a regular pattern"),
    REG_40_6: ("视为串通投标：不同投标人的投标保证金从同一单位或者个人的账户转出",
               "deemed collusion: deposits paid from the same account"),
}  # fmt: skip


@dataclass(frozen=True)
class IdentityIndicator:
    """One identity screen: code, names, the article a hit maps to."""

    code: str
    zh: str
    en: str
    article: str


INDICATORS: tuple[IdentityIndicator, ...] = (
    IdentityIndicator("SAME_MACHINE", "同一电脑制作/上传（CPU、硬盘、MAC均相同）", "same computer (CPU, disk and MAC)", REG_40_2),
    IdentityIndicator("LOCK_SERIAL", "计价软件加密锁序列号相同", "same pricing-software dongle serial", REG_40_1),
    IdentityIndicator("DOCUMENT_MD5", "投标文件MD5相同", "identical bid document (MD5)", REG_40_4),
    IdentityIndicator("UPLOAD_IP", "上传IP地址相同", "same upload IP address", REG_40_2),
    IdentityIndicator("DEPOSIT_ACCOUNT", "投标保证金从同一账户转出", "deposits paid from the same account", REG_40_6),
    IdentityIndicator("PROJECT_MANAGER_CODE", "项目负责人证书编号相同", "same project manager certificate", REG_40_3),
    IdentityIndicator("PROJECT_MANAGER_NAME", "项目负责人姓名相同", "same project manager name", REG_40_3),
    IdentityIndicator("LINKED_COMPANIES", "法定代表人或股权关联", "same legal representative or shareholder links", REG_34),
)  # fmt: skip
INDICATORS_BY_CODE = {i.code: i for i in INDICATORS}
IDENTITY_CODES = tuple(i.code for i in INDICATORS)
TERMINAL_INDICATORS = ("SAME_MACHINE", "UPLOAD_IP")

# One row per (section, bidder, indicator, value); UNION drops repeats (519 and 9010 carry the same machine).
IDENTIFIERS_SQL = r"""
SELECT bid_section_code AS section, bidder_code AS bidder, 'SAME_MACHINE' AS indicator,
       upper(cpu_id) || '|' || upper(hard_disk_serial) || '|' || upper(replace(mac_address, ':', '-')) AS value
  FROM core.bid_document_fingerprint
 WHERE nullif(trim(cpu_id), '') IS NOT NULL AND nullif(trim(hard_disk_serial), '') IS NOT NULL
   AND nullif(trim(mac_address), '') IS NOT NULL
UNION
SELECT bid_section_code, bidder_code, 'SAME_MACHINE',
       upper(cpu_id) || '|' || upper(hard_disk_serial) || '|' || upper(replace(mac_address, ':', '-'))
  FROM core.bid_tool_fingerprint
 WHERE nullif(trim(cpu_id), '') IS NOT NULL AND nullif(trim(hard_disk_serial), '') IS NOT NULL
   AND nullif(trim(mac_address), '') IS NOT NULL
UNION
SELECT bid_section_code, bidder_code, 'LOCK_SERIAL',
       substring(valuation_xml FROM '<LOCK_SERIAL>\s*([^<\s]+)\s*</LOCK_SERIAL>')
  FROM core.bid_document_fingerprint
 WHERE valuation_xml ~ '<LOCK_SERIAL>\s*[^<\s]+\s*</LOCK_SERIAL>'
UNION
SELECT bid_section_code, bidder_code, 'DOCUMENT_MD5', lower(trim(bid_document_md5))
  FROM core.bid_document_fingerprint WHERE nullif(trim(bid_document_md5), '') IS NOT NULL
UNION
SELECT bid_section_code, bidder_code, 'UPLOAD_IP', trim(ip_address)
  FROM core.bid_document_fingerprint WHERE nullif(trim(ip_address), '') IS NOT NULL
UNION
SELECT bid_section_code, bidder_code, 'UPLOAD_IP', trim(ip_address)
  FROM core.bid_tool_fingerprint WHERE nullif(trim(ip_address), '') IS NOT NULL
UNION
SELECT bid_section_code, bidder_code, 'DEPOSIT_ACCOUNT', regexp_replace(margin_account, '\s', '', 'g')
  FROM core.bid_deposit WHERE nullif(regexp_replace(margin_account, '\s', '', 'g'), '') IS NOT NULL
UNION
SELECT bid_section_code, bidder_code, 'PROJECT_MANAGER_CODE', upper(trim(project_manager_code))
  FROM core.bid WHERE nullif(trim(project_manager_code), '') IS NOT NULL
UNION
SELECT bid_section_code, bidder_code, 'PROJECT_MANAGER_NAME', trim(bid_manager)
  FROM core.bid WHERE nullif(trim(bid_manager), '') IS NOT NULL
"""


def _article_case() -> str:
    return "CASE i.indicator " + " ".join(f"WHEN '{x.code}' THEN '{x.article}'" for x in INDICATORS) + " END"


def build_identifiers(
    conn: sa.Connection, site_min_bidders: int = SITE_MIN_BIDDERS
) -> list[dict[str, object]]:
    """Fill temp table sv_identifier (public terminals removed); returns the excluded terminal values."""
    conn.execute(sa.text("DROP TABLE IF EXISTS sv_identifier"))
    conn.execute(sa.text(f"CREATE TEMP TABLE sv_identifier AS {IDENTIFIERS_SQL}"))
    terminals = conn.execute(sa.text(
        "SELECT indicator, value, count(DISTINCT bidder) AS bidders FROM sv_identifier"
        " WHERE indicator = ANY(:kinds) GROUP BY indicator, value HAVING count(DISTINCT bidder) >= :n"
        " ORDER BY indicator, value"
    ), {"kinds": list(TERMINAL_INDICATORS), "n": site_min_bidders}).mappings().all()  # fmt: skip
    conn.execute(sa.text(
        "DELETE FROM sv_identifier i USING (SELECT indicator, value FROM sv_identifier WHERE indicator = ANY(:kinds)"
        " GROUP BY indicator, value HAVING count(DISTINCT bidder) >= :n) t"
        " WHERE i.indicator = t.indicator AND i.value = t.value"
    ), {"kinds": list(TERMINAL_INDICATORS), "n": site_min_bidders})  # fmt: skip
    conn.execute(sa.text("CREATE INDEX ON sv_identifier (section, indicator, value)"))
    conn.execute(sa.text("ANALYZE sv_identifier"))
    return [dict(t) for t in terminals]


def identity_pairs(conn: sa.Connection) -> pd.DataFrame:
    """Every pair of bidders of one section sharing an identifier (needs `build_identifiers` first)."""
    rows = conn.execute(sa.text(
        "SELECT i.section AS bid_section_code, i.bidder AS bidder_a, j.bidder AS bidder_b, i.indicator,"
        f" min(i.value) AS shared_value, {_article_case()} AS legal_article"
        " FROM sv_identifier i JOIN sv_identifier j"
        "   ON j.section = i.section AND j.indicator = i.indicator AND j.value = i.value AND i.bidder < j.bidder"
        " GROUP BY i.section, i.bidder, j.bidder, i.indicator"
        " ORDER BY 1, 2, 3, 4"
    )).mappings().all()  # fmt: skip
    columns = ["bid_section_code", "bidder_a", "bidder_b", "indicator", "shared_value", "legal_article"]
    return pd.DataFrame([dict(r) for r in rows], columns=columns)


def identity_screens(conn: sa.Connection, sections: pd.Index) -> pd.DataFrame:
    """Per section (index) and indicator: value (pairs sharing) and status; needs `build_identifiers` first."""
    rows = conn.execute(sa.text(
        "WITH per AS (SELECT section, indicator, count(DISTINCT bidder) AS carriers FROM sv_identifier"
        "  GROUP BY section, indicator),"
        " pairs AS (SELECT i.section, i.indicator, count(DISTINCT (i.bidder, j.bidder)) AS pairs"
        "  FROM sv_identifier i JOIN sv_identifier j ON j.section = i.section AND j.indicator = i.indicator"
        "   AND j.value = i.value AND i.bidder < j.bidder GROUP BY i.section, i.indicator)"
        " SELECT per.section, per.indicator, per.carriers, coalesce(pairs.pairs, 0) AS pairs"
        " FROM per LEFT JOIN pairs USING (section, indicator)"
    )).all()  # fmt: skip
    frame = pd.DataFrame(rows, columns=["section", "indicator", "carriers", "pairs"])
    out = pd.DataFrame(index=sections)
    for code in IDENTITY_CODES:
        part = frame[frame["indicator"] == code].set_index("section").reindex(sections)
        calculated = part["carriers"].fillna(0).to_numpy() >= 2
        out[code] = part["pairs"].where(calculated).astype(float).to_numpy()
        out[f"{code}_status"] = pd.Categorical(
            [CALCULATED if c else INSUFFICIENT for c in calculated],
            categories=[CALCULATED, INSUFFICIENT, "not_applicable"],
        )
    return out
