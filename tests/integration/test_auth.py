"""Bearer tokens against the real warehouse: hash-only storage, expiry, revocation, logged failures, CLI."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ggzy import auth, database
from ggzy.commands.users import app as users_app
from ggzy.errors import HubError


def _audit_rows(db: sa.Engine, action: str) -> list[sa.RowMapping]:
    with db.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM audit.event WHERE action = :a ORDER BY seq"), {"a": action}
        ).mappings().all()  # fmt: skip


def test_token_is_stored_only_as_its_hash(db: sa.Engine) -> None:
    token, record = auth.create_token(db, person="张三", org_code="JZ-DISC", role="oversight", note="案件组")
    assert token.startswith("ggzy_") and len(token) > 40
    with db.connect() as conn:
        row = (
            conn.execute(sa.text("SELECT * FROM auth.token WHERE id = CAST(:id AS uuid)"), {"id": record.id})
            .mappings()
            .one()
        )
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["token_prefix"] == token[:13] == record.prefix
    assert all(token not in str(value) for value in row.values()), "the plaintext token must not be stored"
    assert record.status == "active" and record.person == "张三" and record.role == "oversight"
    issued = _audit_rows(db, "token.create")
    assert len(issued) == 1 and token not in issued[0]["params"] and record.id in issued[0]["params"]


def test_authenticate_returns_the_principal_and_touches_last_used(db: sa.Engine) -> None:
    token, record = auth.create_token(db, person="李四", org_code="JZ-HOUSING", role="member")
    principal = auth.authenticate(database.api_engine(), token)
    assert principal == auth.Principal(
        token_id=record.id, person="李四", org_code="JZ-HOUSING", role="member"
    )
    listed = {r.id: r for r in auth.list_tokens(db)}
    assert listed[record.id].last_used_at is not None


@pytest.mark.parametrize("ttl", [0, -3])
def test_non_positive_expiry_is_refused(db: sa.Engine, ttl: int) -> None:
    with pytest.raises(HubError) as err:
        auth.create_token(db, person="x", org_code="ORG", role="member", ttl_days=ttl)
    assert err.value.code == "invalid_ttl"


def test_unknown_role_is_refused_in_both_languages(db: sa.Engine) -> None:
    with pytest.raises(HubError) as err:
        auth.create_token(db, person="x", org_code="ORG", role="superuser")
    assert err.value.code == "invalid_role" and "superuser" in err.value.zh and "superuser" in err.value.en


def test_expired_token_is_refused_and_logged(db: sa.Engine) -> None:
    token, record = auth.create_token(db, person="王五", org_code="JZ-AUDIT", role="oversight", ttl_days=1)
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE auth.token SET expires_at = now() - interval '1 second' WHERE id = CAST(:id AS uuid)"),
                     {"id": record.id})  # fmt: skip
    with pytest.raises(HubError) as err:
        auth.authenticate(database.api_engine(), token, client_addr="10.0.0.7")
    assert err.value.status_code == 401 and err.value.code == "token_expired"
    assert err.value.zh and err.value.en
    failed = _audit_rows(db, "auth.failed")
    assert len(failed) == 1
    params = json.loads(failed[0]["params"])
    assert params == {"reason": "expired", "token_prefix": token[:13]}
    assert failed[0]["client_addr"] == "10.0.0.7" and str(failed[0]["token_id"]) == record.id
    assert token not in failed[0]["params"]


def test_revoked_token_is_refused_and_revocation_is_idempotent(db: sa.Engine) -> None:
    token, record = auth.create_token(db, person="赵六", org_code="JZ-POLICE", role="oversight")
    first = auth.revoke_token(db, record.id)
    again = auth.revoke_token(db, record.id)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at and again.status == "revoked"
    with pytest.raises(HubError) as err:
        auth.authenticate(database.api_engine(), token)
    assert err.value.code == "token_revoked" and err.value.status_code == 401
    assert json.loads(_audit_rows(db, "auth.failed")[0]["params"])["reason"] == "revoked"
    assert len(_audit_rows(db, "token.revoke")) == 2


@pytest.mark.parametrize("candidate", ["ggzy_not-a-real-token-at-all-000000000000000", "", None])
def test_unknown_or_missing_token_is_refused_and_logged(db: sa.Engine, candidate: str | None) -> None:
    with pytest.raises(HubError) as err:
        auth.authenticate(database.api_engine(), candidate, client_addr="127.0.0.1")
    assert err.value.status_code == 401
    params = json.loads(_audit_rows(db, "auth.failed")[0]["params"])
    assert params["reason"] == ("unknown" if candidate else "missing")
    assert params["token_prefix"] == (candidate[:13] if candidate else None)


def test_revoke_unknown_or_malformed_id(db: sa.Engine) -> None:
    with pytest.raises(HubError) as missing:
        auth.revoke_token(db, "00000000-0000-0000-0000-000000000000")
    assert missing.value.status_code == 404
    with pytest.raises(HubError) as malformed:
        auth.revoke_token(db, "not-a-uuid")
    assert malformed.value.code == "invalid_token_id"


def test_users_cli_create_list_revoke(hub, db: sa.Engine) -> None:
    runner = CliRunner()
    created = runner.invoke(users_app, ["create", "--org", "JZ-DISC", "--role", "oversight", "--person", "纪检干部",
                                        "--expires-days", "7", "--note", "专案", "--json"])  # fmt: skip
    assert created.exit_code == 0, created.output
    issued = json.loads(created.stdout)
    assert (
        issued["token"].startswith("ggzy_") and issued["role"] == "oversight" and issued["status"] == "active"
    )
    assert auth.authenticate(database.api_engine(), issued["token"]).person == "纪检干部"

    listed = json.loads(runner.invoke(users_app, ["list", "--json"]).stdout)
    assert [t["id"] for t in listed] == [issued["id"]]
    assert "token" not in listed[0] and issued["token"] not in json.dumps(listed)

    revoked = runner.invoke(users_app, ["revoke", issued["id"], "--json"])
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    bad = runner.invoke(users_app, ["create", "--org", "X", "--role", "root", "--json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["error"] == "invalid_role"
    actors = {row["actor"] for row in _audit_rows(db, "token.create") + _audit_rows(db, "token.revoke")}
    assert len(actors) == 1 and actors.pop().startswith("cli:")
