"""Validation of staged penalty batches with the Great Expectations suite, on a real PostgreSQL.

Rows with known faults go straight into raw.penalty_row (after an ops.batch row); the test asserts the
exact set of rule names each source row fails. The pandas and SQL implementations of the custom
expectations are checked to agree value by value.
"""

from __future__ import annotations

import os
import uuid

os.environ["GX_ANALYTICS_ENABLED"] = "False"

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from connectors.penalties import PENALTY_FIELDS  # noqa: E402
from ggzy.errors import HubError  # noqa: E402
from ggzy.identifiers import USCC_PLACEHOLDER, make_uscc  # noqa: E402
from quality.expectations import (  # noqa: E402
    ExpectColumnValuesToBeIsoDates,
    ExpectColumnValuesToHaveValidIdNumberCheckDigit,
    ExpectColumnValuesToHaveValidUsccCheckDigit,
)
from quality.rules import RULES  # noqa: E402
from quality.runner import validate_penalty_batch  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:You are using a generic SQLDatasource")

AUTHORITY = "11230500001755309F"  # 双鸭山市公安局 (data-standards §2)
GOOD = {
    "cf_xdr_mc": "双鸭山智慧城市运营有限公司", "cf_xdr_lb": "法人及非法人组织", "cf_xdr_shxym": "91230500MA1B3N1N2M",
    "cf_wfxw": "违反治安管理", "cf_sy": "违法事实", "cf_yj": "《治安管理处罚法》", "cf_cflb": "罚款",
    "cf_nr": "罚款2000元", "cf_nr_fk": "0.2", "cf_jdrq": "2019-10-10", "cf_yxq": "2019-10-17",
    "cf_gsjzq": "2020-10-17", "cf_cfjg": "双鸭山市公安局", "cf_cfjgdm": AUTHORITY, "cf_sjly": "双鸭山市公安局",
    "cf_sjlydm": AUTHORITY,
}  # fmt: skip


def stage(db: sa.Engine, rows: list[tuple[int, str, dict]]) -> str:
    """An ops.batch row plus the given (source_row, source_format, fields) rows in raw.penalty_row."""
    batch_id = str(uuid.uuid4())
    columns = ", ".join(PENALTY_FIELDS)
    values = ", ".join(f":{f}" for f in PENALTY_FIELDS)
    with db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO ops.batch (id, dataset, source, sha256, byte_size, raw_path)"
                " VALUES (:id, 'penalties', 'test', :id, 0, '-')"
            ),
            {"id": batch_id},
        )
        conn.execute(
            sa.text(
                f"INSERT INTO raw.penalty_row (batch_id, source_row, source_format, {columns})"
                f" VALUES (:batch_id, :source_row, :source_format, {values})"
            ),
            [
                {
                    "batch_id": batch_id,
                    "source_row": n,
                    "source_format": fmt,
                    **{f: row.get(f) for f in PENALTY_FIELDS},
                }
                for n, fmt, row in rows
            ],
        )
    return batch_id


def row(n: int, **changes: str | None) -> dict:
    """The good row with its own decision number (unique per authority), changed as given."""
    return {**GOOD, "cf_wsh": f"公(治)决字【2019】{n}号", **changes}


CASES: dict[int, tuple[str, dict, set[str]]] = {
    2: ("current", row(2), set()),
    3: ("current", row(3, cf_xdr_shxym="91350211M0000XUF46"), {"uscc_check_digit:cf_xdr_shxym"}),
    4: (
        "current",
        row(4, cf_xdr_lb="个体工商户", cf_xdr_shxym=USCC_PLACEHOLDER, cf_xdr_gszc="230502600012345"),
        set(),
    ),
    5: (
        "current",
        row(5, cf_xdr_lb="个体工商户", cf_xdr_shxym=USCC_PLACEHOLDER),
        {"placeholder_needs_business_reg"},
    ),
    6: ("legacy", row(6, cf_yxq=None, cf_sjly="", cf_sjlydm=None, cf_xdr_lb=None), set()),
    7: ("current", row(7, cf_yxq=""), {"required:cf_yxq"}),
    8: ("current", row(8, cf_cflb="警告;罚款"), set()),
    9: ("current", row(9, cf_cflb="警告；罚款、没收违法所得", cf_nr_wfff="1.5"), set()),
    10: ("current", row(10, cf_cflb="警告;训诫"), {"vocabulary:cf_cflb"}),
    11: ("current", row(11, cf_jdrq="2019-10-20"), {"date_order:decision_after_validity"}),
    12: ("current", row(12, cf_cflb="警告", cf_nr_fk="-0.2"), {"amount_negative:cf_nr_fk"}),
    13: ("current", row(13, cf_nr_fk=""), {"fine_requires_amount"}),
    14: ("current", row(14, cf_nr_fk="0.00"), {"fine_requires_amount"}),
    15: ("current", row(15, cf_wsh="公(治)决字【2019】99号"), {"decision_no_unique_per_authority"}),
    16: (
        "current",
        row(16, cf_wsh="公(治)决字【2019】99号", cf_nr="罚款3000元", cf_nr_fk="0.3"),
        {"decision_no_unique_per_authority"},
    ),
    17: ("current", row(17, cf_xdr_lb="自然人", cf_xdr_shxym=None), {"id_number_required_for_person"}),
    18: (
        "current",
        row(18, cf_xdr_lb="自然人", cf_xdr_shxym=None, cf_xdr_zjhm="110105194912310021"),
        {"id_number_check_digit:cf_xdr_zjhm"},
    ),
    19: ("current", row(19, cf_xdr_lb="自然人", cf_xdr_shxym=None, cf_xdr_zjhm="3301**********1234"), set()),
    20: ("current", row(20, cf_jdrq="2019-02-30"), {"date_format:cf_jdrq"}),
    21: ("current", row(21, cf_wsh=""), {"required:cf_wsh"}),
    22: ("current", row(22, cf_cfjgdm="1123050000175530"), {"uscc_format:cf_cfjgdm"}),
    23: ("current", row(23, cf_cfjgdm=USCC_PLACEHOLDER), {"uscc_format:cf_cfjgdm"}),
    24: ("current", row(24, cf_xdr_shxym=None), {"uscc_required_for_organisation"}),
    25: ("current", row(25, cf_xdr_lb="企业"), {"vocabulary:cf_xdr_lb"}),
    26: (
        "current",
        row(26, cf_jdrq="2099-01-01", cf_yxq="2099-12-31", cf_gsjzq="2099-12-31"),
        {"date_future:cf_jdrq"},
    ),
    27: ("current", row(27, cf_nr_fk="2千"), {"amount_format:cf_nr_fk"}),
    28: ("current", row(28, cf_gsjzq="2019-10-01"), {"date_order:publicity_before_decision"}),
    29: ("current", row(29, cf_xdr_shxym=make_uscc("N2", "230500", "MA1B3N1N")), set()),
    30: (
        "current",
        row(30, cf_xdr_mc="", cf_sy=None, cf_xdr_shxym="9123050OMA1B3N1N2M"),
        {"required:cf_xdr_mc", "required:cf_sy", "uscc_format:cf_xdr_shxym"},
    ),
    31: ("legacy", row(31, cf_yxq=None, cf_wfxw=None), {"required:cf_wfxw"}),
}


def test_each_row_fails_exactly_its_rules(db: sa.Engine) -> None:
    """Known faults map to exactly the expected rule names; clean rows fail nothing."""
    batch_id = stage(db, [(n, fmt, fields) for n, (fmt, fields, _) in CASES.items()])

    outcome = validate_penalty_batch(db, batch_id)

    got = {n: {f.rule for f in outcome.failures.get(n, [])} for n in CASES}
    expected = {n: rules for n, (_, _, rules) in CASES.items()}
    assert got == expected
    assert set(outcome.failures) <= set(CASES)
    assert outcome.expectations_run == len(RULES) and outcome.gx_success is False and outcome.run_seconds > 0


def test_warnings_load_errors_quarantine_and_messages_name_field_and_value(db: sa.Engine) -> None:
    """Checksum-only failures are warnings (row not an error row); messages carry label and value, masked IDs."""
    batch_id = stage(db, [(n, fmt, fields) for n, (fmt, fields, _) in CASES.items()])

    outcome = validate_penalty_batch(db, batch_id)

    assert 3 not in outcome.error_rows() and outcome.warning_rules(3) == ["uscc_check_digit:cf_xdr_shxym"]
    assert 18 not in outcome.error_rows() and outcome.warning_rules(18) == [
        "id_number_check_digit:cf_xdr_zjhm"
    ]
    assert {5, 10, 11, 12, 13, 15, 16, 20, 21} <= outcome.error_rows()
    assert outcome.error_rows().isdisjoint({2, 3, 4, 6, 8, 9, 18, 19, 29})

    (checksum,) = outcome.failures[3]
    assert (checksum.severity, checksum.field, checksum.value) == (
        "warning",
        "cf_xdr_shxym",
        "91350211M0000XUF46",
    )
    assert "统一社会信用代码" in checksum.zh and "91350211M0000XUF46" in checksum.zh
    assert "credit code" in checksum.en and "91350211M0000XUF46" in checksum.en

    (person,) = outcome.failures[18]
    assert person.value == "1101**********0021" and "110105194912310021" not in person.zh + person.en

    (order,) = outcome.failures[11]
    assert order.value == "2019-10-20" and "2019-10-17" in order.zh and "2019-10-17" in order.en

    (duplicate,) = outcome.failures[15]
    assert duplicate.field == "cf_wsh" and "16" in duplicate.en and AUTHORITY in duplicate.zh

    (missing,) = outcome.failures[21]
    assert missing.value is None and "行政处罚决定书文号" in missing.zh and "（空）" not in missing.zh


def test_every_failing_row_is_reported_beyond_gx_default_limits(db: sa.Engine) -> None:
    """GX keeps 20 (map) or 200 (SQL) unexpected rows by default; a batch must get all of them back."""
    rows = [(n, "current", row(n, cf_cflb="训诫", cf_nr=None)) for n in range(2, 302)]
    batch_id = stage(db, rows)

    outcome = validate_penalty_batch(db, batch_id)

    by_rule: dict[str, set[int]] = {}
    for n, failures in outcome.failures.items():
        for f in failures:
            by_rule.setdefault(f.rule, set()).add(n)
    assert by_rule == {"vocabulary:cf_cflb": set(range(2, 302)), "required:cf_nr": set(range(2, 302))}


def test_batches_are_validated_separately(db: sa.Engine) -> None:
    """Only the requested batch's rows are read, also when another batch shares decision numbers."""
    first = stage(db, [(2, "current", row(2, cf_cflb="训诫"))])
    second = stage(db, [(2, "current", row(2)), (3, "current", row(3, cf_xdr_mc=None))])

    assert {n: [f.rule for f in fs] for n, fs in validate_penalty_batch(db, second).failures.items()} == {
        3: ["required:cf_xdr_mc"]
    }
    assert {n: [f.rule for f in fs] for n, fs in validate_penalty_batch(db, first).failures.items()} == {
        2: ["vocabulary:cf_cflb"]
    }


def test_a_rule_that_cannot_run_fails_the_validation(db: sa.Engine) -> None:
    """Fail closed: if an expectation errors inside PostgreSQL, no row is passed as valid."""
    batch_id = stage(db, [(2, "current", row(2))])
    with db.begin() as conn:
        conn.execute(sa.text("DROP FUNCTION quality.uscc_check_digit_ok(text)"))

    with pytest.raises(HubError) as caught:
        validate_penalty_batch(db, batch_id)
    assert caught.value.code == "validation_error" and "uscc_check_digit" in caught.value.en


# --- the pandas and SQL implementations of the custom expectations agree -----------------------------

USCC_CODES = [
    # valid (data-standards §1)
    "91350100M000100Y43", "91110000600037341L", "121200004013590816", "91310115MA1K3BTP2B",
    "9144030071526726XG", "92340602MA2PBMEM24", "11230500001755309F", "91230500MA1B3N1N2M",
    # valid, starting with A / N / Y (python-stdnum rejects these)
    make_uscc("A1", "110000", "MA01K3BT"), make_uscc("N2", "230500", "MA1B3N1N"), make_uscc("Y1", "440300", "08765432"),
    # the 个体工商户 placeholder: "no code", accepted by the check-digit rule
    USCC_PLACEHOLDER,
    # wrong check character
    "91350100M000100Y44", "91350211M0000XUF46", "11230500001755309E",
    # not USCC-shaped: the format rule's business, passed by the check-digit rule
    "91350100M000100Y4Z", "91350100M000100Y4", "9135010OM000100Y43", "91350100m000100y43", "abc",
]  # fmt: skip
ID_NUMBERS = [
    "11010519491231002X",
    "44011320141005001X",
    "360426199101010071",
    "11010519491231002x",
    "110105194912310021",
    "360426199101010072",
    "3301**********1234",
    "110105491231002",
    "E12345678",
]
DATES = [
    "2019-10-10", "2024-02-29", "2000-02-29", "2099-12-31", "2023-02-29", "1900-02-29", "2019-02-30",
    "2019-04-31", "2019-13-01", "2019-00-10", "2019-10-00", "0000-01-01", "2019/10/10", "20191010",
    "2019-1-10", "2019-10-1x", "长期",
]  # fmt: skip


def _failing_values(batch, expectation) -> set[str]:
    """The values an expectation rejects on one batch, read from its COMPLETE result."""
    result = batch.validate(
        expectation, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["code"]}
    )
    assert "element_count" in result.result, result.exception_info  # it ran (no metric raised)
    return {r["code"] for r in result.result.get("unexpected_index_list") or []}


@pytest.mark.parametrize(
    ("expectation_class", "values"),
    [
        (ExpectColumnValuesToHaveValidUsccCheckDigit, USCC_CODES),
        (ExpectColumnValuesToHaveValidIdNumberCheckDigit, ID_NUMBERS),
        (ExpectColumnValuesToBeIsoDates, DATES),
    ],
)
def test_pandas_and_sql_implementations_agree(db: sa.Engine, expectation_class, values: list[str]) -> None:
    """The same expectation rejects the same values on a pandas DataFrame and inside PostgreSQL."""
    context = gx.get_context(mode="ephemeral")
    frame = pd.DataFrame({"code": values})
    pandas_batch = (
        context.data_sources.add_pandas("frames")
        .add_dataframe_asset("codes")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    literal = ", ".join("(" + "'" + v.replace("'", "''") + "')" for v in values)
    sql_batch = (
        context.data_sources.add_sql(
            "warehouse", connection_string=db.url.render_as_string(hide_password=False)
        )
        .add_query_asset("codes", query=f"SELECT code FROM (VALUES {literal}) AS t(code)")
        .add_batch_definition_whole_table("all")
        .get_batch()
    )
    expectation = expectation_class(column="code")

    in_pandas = _failing_values(pandas_batch, expectation)
    in_sql = _failing_values(sql_batch, expectation)

    assert in_pandas == in_sql
    assert in_pandas  # each list holds values the rule must reject ...
    assert set(values) - in_pandas  # ... and values it must accept


def test_expectations_reject_the_documented_cases(db: sa.Engine) -> None:
    """Spot checks against data-standards §1: which codes, IDs and dates the expectations reject."""
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("frames").add_dataframe_asset("codes")
    definition = asset.add_batch_definition_whole_dataframe("all")

    def rejected(expectation, values):
        batch = definition.get_batch(batch_parameters={"dataframe": pd.DataFrame({"code": values})})
        return _failing_values(batch, expectation)

    uscc = ExpectColumnValuesToHaveValidUsccCheckDigit(column="code")
    assert rejected(uscc, USCC_CODES) == {"91350100M000100Y44", "91350211M0000XUF46", "11230500001755309E"}
    ids = ExpectColumnValuesToHaveValidIdNumberCheckDigit(column="code")
    assert rejected(ids, ID_NUMBERS) == {"110105194912310021", "360426199101010072"}
    dates = ExpectColumnValuesToBeIsoDates(column="code")
    assert rejected(dates, DATES) == set(DATES) - {"2019-10-10", "2024-02-29", "2000-02-29", "2099-12-31"}
