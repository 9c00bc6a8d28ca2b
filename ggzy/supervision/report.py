"""The monthly report (月度报告): trading basics, price, market, efficiency, problems and clues found, and
each member unit's delivery and acknowledgement record, as HTML and PDF with charts.

Chinese renders without any system CJK font: charts and the PDF use Noto Sans CJK SC shipped in the
`mplfonts` package (matplotlib embeds it in the PDF as a Type 3 subset); the HTML carries the charts as PNG
data URIs and a subset of the same font as a base64 WOFF @font-face covering exactly the characters used.

The report is written to GGZY_HOME/reports/<yyyy-mm>/ and delivered (one delivery.event, record_type
'monthly_report', with the PDF's and HTML's sha256 and links; one outbox row per unit) to the lead agency,
the supervising departments, and the discipline and police units of the jurisdiction profile.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ggzy.errors import HubError
from ggzy.settings import Settings

REPORT_ROLES = ("lead_agency", "supervising_department", "discipline", "police")
SECTOR_NAMES = {
    "A": "工程建设",
    "B": "土地矿业权",
    "D": "政府采购",
    "E": "工程建设",
    "G": "政府采购",
    "T": "土地矿业权",
}
SECTIONS = (
    "一、交易基本情况",
    "二、价格分析",
    "三、市场分析",
    "四、效率评估",
    "五、发现的问题和线索",
    "六、成员单位抄送签收情况",
)


def font_path() -> Path:
    """Noto Sans CJK SC from the mplfonts package (no system CJK font needed)."""
    import mplfonts

    path = Path(os.path.join(os.path.dirname(mplfonts.__file__), "fonts", "NotoSansCJKsc-Regular.otf"))
    if not path.exists():
        raise HubError(
            "font_missing",
            f"找不到中文字体 {path}",
            f"CJK font not found at {path}",
            detail={"path": str(path)},
        )
    return path


def setup_matplotlib() -> str:
    """Register the CJK font with matplotlib (Agg backend) and make it the default; returns its family name."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager, pyplot

    path = font_path()
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    pyplot.rcParams["font.family"] = [name]
    pyplot.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    pyplot.rcParams["axes.unicode_minus"] = False
    pyplot.rcParams["pdf.fonttype"] = 3
    return name


def month_bounds(month: str) -> tuple[date, date]:
    """'YYYY-MM' -> (first day, first day of the next month); bilingual error otherwise."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = date(year, mon, 1)
    except (ValueError, TypeError) as exc:
        raise HubError("invalid_month", f"月份格式应为 YYYY-MM，收到 {month!r}", f"month must be YYYY-MM, got {month!r}",
                       status_code=400, detail={"field": "month", "value": month}) from exc  # fmt: skip
    return first, date(year + (mon == 12), mon % 12 + 1, 1)


@dataclass
class MonthData:
    """Everything the report shows, gathered in SQL."""

    month: str
    first: date
    end: date
    trades: pd.DataFrame  # one row per section with a result notice in the month
    winners: pd.DataFrame
    efficiency: pd.DataFrame
    complaints: pd.DataFrame
    alerts: pd.DataFrame
    watch_entered: pd.DataFrame
    watch_left: pd.DataFrame
    network: pd.DataFrame  # recurring co-bidding / identity pairs among this month's bidders
    delivery: dict[str, Any]
    overdue: list[dict[str, Any]]
    figures: dict[str, Any] = field(default_factory=dict)


def _frame(conn: sa.Connection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    result = conn.execute(sa.text(sql), params)
    return pd.DataFrame(result.mappings().all(), columns=list(result.keys()))


def gather(engine: sa.Engine, month: str) -> MonthData:
    """Read the month's figures from the warehouse."""
    from ggzy.delivery.report import delivery_status, overdue_report

    first, end = month_bounds(month)
    p = {"first": first, "end": end}
    with engine.connect() as conn:
        trades = _frame(conn, """
            SELECT w.bid_section_code, w.win_bidder_code, w.win_bidder_name, w.bid_amount_yuan::float8 AS amount,
                   s.contract_reckon_price_yuan::float8 AS estimate, coalesce(s.region_code, tp.region_code) AS region,
                   left(coalesce(tp.tender_project_type, left(w.bid_section_code, 1)), 1) AS sector_code,
                   w.notice_send_time AS result_time,
                   (SELECT min(a.notice_send_time) FROM core.tender_announcement a
                     WHERE a.tender_project_code = s.tender_project_code) AS announced,
                   (SELECT count(*) FROM core.bid b WHERE b.bid_section_code = w.bid_section_code) AS bids
              FROM core.win_result w
              LEFT JOIN core.bid_section s ON s.bid_section_code = w.bid_section_code
              LEFT JOIN core.tender_project tp ON tp.tender_project_code = s.tender_project_code
             WHERE w.notice_send_time >= :first AND w.notice_send_time < :end""", p)  # fmt: skip
        complaints = _frame(conn, """
            SELECT bid_section_code, complaint_date, accept_date, handle_date, dealing_unit,
                   (handle_date - complaint_date) AS days
              FROM core.complaint WHERE complaint_date >= :first AND complaint_date < :end""", p)  # fmt: skip
        alerts = _frame(conn, """
            SELECT a.id, a.alert_type, a.tender_project_code, a.bid_section_code, a.body_name, a.body_code,
                   a.supervisor_unit_name, a.routed_unit_code, a.alert_level, a.alert_date, a.score::float8 AS score,
                   a.handled, a.handle_result, array_to_string(a.legal_basis, '、') AS legal_basis,
                   left(a.alert_info, 160) AS alert_info
              FROM core.alert a
             WHERE (a.alert_date >= :first AND a.alert_date < :end)
                OR a.bid_section_code IN (SELECT w.bid_section_code FROM core.win_result w
                                           WHERE w.notice_send_time >= :first AND w.notice_send_time < :end)
             ORDER BY a.score DESC NULLS LAST, a.id""", p)  # fmt: skip
        watch_entered = _frame(conn, """
            SELECT subject_kind, subject_code, subject_name, reason_code, reason, entered_on FROM supervision.watch_entry
             WHERE entered_on >= :first AND entered_on < :end ORDER BY entered_on, id""", p)  # fmt: skip
        watch_left = _frame(conn, """
            SELECT subject_kind, subject_code, subject_name, reason_code, left_reason, entered_on, left_on
              FROM supervision.watch_entry WHERE left_on >= :first AND left_on < :end ORDER BY left_on, id""", p)  # fmt: skip
        network = _frame(conn, """
            WITH month_bids AS (SELECT b.bid_section_code, b.bidder_code, b.bidder_name FROM core.bid b
                                 JOIN core.win_result w ON w.bid_section_code = b.bid_section_code
                                WHERE w.notice_send_time >= :first AND w.notice_send_time < :end)
            SELECT x.bidder_code AS a, y.bidder_code AS b, max(x.bidder_name) AS a_name, max(y.bidder_name) AS b_name,
                   count(DISTINCT x.bid_section_code) AS together,
                   bool_or(EXISTS (SELECT 1 FROM supervision.pair_hit h WHERE h.bidder_a = x.bidder_code
                                    AND h.bidder_b = y.bidder_code)) AS identity_link
              FROM month_bids x JOIN month_bids y ON y.bid_section_code = x.bid_section_code AND x.bidder_code < y.bidder_code
             GROUP BY x.bidder_code, y.bidder_code
            HAVING count(DISTINCT x.bid_section_code) >= 2
                OR bool_or(EXISTS (SELECT 1 FROM supervision.pair_hit h WHERE h.bidder_a = x.bidder_code
                                    AND h.bidder_b = y.bidder_code))
             ORDER BY together DESC LIMIT 120""", p)  # fmt: skip
    trades["sector"] = trades["sector_code"].map(SECTOR_NAMES).fillna("其他")
    trades["ratio"] = trades["amount"] / trades["estimate"]
    efficiency = trades.dropna(subset=["announced", "result_time"]).copy()
    efficiency["days"] = (
        pd.to_datetime(efficiency["result_time"]) - pd.to_datetime(efficiency["announced"])
    ).dt.days
    winners = (trades.groupby(["win_bidder_code"], dropna=True)
               .agg(name=("win_bidder_name", "first"), wins=("bid_section_code", "count"), amount=("amount", "sum"))
               .sort_values("amount", ascending=False))  # fmt: skip
    data = MonthData(month, first, end, trades, winners, efficiency, complaints, alerts, watch_entered, watch_left,
                     network, delivery_status(engine), overdue_report(engine, end))  # fmt: skip
    data.figures = figures(data)
    return data


def figures(d: MonthData) -> dict[str, Any]:
    """Headline figures: counts, amounts, savings rate, HHI / CR4, days, alerts."""
    amount = float(d.trades["amount"].sum()) if len(d.trades) else 0.0
    priced = d.trades.dropna(subset=["amount", "estimate"])
    share = (
        d.winners["amount"] / d.winners["amount"].sum()
        if len(d.winners) and d.winners["amount"].sum()
        else pd.Series(dtype=float)
    )
    return {
        "sections": int(len(d.trades)), "amount_yuan": round(amount, 2),
        "savings_rate": round(float(1 - priced["amount"].sum() / priced["estimate"].sum()), 4) if len(priced) else None,
        "median_win_to_estimate": round(float(priced["ratio"].median()), 4) if len(priced) else None,
        "hhi": round(float((share * 100).pow(2).sum()), 1) if len(share) else None,
        "cr4": round(float(share.head(4).sum()), 4) if len(share) else None,
        "winners": int(len(d.winners)),
        "median_days_to_result": float(d.efficiency["days"].median()) if len(d.efficiency) else None,
        "complaints": int(len(d.complaints)),
        "median_complaint_days": float(pd.to_numeric(d.complaints["days"]).median()) if len(d.complaints) and d.complaints["days"].notna().any() else None,
        "alerts": int(len(d.alerts)), "alerts_unhandled": int((d.alerts["handled"] == "0").sum()) if len(d.alerts) else 0,
        "watch_entered": int(len(d.watch_entered)), "watch_left": int(len(d.watch_left)),
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Charts


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _empty(ax: Any, text: str = "本月无数据 / no data this month") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def charts(d: MonthData) -> dict[str, Any]:
    """The report's matplotlib figures, by name (each used in the PDF and as PNG in the HTML)."""
    from matplotlib import pyplot as plt

    out: dict[str, Any] = {}
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    if len(d.trades):
        by_sector = d.trades.groupby("sector").agg(n=("bid_section_code", "count"), amount=("amount", "sum"))
        a1.bar(by_sector.index, by_sector["n"], color="#2f6db5")
        a1.set_title("按行业的成交标段数")
        by_region = d.trades.groupby("region")["amount"].sum().sort_values(ascending=False).head(10) / 1e4
        a2.barh(by_region.index.astype(str), by_region.to_numpy(), color="#d9822b")
        a2.set_title("按区域的成交金额（万元）")
        a2.invert_yaxis()
    else:
        _empty(a1)
        _empty(a2)
    out["basics"] = fig
    fig, ax = plt.subplots(figsize=(10, 3.4))
    ratio = d.trades["ratio"].dropna()
    if len(ratio):
        ax.hist(ratio.clip(0.5, 1.2), bins=30, color="#4a9c5d")
        ax.axvline(1.0, color="#b33", linestyle="--")
        ax.set_title("中标价 / 控制价 分布（虚线：等于控制价）")
        ax.set_xlabel("中标价 / 控制价")
    else:
        _empty(ax)
    out["price"] = fig
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1, 1.2]})
    if len(d.winners):
        top = d.winners.head(10)
        a1.barh([str(n)[:14] for n in top["name"]], top["amount"].to_numpy() / 1e4, color="#2f6db5")
        a1.invert_yaxis()
        a1.set_title("中标金额前十名（万元）")
    else:
        _empty(a1)
    _network(a2, d.network)
    out["market"] = fig
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4))
    if len(d.efficiency):
        a1.hist(d.efficiency["days"], bins=20, color="#7a5cb8")
        a1.set_title("公告至结果公示天数")
        a1.set_xlabel("天")
    else:
        _empty(a1)
    days = (
        pd.to_numeric(d.complaints["days"], errors="coerce").dropna()
        if len(d.complaints)
        else pd.Series(dtype=float)
    )
    if len(days):
        a2.hist(days, bins=10, color="#c0504d")
        a2.set_title("投诉处理天数")
        a2.set_xlabel("天")
    else:
        _empty(a2, "本月无投诉 / no complaints")
    out["efficiency"] = fig
    fig, ax = plt.subplots(figsize=(10, 3.2))
    if len(d.alerts):
        by_unit = d.alerts.groupby(d.alerts["supervisor_unit_name"].fillna("未指定")).size().sort_values()
        ax.barh(by_unit.index, by_unit.to_numpy(), color="#b33")
        ax.set_title("本月报警数（按监督部门）")
    else:
        _empty(ax, "本月无报警 / no alerts")
    out["alerts"] = fig
    return out


def _network(ax: Any, pairs: pd.DataFrame) -> None:
    """Co-bidding network: bidders on a circle, an edge per pair bidding together (red: identity link)."""
    if pairs.empty:
        _empty(ax, "无反复共同投标 / no recurring co-bidding")
        return
    nodes = list(dict.fromkeys([*pairs["a"], *pairs["b"]]))
    angle = np.linspace(0, 2 * math.pi, len(nodes), endpoint=False)
    pos = {n: (math.cos(t), math.sin(t)) for n, t in zip(nodes, angle, strict=True)}
    for row in pairs.itertuples(index=False):
        (x1, y1), (x2, y2) = pos[row.a], pos[row.b]
        color = "#c62828" if row.identity_link else "#90a4ae"
        ax.plot([x1, x2], [y1, y2], color=color, linewidth=0.5 + 0.6 * min(int(row.together), 6), alpha=0.8)
    xs, ys = zip(*pos.values(), strict=True)
    ax.scatter(xs, ys, s=22, color="#1e3f66", zorder=3)
    ax.set_title("共同投标网络（红线：存在身份关联）")
    ax.set_aspect("equal")
    ax.axis("off")


# ---------------------------------------------------------------------------------------------------
# HTML and PDF


def _tables(d: MonthData) -> dict[str, pd.DataFrame]:
    """The report's tables (already limited in length), with Chinese column headings."""
    unit_rows = pd.DataFrame(d.delivery["units"])
    if len(unit_rows):
        overdue = {u["unit"]: u["overdue"] for u in d.overdue}
        unit_rows = unit_rows.assign(overdue=unit_rows["code"].map(overdue).fillna(0).astype(int))[
            [
                "code",
                "name",
                "role",
                "mode",
                "expected",
                "delivered",
                "acknowledged",
                "pending",
                "failed",
                "overdue",
            ]
        ]
    return {
        "winners": d.winners.head(10).reset_index().rename(columns={
            "win_bidder_code": "统一社会信用代码", "name": "中标人", "wins": "中标标段数", "amount": "中标金额（元）"}),
        "alerts": d.alerts.head(20)[["bid_section_code", "body_name", "alert_level", "score", "supervisor_unit_name",
                                     "legal_basis", "handled"]].rename(columns={
            "bid_section_code": "标段编号", "body_name": "主体", "alert_level": "级别", "score": "可疑度",
            "supervisor_unit_name": "监督部门", "legal_basis": "依据条款", "handled": "已处理"}) if len(d.alerts) else pd.DataFrame(),
        "watch": pd.concat([
            d.watch_entered.assign(变动="列入", 日期=d.watch_entered.get("entered_on"))[["变动", "subject_kind", "subject_code", "subject_name", "reason_code", "日期"]] if len(d.watch_entered) else pd.DataFrame(),
            d.watch_left.assign(变动="移出", 日期=d.watch_left.get("left_on"))[["变动", "subject_kind", "subject_code", "subject_name", "reason_code", "日期"]] if len(d.watch_left) else pd.DataFrame(),
        ]).head(30).rename(columns={"subject_kind": "类型", "subject_code": "代码", "subject_name": "名称", "reason_code": "原因"}),
        "delivery": unit_rows.rename(columns={
            "code": "单位代码", "name": "单位名称", "role": "角色", "mode": "方式", "expected": "应送达", "delivered": "已送达",
            "acknowledged": "已签收", "pending": "待送达", "failed": "失败", "overdue": "逾期未签收"}) if len(unit_rows) else pd.DataFrame(),
    }  # fmt: skip


def _summary_lines(d: MonthData) -> dict[str, list[str]]:
    f = d.figures

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.1%}"

    def ratio(x: float | None) -> str:
        return "—" if x is None else f"{x:.3f}"

    def num(x: float | None, unit: str = "") -> str:
        return "—" if x is None else f"{x:,.1f}{unit}"

    return {
        SECTIONS[0]: [f"本月发布中标结果的标段 {f['sections']} 个，成交金额 {f['amount_yuan'] / 1e4:,.2f} 万元。"
                      f" / {f['sections']} sections awarded, {f['amount_yuan']:,.0f} yuan."],
        SECTIONS[1]: [f"节资率（1 − 中标总额/控制价总额）{pct(f['savings_rate'])}；中标价/控制价中位数 {ratio(f['median_win_to_estimate'])}。"
                      f" / savings rate {pct(f['savings_rate'])}, median winning price / ceiling {ratio(f['median_win_to_estimate'])}."],
        SECTIONS[2]: [f"中标人 {f['winners']} 家；集中度 HHI {num(f['hhi'])}，CR4 {pct(f['cr4'])}。"
                      f" / {f['winners']} winners, HHI {num(f['hhi'])}, CR4 {pct(f['cr4'])}."],
        SECTIONS[3]: [f"公告至结果公示天数中位数 {num(f['median_days_to_result'], ' 天')}；投诉 {f['complaints']} 件，处理天数中位数"
                      f" {num(f['median_complaint_days'], ' 天')}。 / median {num(f['median_days_to_result'])} days from notice to result."],
        SECTIONS[4]: [f"本月报警 {f['alerts']} 条（未处理 {f['alerts_unhandled']} 条）；重点关注名单列入 {f['watch_entered']} 个、"
                      f"移出 {f['watch_left']} 个。 / {f['alerts']} alerts, watch list +{f['watch_entered']} / -{f['watch_left']}."],
        SECTIONS[5]: [f"累计应送达 {d.delivery.get('expected', 0)} 条，已签收 {d.delivery.get('acknowledged', 0)} 条，"
                      f"逾期未签收单位 {len(d.overdue)} 个。 / per-unit delivery and acknowledgement below."],
    }  # fmt: skip


HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
@font-face { font-family: "Noto Sans CJK SC Subset"; src: url(data:font/woff;base64,{{ font_b64 }}) format("woff"); }
body { font-family: "Noto Sans CJK SC Subset", sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #2f6db5; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; font-size: .85em; margin: .6em 0; }
th, td { border: 1px solid #bbb; padding: .25em .4em; text-align: left; } th { background: #eef3fa; }
img { max-width: 100%; } .figures td { border: none; }
</style></head><body>
<h1>{{ title }}</h1>
<p>统计期间 {{ first }} 至 {{ last }}；生成时间 {{ generated }} / period {{ first }} to {{ last }}</p>
{% for heading, lines, chart, table in sections %}
<h2>{{ heading }}</h2>
{% for line in lines %}<p>{{ line }}</p>{% endfor %}
{% if chart %}<img alt="{{ heading }}" src="data:image/png;base64,{{ chart }}">{% endif %}
{% if table %}{{ table | safe }}{% endif %}
{% endfor %}
<h2>附：关键指标 / key figures</h2>
<table>{% for k, v in figures.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
</body></html>
"""


def _font_subset_b64(text: str) -> str:
    """A WOFF subset of Noto Sans CJK SC covering the characters of `text`, base64."""
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    font = subset.load_font(str(font_path()), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text + "0123456789.,%-—/（）()：:；;、 ")
    subsetter.subset(font)
    buffer = io.BytesIO()
    subset.save_font(font, buffer, options)
    return base64.b64encode(buffer.getvalue()).decode()


def _table_html(frame: pd.DataFrame) -> str:
    if frame is None or frame.empty:
        return "<p>（无 / none）</p>"
    return frame.to_html(index=False, border=0, float_format=lambda x: f"{x:,.2f}", na_rep="—", escape=True)


def render_html(d: MonthData, pngs: dict[str, bytes], title: str) -> str:
    """The HTML report: charts as PNG data URIs, tables, and the embedded font subset."""
    from jinja2 import Environment

    tables = _tables(d)
    lines = _summary_lines(d)
    b64 = {k: base64.b64encode(v).decode() for k, v in pngs.items()}
    sections = [
        (SECTIONS[0], lines[SECTIONS[0]], b64["basics"], ""),
        (SECTIONS[1], lines[SECTIONS[1]], b64["price"], ""),
        (SECTIONS[2], lines[SECTIONS[2]], b64["market"], _table_html(tables["winners"])),
        (SECTIONS[3], lines[SECTIONS[3]], b64["efficiency"], ""),
        (SECTIONS[4], lines[SECTIONS[4]], b64["alerts"], _table_html(tables["alerts"]) + "<h3>重点关注名单变动</h3>"
         + _table_html(tables["watch"])),
        (SECTIONS[5], lines[SECTIONS[5]], None, _table_html(tables["delivery"])),
    ]  # fmt: skip
    env = Environment(autoescape=True)
    context = {"title": title, "first": d.first.isoformat(), "last": (d.end - pd.Timedelta(days=1)).isoformat(),
               "generated": date.today().isoformat(), "sections": sections, "figures": d.figures}  # fmt: skip
    draft = env.from_string(HTML_TEMPLATE).render(font_b64="", **context)
    return env.from_string(HTML_TEMPLATE).render(font_b64=_font_subset_b64(draft), **context)


def _wrap(line: str) -> list[str]:
    """Chinese part and English part on their own lines, each wrapped to the page width."""
    import textwrap

    zh, _, en = line.partition(" / ")
    return textwrap.wrap(zh, 46) + (textwrap.wrap("/ " + en, 100) if en else [])


def text_page(title: str, blocks: list[tuple[str, list[str], pd.DataFrame | None]]) -> Any:
    """An A4 figure of headings, lines and one small table per block (a PDF page)."""
    from matplotlib import pyplot as plt

    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.06, 0.96, title, fontsize=15, va="top")
    y = 0.92
    for heading, lines, table in blocks:
        fig.text(0.06, y, heading, fontsize=12, color="#1e3f66", va="top")
        y -= 0.03
        for line in lines:
            for part in _wrap(line):
                fig.text(0.07, y, part, fontsize=9, va="top")
                y -= 0.02
        if table is not None and not table.empty:
            shown = table.head(16).astype(str).map(lambda v: v[:16])
            height = 0.022 * (len(shown) + 1)
            ax = fig.add_axes([0.06, y - height, 0.88, height])
            ax.axis("off")
            grid = ax.table(
                cellText=shown.to_numpy(), colLabels=list(shown.columns), loc="upper left", cellLoc="left"
            )
            grid.auto_set_font_size(False)
            grid.set_fontsize(6.5)
            y -= height + 0.03
    return fig


def _text_page(pdf: Any, title: str, blocks: list[tuple[str, list[str], pd.DataFrame | None]]) -> None:
    """Add a text page to the PDF."""
    from matplotlib import pyplot as plt

    fig = text_page(title, blocks)
    pdf.savefig(fig)
    plt.close(fig)


def render_pdf(d: MonthData, figs: dict[str, Any], path: Path, title: str) -> None:
    """The PDF report: a summary page, chart pages and table pages (matplotlib PdfPages, CJK font embedded)."""
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    lines = _summary_lines(d)
    tables = _tables(d)
    with PdfPages(path, metadata={"Title": title, "Creator": "ggzy-hub"}) as pdf:
        key = pd.DataFrame(
            {"指标 figure": list(d.figures), "数值 value": [str(v) for v in d.figures.values()]}
        )
        _text_page(
            pdf, title, [*((h, lines[h], None) for h in SECTIONS), ("关键指标 / key figures", [], key)]
        )
        for name, heading in (("basics", SECTIONS[0]), ("price", SECTIONS[1]), ("market", SECTIONS[2]),
                              ("efficiency", SECTIONS[3]), ("alerts", SECTIONS[4])):  # fmt: skip
            fig = figs[name]
            fig.suptitle(heading, fontsize=13, x=0.02, ha="left")
            pdf.savefig(fig, bbox_inches="tight")
            plt.close(fig)
        _text_page(pdf, f"{title}（续）", [
            (SECTIONS[2] + " 中标金额前十", [], tables["winners"]),
            (SECTIONS[4] + " 报警（前12条）", [], tables["alerts"]),
            ("重点关注名单变动", [], tables["watch"]),
        ])  # fmt: skip
        _text_page(pdf, f"{title}（续）", [(SECTIONS[5], lines[SECTIONS[5]], tables["delivery"])])


@dataclass
class ReportFiles:
    """Where a monthly report was written and what it hashes to."""

    html: Path
    pdf: Path
    html_sha256: str
    pdf_sha256: str
    figures: dict[str, Any]
    report_id: int | None = None
    outbox_rows: int = 0


def write_monthly_report(engine: sa.Engine, settings: Settings, month: str, out: Path | None = None, *,
                         profile_name: str | None = None, deliver: bool = True) -> ReportFiles:  # fmt: skip
    """Gather, chart and write the month's report (HTML + PDF); record it and deliver it to the report units."""
    from matplotlib import pyplot as plt

    setup_matplotlib()
    data = gather(engine, month)
    place = profile_name or _profile_name()
    title = f"{place}公共资源交易监管月度报告（{month}）"
    out = Path(out) if out else Path(settings.home) / "reports" / month
    out.mkdir(parents=True, exist_ok=True)
    figs = charts(data)
    pngs = {name: _png(fig) for name, fig in figs.items()}
    html = out / f"monthly-report-{month}.html"
    html.write_text(render_html(data, pngs, title), encoding="utf-8")
    pdf = out / f"monthly-report-{month}.pdf"
    render_pdf(data, figs, pdf, title)
    plt.close("all")
    files = ReportFiles(html, pdf, hashlib.sha256(html.read_bytes()).hexdigest(),
                        hashlib.sha256(pdf.read_bytes()).hexdigest(), data.figures)  # fmt: skip
    if deliver:
        _record_and_deliver(engine, settings, month, data.first, files)
    return files


def _profile_name() -> str:
    try:
        from ggzy.jurisdictions import load_profile

        return load_profile().name
    except Exception:  # noqa: BLE001 - a title without the place is still a report
        return ""


def _record_and_deliver(
    engine: sa.Engine, settings: Settings, month: str, first: date, files: ReportFiles
) -> None:
    """supervision.monthly_report row, an ops.batch for the PDF, one delivery event, outbox rows per report unit."""
    from ggzy.delivery.outbox import acknowledgement_due

    base = settings.api_base_url.rstrip("/") if getattr(settings, "api_base_url", None) else ""
    with engine.begin() as conn:
        report_id = conn.scalar(sa.text(
            "INSERT INTO supervision.monthly_report (month, html_path, pdf_path, html_sha256, pdf_sha256, figures)"
            " VALUES (:m, :h, :p, :hs, :ps, CAST(:f AS jsonb)) RETURNING id"
        ), {"m": first, "h": str(files.html), "p": str(files.pdf), "hs": files.html_sha256, "ps": files.pdf_sha256,
            "f": json.dumps(files.figures, default=str)})  # fmt: skip
        batch = conn.scalar(sa.text(
            "INSERT INTO ops.batch (dataset, source, filename, file_format, sha256, byte_size, raw_path, parquet_path,"
            " status, rows_in, rows_loaded, rows_inserted, rows_updated, rows_quarantined, rows_duplicate, finished_at)"
            " VALUES ('monthly_report', 'ggzy.supervision', :f, 'pdf', :h, :n, :p, NULL, 'loaded', 1, 1, 1, 0, 0, 0, now())"
            " ON CONFLICT (dataset, sha256) DO UPDATE SET finished_at = now() RETURNING id"
        ), {"f": files.pdf.name, "h": files.pdf_sha256, "n": files.pdf.stat().st_size, "p": str(files.pdf)})  # fmt: skip
        document = {"month": month, "report_id": report_id, "pdf_sha256": files.pdf_sha256,
                    "html_sha256": files.html_sha256, "figures": files.figures,
                    "links": {"pdf": f"{base}/v1/reports/monthly/{report_id}.pdf",
                              "html": f"{base}/v1/reports/monthly/{report_id}.html"},
                    "files": {"pdf": str(files.pdf), "html": str(files.html)}}  # fmt: skip
        text = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str)
        event = conn.scalar(sa.text(
            "INSERT INTO delivery.event (event_type, record_type, record_id, record_version, batch_id, document,"
            " document_hash) VALUES ('monthly_report.published', 'monthly_report', :id, 1, :b, CAST(:doc AS jsonb),"
            " :hash) RETURNING id"
        ), {"id": report_id, "b": batch, "doc": text, "hash": files.pdf_sha256})  # fmt: skip
        files.outbox_rows = conn.execute(sa.text(
            "INSERT INTO delivery.outbox (event_id, unit_code, status, ack_due)"
            " SELECT :e, u.code, CASE WHEN u.status = 'active' THEN 'pending' ELSE 'disabled' END, :due"
            " FROM delivery.member_unit u WHERE u.role = ANY(:roles) ORDER BY u.code"
            " ON CONFLICT (event_id, unit_code) DO NOTHING"
        ), {"e": event, "due": acknowledgement_due(), "roles": list(REPORT_ROLES)}).rowcount  # fmt: skip
        files.report_id = report_id
