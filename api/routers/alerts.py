"""/v1/alerts: 402-form project alerts (围标串标, restrictions) and the handling a department feeds back;
/v1/watchlist: the 重点关注对象名单. Every call audited; a member unit sees and handles only its own alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import PenaltyReader, SettingsDep
from api.errors import error_responses
from ggzy.errors import HubError

router = APIRouter(tags=["supervision 智慧监管"])


class Handling(BaseModel):
    """What the supervising department reports back (spec field names of dataset 402)."""

    HANDLED: Literal["0", "1"] = Field(description="是否处理 0 未处理 / 1 已处理 / handled")
    HANDLE_RESULT: str = Field(min_length=1, max_length=2000, description="处理结果 / outcome")


def _unit_scope(read: Any) -> str | None:
    """Member units are limited to the alerts routed to them; oversight and admin see all."""
    return read.principal.org_code if read.principal.role == "member" else None


@router.get(
    "/alerts",
    responses=error_responses(400, 401, 403, 422, 503),
    summary="项目报警（402 格式，含法律依据）/ Project alerts in the 402 form with their legal basis",
)
async def get_alerts(
    read: PenaltyReader,
    handled: Annotated[Literal["0", "1"] | None, Query(description="0 未处理 / 1 已处理")] = None,
    alert_type: Annotated[
        str | None, Query(max_length=40, description="bid_rigging | restricted_bidder | ...")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Newest first; a member unit gets only its own. Audited."""
    from ggzy.supervision.alerts import list_alerts

    unit = _unit_scope(read)
    read.log_params({"handled": handled, "alert_type": alert_type, "limit": limit, "unit": unit})
    rows = await run_in_threadpool(list_alerts, read.engine, unit=unit, handled=handled, alert_type=alert_type,
                                   limit=limit)  # fmt: skip
    return await run_in_threadpool(read.respond, rows, row_count=len(rows))


@router.post(
    "/alerts/{alert_id}/handling",
    responses=error_responses(400, 401, 403, 404, 422, 503),
    summary="反馈报警处理情况 / Feed back how an alert was handled",
)
async def post_handling(
    read: PenaltyReader,
    settings: SettingsDep,
    body: Handling,
    alert_id: Annotated[int, Path(ge=1, description="报警编号 / alert id")],
) -> Response:
    """The routed department (member token) or an admin records HANDLED / HANDLE_RESULT; history kept. Audited."""
    from ggzy.supervision.alerts import list_alerts, record_handling

    read.log_params({"alert_id": alert_id, "HANDLED": body.HANDLED, "HANDLE_RESULT": body.HANDLE_RESULT})
    if read.principal.role == "oversight":
        raise HubError("role_not_allowed", "监督机构只读，不能反馈处理情况", "oversight tokens are read-only here",
                       status_code=403, detail={"role": "oversight"})  # fmt: skip
    unit = _unit_scope(read)
    if unit is not None:
        mine = await run_in_threadpool(list_alerts, read.engine, unit=unit, limit=100000)
        if alert_id not in {a["alert_id"] for a in mine}:
            raise HubError("unknown_alert", f"报警 {alert_id} 不存在或未发送给本单位",
                           f"alert {alert_id} does not exist or was not routed to this unit", status_code=404,
                           detail={"alert_id": alert_id, "unit": unit})  # fmt: skip
    who = f"{read.principal.person} ({read.principal.org_code})"
    result = await run_in_threadpool(record_handling, read.engine, settings, alert_id, body.HANDLED,
                                     body.HANDLE_RESULT, who)  # fmt: skip
    return await run_in_threadpool(read.respond, result, row_count=1)


@router.get(
    "/watchlist",
    responses=error_responses(400, 401, 403, 422, 503),
    summary="重点关注对象名单（列入、移出日期与原因）/ The watch list with reasons and dates",
)
async def get_watchlist(
    read: PenaltyReader,
    current: Annotated[bool, Query(description="只列当前在册 / only current entries")] = False,
) -> Response:
    """Every stay on the list (or only current ones), newest first. Audited."""
    from ggzy.supervision.watchlist import watch_list

    read.log_params({"current": current})
    rows = await run_in_threadpool(watch_list, read.engine, current_only=current)
    return await run_in_threadpool(read.respond, rows, row_count=len(rows))


@router.get(
    "/reports/monthly/{report_id}.{fmt}",
    responses=error_responses(400, 401, 403, 404, 422, 503),
    summary="下载月度报告（PDF 或 HTML）/ Download a monthly report (PDF or HTML)",
)
async def get_monthly_report(
    read: PenaltyReader,
    report_id: Annotated[int, Path(ge=1, description="报告编号 / report id")],
    fmt: Annotated[Literal["pdf", "html"], Path(description="pdf | html")],
) -> Response:
    """The file as delivered (its sha256 is in the delivery event); the read is audited before the bytes leave."""
    import sqlalchemy as sa

    read.log_params({"report_id": report_id, "fmt": fmt})

    def load() -> tuple[bytes, str]:
        with read.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    f"SELECT {fmt}_path AS path, {fmt}_sha256 AS sha FROM supervision.monthly_report WHERE id = :i"
                ),
                {"i": report_id},
            ).first()
        if row is None:
            raise HubError(
                "unknown_report", f"月度报告 {report_id} 不存在", f"monthly report {report_id} does not exist",
                status_code=404, detail={"report_id": report_id},
            )  # fmt: skip
        from pathlib import Path as FilePath

        return FilePath(row.path).read_bytes(), row.sha

    body, sha = await run_in_threadpool(load)
    seq = await run_in_threadpool(read.record, row_count=1, result_sha256=sha)
    media = "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"
    return Response(content=body, media_type=media, headers={"X-Audit-Seq": str(seq)})
