"""The monthly report: HTML and PDF written with charts and an embedded CJK font, recorded and delivered to the
lead agency, supervising departments, discipline and police units of the profile."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import sqlalchemy as sa
from typer.testing import CliRunner

from ggzy.supervision.report import SECTIONS
from ggzy.supervision.service import run_supervision
from tests.integration.test_supervision import build_rows, sync_jiaozuo


def test_monthly_report_writes_html_and_pdf_and_delivers_it(hub, db, tmp_path) -> None:
    from ggzy.cli import app

    sync_jiaozuo(db)
    build_rows(db, "2025-03")
    run_supervision(hub, db, today=date(2025, 3, 25))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", "monthly", "--month", "2025-03", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    html = (out / "monthly-report-2025-03.html").read_text(encoding="utf-8")
    pdf = (out / "monthly-report-2025-03.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"NotoSansCJKsc" in pdf
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 7  # summary, five chart pages, table pages
    assert "@font-face" in html and "data:font/woff;base64," in html
    for heading in SECTIONS:
        assert heading in html
    assert (
        html.count("data:image/png;base64,") == 5
    )  # basics, price, market (incl. network), efficiency, alerts
    assert "焦作市公共资源交易监管月度报告（2025-03）" in html
    assert "甲建设公司" in html  # top winners table, in Chinese
    with db.connect() as conn:
        report = conn.execute(sa.text("SELECT * FROM supervision.monthly_report")).one()
        units = {r[0] for r in conn.execute(sa.text(
            "SELECT o.unit_code FROM delivery.outbox o JOIN delivery.event e ON e.id = o.event_id"
            " WHERE e.record_type = 'monthly_report' AND e.record_id = :id"), {"id": report.id})}  # fmt: skip
        event_hash = conn.scalar(
            sa.text("SELECT document_hash FROM delivery.event WHERE record_type = 'monthly_report'")
        )
    assert report.figures["sections"] == 4 and report.figures["alerts"] == 2
    assert event_hash == report.pdf_sha256
    # lead agency, the six supervising departments, discipline and police; not audit, centre or credit platform
    assert units == {"JZ-FGW", "JZ-CZ", "JZ-ZJ", "JZ-JT", "JZ-SL", "JZ-ZRZY", "JZ-NYNC", "JZ-JWJW", "JZ-GA"}

    # the link in the delivered document works and returns exactly the delivered bytes (read audited)
    from fastapi.testclient import TestClient

    from ggzy import auth
    from tests.integration.test_supervision import alerts_app

    token, _ = auth.create_token(db, person="钱主任", org_code="JZ-FGW", role="member")
    with TestClient(alerts_app(hub)) as client:
        got = client.get(f"/v1/reports/monthly/{report.id}.pdf", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200 and got.headers["X-Audit-Seq"]
        assert hashlib.sha256(got.content).hexdigest() == report.pdf_sha256
        missing = client.get("/v1/reports/monthly/999.pdf", headers={"Authorization": f"Bearer {token}"})
        assert missing.status_code == 404 and missing.json()["error"] == "unknown_report"
