"""The datasets of the national 公共资源交易平台系统数据规范 the stand-in serves (data-standards.md §3).

Field names are the spec's own (upper case, with its spellings such as REVOCATIONEASONS and
BID_DOCUMENT_SIDE). Every record also carries PLATFORM_CODE, PUB_SERVICE_PLAT_CODE and DATA_TIMESTAMP;
engineering datasets (500-519) carry TRADE_PLAT and PUB_SERVICE_PLAT too.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMON_FIELDS = ("PLATFORM_CODE", "PUB_SERVICE_PLAT_CODE", "DATA_TIMESTAMP")
ENGINEERING_FIELDS = ("TRADE_PLAT", "PUB_SERVICE_PLAT")


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of the spec: number, table name, natural key, parent link and ordered field names."""

    code: str
    table: str
    key: tuple[str, ...]
    parent: tuple[str, str] | None
    fields: tuple[str, ...]
    title: str = ""

    def key_of(self, record: dict[str, str | None]) -> tuple[str, ...]:
        """The natural key of a record of this dataset, as a tuple of strings."""
        return tuple(record[name] or "" for name in self.key)


def _spec(
    code: str, table: str, title: str, key: tuple[str, ...], parent: tuple[str, str] | None, own: str,
    engineering: bool = False,
) -> DatasetSpec:
    fields = tuple(own.split()) + (ENGINEERING_FIELDS if engineering else ()) + COMMON_FIELDS
    return DatasetSpec(code, table, key, parent, fields, title)


DATASETS: dict[str, DatasetSpec] = {
    spec.code: spec
    for spec in (
        _spec("500", "PROJECT", "项目", ("PROJECT_CODE",), None,
              "PROJECT_CODE PROJECT_NAME REGION_CODE INVEST_PROJECT_CODE LEGAL_PERSON INDUSTRIES_TYPE "
              "FUND_SOURCE CREATE_TIME", engineering=True),
        _spec("501", "TENDER_PROJECT", "招标项目", ("TENDER_PROJECT_CODE",), ("500", "PROJECT_CODE"),
              "PROJECT_CODE TENDER_PROJECT_CODE TENDER_PROJECT_NAME TENDER_PROJECT_TYPE REGION_CODE TENDERER_NAME "
              "TENDERER_CODE TENDER_AGENCY_NAME TENDER_AGENCY_CODE TENDER_MODE SUPERVISE_DEPT_NAME "
              "SUPERVISE_DEPT_CODE CREATE_TIME", engineering=True),
        _spec("502", "SECTION", "标段(包)", ("BID_SECTION_CODE",), ("501", "TENDER_PROJECT_CODE"),
              "TENDER_PROJECT_CODE BID_SECTION_CODE BID_SECTION_NAME CONTRACT_RECKON_PRICE PRICE_UNIT "
              "CURRENCY_CODE REGION_CODE CREATE_TIME", engineering=True),
        _spec("503", "TENDER_ANN_QUA_INQUERY_ANN", "招标公告", ("TENDER_PROJECT_CODE", "NOTICE_NAME"),
              ("501", "TENDER_PROJECT_CODE"),
              "TENDER_PROJECT_CODE BID_SECTION_CODES NOTICE_NAME NOTICE_SEND_TIME DOC_GET_START_TIME "
              "DOC_GET_END_TIME BID_DOC_REFER_END_TIME BID_OPEN_TIME URL", engineering=True),
        _spec("507", "TENDER_LIST", "投标人名单/开标明细", ("BID_SECTION_CODE", "BIDDER_ORG_CODE"),
              ("502", "BID_SECTION_CODE"),
              "TENDER_PROJECT_CODE BID_SECTION_CODE BIDDER_NAME BIDDER_ORG_CODE BIDDER_CODE_TYPE BIDDER_ROLE "
              "IS_LOST BID_MANAGER PM_CODE IS_COMMIT_MARGIN MARGIN_PAY_FORM MARGIN_RECEIVE_TIME BID_PRICE "
              "PRICE_UNIT PRICE_FORM_CODE OTHER_BID_PRICE", engineering=True),
        _spec("508", "BID_EVALUATION_EXPERT", "评标专家", ("BID_SECTION_CODE", "ID_CARD"),
              ("502", "BID_SECTION_CODE"),
              "BID_SECTION_CODE EXPERT_NAME ID_CARD ID_CARD_TYPE EXPERT_TYPE IS_CHAIR_MAN", engineering=True),
        _spec("510", "TENDER_CANDIDATE", "中标候选人", ("BID_SECTION_CODE", "BIDDER_CODE"),
              ("502", "BID_SECTION_CODE"),
              "BID_SECTION_CODE BIDDER_NAME BIDDER_CODE RANK EVALUATION_PRICE WIN_PRICE PRICE_UNIT",
              engineering=True),
        _spec("512", "CONTRACT_PERFORMANCE", "合同", ("BID_SECTION_CODE", "CONTRACT_NAME"),
              ("502", "BID_SECTION_CODE"),
              "BID_SECTION_CODE CONTRACT_NAME TENDERER_CODE BIDDER_NAME BIDDER_CODE CONTRACT_PRICE PRICE_UNIT "
              "CONTRACT_SIGN_TIME SETTLE_PRICE PERFORM_CHANGE_CONTENT FINISH_TIME", engineering=True),
        _spec("513", "WIN_RESULT_ANNO", "中标结果公告", ("BID_SECTION_CODE",), ("502", "BID_SECTION_CODE"),
              "BID_SECTION_CODE WIN_BIDDER_NAME WIN_BIDDER_CODE BID_AMOUNT PRICE_UNIT NOTICE_SEND_TIME "
              "PROJECT_LEAD PROJECT_LEAD_ID", engineering=True),
        _spec("519", "BID_DOC_CHARACT_CODE", "投标文件特征码", ("BID_SECTION_CODE", "BIDDER_ORG_CODE"),
              ("502", "BID_SECTION_CODE"),
              "BID_SECTION_CODE BIDDER_NAME BIDDER_ORG_CODE BID_DOCUMENT_NAME BID_DOCUMENT_SIDE BID_DOCUMENT_MD5 "
              "TENDER_DOC_SUBMITTIME CPU_ID HARD_DISK_SERIAL_NUMBER MEMORY_SERIAL_NUMBER NET_ID MAC_ADDRESS "
              "VALUATION_XML MAKE_TOOL_XML", engineering=True),
        _spec("9010", "BIDDER_MAKE_TOOL_INFO", "投标文件制作工具固化特征码", ("BID_SECTION_CODE", "BIDDER_ORG_CODE"),
              ("502", "BID_SECTION_CODE"),
              "BID_SECTION_CODE BIDDER_ORG_CODE SUBMITTIME CPU_ID HARD_DISK_SERIAL_NUMBER MEMORY_SERIAL_NUMBER "
              "NET_ID MAC_ADDRESS TOOL_VERSION"),
        _spec("9011", "BIDDER_MARGIN_INFO", "投标保证金缴纳信息", ("BID_SECTION_CODE", "BIDDER_ORG_CODE"),
              ("502", "BID_SECTION_CODE"),
              "BID_SECTION_CODE BIDDER_ORG_CODE MARGIN_PAY_FORM MARGIN_RECEIVE_TIME MARGIN_BANK MARGIN_ACCOUNT "
              "MARGIN_PAY"),
        _spec("302", "BLACK_LIST", "黑名单信息", ("BLACKLIST_CODE",), None,
              "BLACKLIST_CODE BODY_NAME BODY_CODE BODY_TYPE RECORD_REASON RECORD_DATE GOVERNMENT DOCUMENT_CODE "
              "REVOCATION_STATUS CONFINED_ACTION"),
        _spec("303", "WITHDRAW_BLACK_LIST", "撤销黑名单信息", ("BLACKLIST_CODE",), ("302", "BLACKLIST_CODE"),
              "BLACKLIST_CODE BODY_CODE REVOCATIONEASONS GOVERNMENT DOCUMENT_CODE APPLICATION_DATE"),
        _spec("402", "PROJECT_ALERTING_INFO", "项目报警信息", ("BID_SECTION_CODE", "ALERT_DATE", "BODY_CODE"),
              ("502", "BID_SECTION_CODE"),
              "TENDER_PROJECT_CODE BID_SECTION_CODE BODY_NAME BODY_CODE SUPERVISOR_UNIT_NAME SUPERVISORY_NODE "
              "ALERT_LEVEL ALERT_DATE ALERT_INFO HANDLED HANDLE_RESULT"),
        _spec("404", "COMPLAINT_INFO", "投诉信息", ("BID_SECTION_CODE", "COMPLAINT_DATE", "COMPLAINTED_BODY_CODE"),
              ("502", "BID_SECTION_CODE"),
              "TENDER_PROJECT_CODE BID_SECTION_CODE COMPLAINT_NAME COMPLAINT_PHONE COMPLAINT_MAIL "
              "COMPLAINTED_BODY_NAME COMPLAINTED_BODY_CODE COMPLAINT_CONTENT COMPLAINT_DATE ACCEPT_DATE "
              "HANDLE_RESULT HANDLE_DATE DEALING_UNIT"),
    )
}  # fmt: skip

TABLES: dict[str, str] = {spec.table: code for code, spec in DATASETS.items()}

# Columns that hold long text (TEXT rather than VARCHAR when seeded into a database).
LONG_FIELDS = frozenset(
    "VALUATION_XML MAKE_TOOL_XML COMPLAINT_CONTENT ALERT_INFO HANDLE_RESULT RECORD_REASON CONFINED_ACTION "
    "PERFORM_CHANGE_CONTENT REVOCATIONEASONS URL BID_SECTION_CODES PROJECT_NAME TENDER_PROJECT_NAME "
    "BID_SECTION_NAME NOTICE_NAME CONTRACT_NAME BID_DOCUMENT_NAME".split()
)
