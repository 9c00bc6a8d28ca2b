"""The hash-chained audit log: Python recomputes SQL's hashes, and every kind of tampering is named by row."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ggzy import audit, database
from ggzy.commands.audit import app as audit_app

EVENTS = 6


def _fill(n: int = EVENTS) -> list[int]:
    """Append n varied events through the API role, as the API does."""
    api = database.api_engine()
    seqs = []
    for i in range(1, n + 1):
        seqs.append(
            audit.append(
                api,
                action=f"GET /v1/penalties/{i}",
                actor="纪检干部" if i % 2 else None,
                org_code="JZ-DISC",
                role="oversight",
                token_id="6f1c1a52-7c59-4a8e-9d4c-3d2f0d9e1a0b" if i % 3 else None,
                case_ref=f"JZJ〔2026〕{i}号",
                purpose="核查围标串标线索",
                params={"id": i, "名称": "某公司", "b": [1, 2]},
                row_count=i,
                result_sha256=audit.sha256_hex(str(i).encode()),
                client_addr="127.0.0.1",
            )  # fmt: skip
        )
    return seqs


def _tamper(db: sa.Engine, *statements: str) -> None:
    """Change the log as a superuser would, bypassing the append-only trigger."""
    with db.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(sa.text(statement))


def test_python_hash_equals_sql_hash_for_every_row(db: sa.Engine) -> None:
    assert _fill() == list(range(1, EVENTS + 1))
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM audit.event ORDER BY seq")).mappings().all()
    for row in rows:
        recomputed = audit.row_hash_v1(
            row["seq"], row["occurred_at"], row["actor"], row["org_code"], row["role"], row["token_id"],
            row["case_ref"], row["purpose"], row["action"], row["params"], row["row_count"], row["result_sha256"],
            row["client_addr"], row["prev_hash"],
        )  # fmt: skip
        assert recomputed == row["hash"]
    assert rows[0]["prev_hash"] == audit.GENESIS_HASH
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))
    # params are canonical JSON: sorted keys, no spaces, characters kept.
    assert rows[0]["params"] == '{"b":[1,2],"id":1,"名称":"某公司"}'


def test_row_hash_matches_the_sql_function_with_nulls_and_odd_text(db: sa.Engine) -> None:
    cases = [
        (1, None, None, None, None, None, None, "auth.failed", None, None, None, None),
        (
            42,
            "a\\Nb",
            "ORG",
            "member",
            "6f1c1a52-7c59-4a8e-9d4c-3d2f0d9e1a0b",
            "案\t号",
            "事由\n多行",
            "GET /x",
            "{}",
            0,
            "ab",
            "::1",
        ),
    ]
    with db.connect() as conn:
        for seq, actor, org, role, token, case, purpose, action, params, rows, result, client in cases:
            when = conn.scalar(sa.text("SELECT clock_timestamp()"))
            in_sql = conn.scalar(
                sa.text("SELECT audit.row_hash_v1(:s, :t, :a, :o, :r, CAST(:tok AS uuid), :c, :p, :act, :par,"
                        " CAST(:rows AS bigint), :res, :cl, :prev)"),
                {"s": seq, "t": when, "a": actor, "o": org, "r": role, "tok": token, "c": case, "p": purpose,
                 "act": action, "par": params, "rows": rows, "res": result, "cl": client, "prev": "f" * 64},
            )  # fmt: skip
            in_python = audit.row_hash_v1(
                seq,
                when,
                actor,
                org,
                role,
                token,
                case,
                purpose,
                action,
                params,
                rows,
                result,
                client,
                "f" * 64,
            )
            assert in_python == in_sql


def test_empty_and_intact_chains_verify(db: sa.Engine) -> None:
    empty = audit.verify_chain(db)
    assert empty.ok and empty.events == 0 and empty.head_seq == 0
    _fill()
    result = audit.verify_chain(db, batch_size=2)  # several server-side fetches
    assert result.ok, result.reason
    assert result.events == EVENTS and result.head_seq == EVENTS and result.first_broken_seq is None


@pytest.mark.parametrize(
    ("statements", "first_broken", "problem"),
    [
        pytest.param(
            ["UPDATE audit.event SET row_count = 999 WHERE seq = 3"], 3, "hash_mismatch", id="change-field"
        ),
        pytest.param(
            ["UPDATE audit.event SET case_ref = NULL WHERE seq = 1"], 1, "hash_mismatch", id="null-field"
        ),
        pytest.param(["DELETE FROM audit.event WHERE seq = 4"], 4, "missing_seq", id="delete-middle"),
        pytest.param(["DELETE FROM audit.event WHERE seq = 1"], 1, "missing_seq", id="delete-first"),
        pytest.param(
            [f"DELETE FROM audit.event WHERE seq = {EVENTS}"], EVENTS, "head_mismatch", id="delete-last"
        ),
        pytest.param(
            [
                "UPDATE audit.event SET seq = -1 WHERE seq = 3",
                "UPDATE audit.event SET seq = 3 WHERE seq = 4",
                "UPDATE audit.event SET seq = 4 WHERE seq = -1",
            ],
            3,
            "hash_mismatch",
            id="reorder",
        ),  # fmt: skip
        pytest.param(
            # Rewrite a row and recompute its own hash: caught by the next row's link.
            [
                "UPDATE audit.event SET actor = '别人', hash = audit.row_hash_v1(seq, occurred_at, '别人', org_code, role,"
                " token_id, case_ref, purpose, action, params, row_count, result_sha256, client_addr, prev_hash)"
                " WHERE seq = 2"
            ],
            2,
            "broken_link",
            id="rewrite-with-rehash",
        ),  # fmt: skip
        pytest.param(
            [
                "INSERT INTO audit.event SELECT seq + 1, occurred_at, actor, org_code, role, token_id, case_ref, purpose,"
                f" action, params, row_count, result_sha256, client_addr, layout_version, hash, hash FROM audit.event WHERE seq = {EVENTS}"
            ],
            EVENTS + 1,
            "hash_mismatch",
            id="append-behind-the-function",
        ),  # fmt: skip
        pytest.param(
            ["UPDATE audit.chain_head SET seq = seq - 1"], EVENTS, "head_mismatch", id="head-rolled-back"
        ),
    ],
)
def test_tampering_names_the_first_broken_row(
    db: sa.Engine, statements: list[str], first_broken: int, problem: str
) -> None:
    _fill()
    assert audit.verify_chain(db).ok
    _tamper(db, *statements)
    result = audit.verify_chain(db)
    assert not result.ok
    assert (result.first_broken_seq, result.problem) == (first_broken, problem), result.reason
    assert str(first_broken) in result.reason and str(first_broken) in result.reason_zh


def test_append_only_trigger_refuses_even_the_owner(db: sa.Engine) -> None:
    _fill(1)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit.event"))


def test_verify_and_tail_commands(hub, db: sa.Engine) -> None:
    _fill()
    runner = CliRunner()
    ok = runner.invoke(audit_app, ["verify", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    tail = json.loads(runner.invoke(audit_app, ["tail", "-n", "2", "--json"]).stdout)
    assert [e["seq"] for e in tail] == [EVENTS - 1, EVENTS] and tail[-1][
        "case_ref"
    ] == f"JZJ〔2026〕{EVENTS}号"

    _tamper(db, "UPDATE audit.event SET purpose = '随便看看' WHERE seq = 5")
    broken = runner.invoke(audit_app, ["verify", "--json"])
    assert broken.exit_code == 1 and json.loads(broken.stdout)["first_broken_seq"] == 5


def test_ggzy_audit_verify_exit_code_from_a_fresh_process(hub, db: sa.Engine) -> None:
    """The acceptance check as an operator runs it: the real `ggzy` console script with GGZY_* set."""
    _fill()
    ggzy = shutil.which("ggzy", path=str(Path(sys.executable).parent)) or "ggzy"
    env = {**os.environ, "GGZY_HOME": str(hub.home), "GGZY_DATABASE_URL": hub.database_url}
    intact = subprocess.run([ggzy, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert intact.returncode == 0, intact.stderr
    _tamper(db, "DELETE FROM audit.event WHERE seq = 2")
    broken = subprocess.run([ggzy, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode != 0
    assert "seq 2" in broken.stderr and "missing" in broken.stderr
