"""GET /v1/entities/{uscc}/credit: is the entity restricted (失信惩戒) on a date, by which entries; every read audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import PenaltyReader
from api.errors import error_responses
from ggzy.pipelines.credit import credit_check

router = APIRouter(tags=["credit 失信惩戒"])


class CreditEntry(BaseModel):
    """One list entry (restriction) as the hub holds it; natural persons by masked identifier only."""

    id: int = Field(description="限制记录编号 / restriction record id")
    source: str = Field(
        description="来源名单 / source list: credit_china_dishonest_debtor, serious_dishonesty_list, "
        "exchange_blacklist_302, penalty_decision"
    )
    source_key: str = Field(
        description="名单中的编号（案号、记录编号、黑名单编号、机关/文号）/ the entry's key in its list"
    )
    entity_kind: str = Field(description="organisation | person")
    entity_name: str = Field(description="主体名称 / entity name")
    entity_uscc: str | None = Field(description="统一社会信用代码 / USCC")
    entity_id_masked: str | None = Field(description="自然人证件号（脱敏）/ masked personal ID number")
    basis_document: str | None = Field(description="依据文号 / basis document number")
    basis_unit: str | None = Field(description="认定/作出依据单位 / deciding unit")
    basis_text: str | None = Field(description="列入依据 / basis")
    reason: str | None = Field(description="列入事由 / reason")
    restricted_behaviour: str | None = Field(description="限制行为 / restricted behaviour")
    start_date: date = Field(description="起始日期 / start")
    end_date: date | None = Field(description="截止日期（空为至移出）/ end (empty: until removed)")
    removed_on: date | None = Field(description="移出日期（自该日起不再限制）/ removed with effect from")
    removal_document: str | None = Field(description="移出文书号 / removal document number")
    removal_reason: str | None = Field(description="移出事由 / reason for removal")
    active_from: date = Field(description="限制生效日 / restricted from (inclusive)")
    active_until: date | None = Field(description="限制终止日（不含）/ restricted until (exclusive)")
    version: int = Field(description="版本 / version")
    known_from: datetime = Field(description="本版本为中心所知的时间 / known to the hub since")


class CreditEntity(BaseModel):
    """The entity asked about."""

    key: str | None = Field(description="统一社会信用代码（自然人不显示）/ USCC (not shown for persons)")
    name: str | None = Field(description="名称 / name")
    kind: str | None = Field(description="organisation | person")
    id_masked: str | None = Field(description="自然人证件号（脱敏）/ masked personal ID number")


class CreditAnswer(BaseModel):
    """Restricted on as_of or not, by which entries; entries removed by then; entries that ended."""

    entity: CreditEntity
    as_of: date = Field(description="查询日期 / the day answered for")
    known_on: datetime | None = Field(description="按当时所知（空为当前所知）/ as known at (empty: now)")
    restricted: bool = Field(description="该日是否受限 / restricted on that day")
    restrictions: list[CreditEntry] = Field(description="该日生效的限制 / entries restricting on that day")
    removed: list[CreditEntry] = Field(
        description="该日前已移出的条目 / entries removed on or before that day"
    )
    ended: list[CreditEntry] = Field(description="已到期的条目 / entries whose period ended")


def answer(engine: Any, uscc: str, as_of: date | None, known_on: datetime | None) -> CreditAnswer:
    """The as-of answer as the response model."""
    return CreditAnswer.model_validate(credit_check(engine, uscc, as_of, known_on))


@router.get(
    "/entities/{uscc}/credit",
    response_model=CreditAnswer,
    responses=error_responses(400, 401, 403, 422, 503),
    summary="主体某日是否受失信限制 Is the entity restricted on a date",
)
def entity_credit(
    read: PenaltyReader,
    uscc: Annotated[str, Path(max_length=80, description="统一社会信用代码 / USCC (or P:… key of a person)")],
    as_of: Annotated[
        date | None, Query(description="日期 YYYY-MM-DD（默认今天，北京时间）/ day (default today)")
    ] = None,
    known_on: Annotated[
        datetime | None, Query(description="按当时所知 ISO 8601 / as the hub knew it then")
    ] = None,
) -> Response:
    """Whether restricted on as_of, by which entries, and which were removed; oversight sends case headers. Audited."""
    read.log_params({"uscc": uscc, "as_of": as_of.isoformat() if as_of else None,
                     "known_on": known_on.isoformat() if known_on else None})  # fmt: skip
    result = answer(read.read_engine, uscc, as_of, known_on)
    return read.respond(result, row_count=len(result.restrictions) + len(result.removed) + len(result.ended))
