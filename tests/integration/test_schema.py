"""The foundation migration: USCC check in SQL, the audit append function and the API role's limits."""

import pytest
import sqlalchemy as sa

from ggzy import database
from ggzy.identifiers import uscc_check_digit_ok


@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y43", "91350100M000100Y4Z", "92340602MA2PBMEM24", "91350211M0000XUF46", "00000000000000000X"],
)
def test_sql_uscc_check_agrees_with_python(db: sa.Engine, code: str) -> None:
    with db.connect() as conn:
        in_sql = conn.scalar(sa.text("SELECT coalesce(quality.uscc_check_digit_ok(:c), false)"), {"c": code})
    assert in_sql == uscc_check_digit_ok(code)


def test_api_role_cannot_touch_audit_rows_but_can_append(hub) -> None:
    api = database.api_engine(hub)
    with api.begin() as conn:
        seq = conn.scalar(
            sa.text("SELECT audit.append('officer', 'ORG', 'oversight', NULL, 'CASE-1', 'p', 'GET /x', '{}', 1, 'h', '127.0.0.1')")
        )
    assert seq == 1
    for statement in ("SELECT * FROM audit.event", "DELETE FROM audit.event", "UPDATE audit.chain_head SET seq = 0"):
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            with api.begin() as conn:
                conn.execute(sa.text(statement))
