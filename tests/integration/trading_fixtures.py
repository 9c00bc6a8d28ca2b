"""Tiny hand-made trading records in the national spec (one project, one section, its bids and outcome)."""

from __future__ import annotations

import json
from pathlib import Path

from ggzy.identifiers import id_number_check_char, make_uscc

PLATFORM = make_uscc("12", "410800", "41080A01")
PROJECT = "E4108000000000001"  # 17
TENDER = PROJECT + "001"  # 20
SECTION = TENDER + "001"  # 23
BIDDERS = [make_uscc("91", "410800", f"5{i:07d}") for i in range(1, 5)]
EXPERT_ID = "41080219800101001" + id_number_check_char("41080219800101001")


def common(ts: str) -> dict[str, str]:
    """Fields every record carries."""
    return {"PLATFORM_CODE": PLATFORM, "PUB_SERVICE_PLAT_CODE": PLATFORM, "DATA_TIMESTAMP": ts}


def small_year() -> dict[str, list[dict[str, str | None]]]:
    """Records per dataset code for one section, all valid, in event order."""
    return {
        "500": [
            {
                "PROJECT_CODE": PROJECT,
                "PROJECT_NAME": "示例道路工程",
                "REGION_CODE": "410800",
                "CREATE_TIME": "20250105090000",
                **common("20250105090000"),
            }
        ],
        "501": [
            {
                "PROJECT_CODE": PROJECT,
                "TENDER_PROJECT_CODE": TENDER,
                "TENDER_PROJECT_NAME": "示例道路工程施工",
                "TENDERER_NAME": "示例市交通局",
                "TENDERER_CODE": make_uscc("11", "410800", "00000001"),
                "TENDER_MODE": "1",
                **common("20250106090000"),
            }
        ],
        "502": [
            {
                "TENDER_PROJECT_CODE": TENDER,
                "BID_SECTION_CODE": SECTION,
                "BID_SECTION_NAME": "一标段",
                "CONTRACT_RECKON_PRICE": "500",
                "PRICE_UNIT": "1",
                **common("20250107090000"),
            }
        ],
        "503": [
            {
                "TENDER_PROJECT_CODE": TENDER,
                "BID_SECTION_CODES": SECTION,
                "NOTICE_NAME": "招标公告",
                "NOTICE_SEND_TIME": "20250108090000",
                "BID_OPEN_TIME": "20250201093000",
                **common("20250108090000"),
            }
        ],
        "507": [
            {
                "TENDER_PROJECT_CODE": TENDER,
                "BID_SECTION_CODE": SECTION,
                "BIDDER_NAME": f"投标人{i}",
                "BIDDER_ORG_CODE": code,
                "BID_PRICE": f"{4_800_000 - i * 10_000}",
                "PRICE_UNIT": "0",
                "PRICE_FORM_CODE": "1",
                "IS_LOST": "0",
                **common("20250201093000"),
            }
            for i, code in enumerate(BIDDERS)
        ],
        "508": [
            {
                "BID_SECTION_CODE": SECTION,
                "EXPERT_NAME": "张三",
                "ID_CARD": EXPERT_ID,
                "ID_CARD_TYPE": "1",
                "IS_CHAIR_MAN": "1",
                **common("20250202090000"),
            }
        ],
        "513": [
            {
                "BID_SECTION_CODE": SECTION,
                "WIN_BIDDER_NAME": "投标人0",
                "WIN_BIDDER_CODE": BIDDERS[0],
                "BID_AMOUNT": "480",
                "PRICE_UNIT": "1",
                "NOTICE_SEND_TIME": "20250205090000",
                "PROJECT_LEAD": "李四",
                "PROJECT_LEAD_ID": EXPERT_ID,
                **common("20250205090000"),
            }
        ],
        "512": [
            {
                "BID_SECTION_CODE": SECTION,
                "CONTRACT_NAME": "施工合同",
                "BIDDER_CODE": BIDDERS[0],
                "BIDDER_NAME": "投标人0",
                "CONTRACT_PRICE": "4800000",
                "PRICE_UNIT": "0",
                "CONTRACT_SIGN_TIME": "20250210090000",
                **common("20250210090000"),
            }
        ],
    }


TABLES = {"500": "PROJECT", "501": "TENDER_PROJECT", "502": "SECTION", "503": "TENDER_ANN_QUA_INQUERY_ANN",
          "507": "TENDER_LIST", "508": "BID_EVALUATION_EXPERT", "513": "WIN_RESULT_ANNO",
          "512": "CONTRACT_PERFORMANCE"}  # fmt: skip


def write_json(folder: Path, code: str, records: list[dict], day: str = "20250301") -> Path:
    """Write one dataset's records as a JSON drop file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{TABLES[code]}_{day}.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path
