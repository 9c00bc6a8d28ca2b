"""API bearer tokens: issued once in plaintext, stored only as a sha256 hash, with expiry and revocation."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ggzy import audit
from ggzy.errors import HubError
from ggzy.settings import get_settings

ROLES = ("oversight", "member", "engineer", "admin")
TOKEN_MARK = "ggzy_"
PREFIX_CHARS = 8  # random characters kept after the mark, to recognise a token in lists and logs

_TOKEN_COLUMNS = (
    "id, token_prefix, person, org_code, role, created_at, expires_at, revoked_at, last_used_at, note"
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, the person, their organisation (unit code) and role."""

    token_id: str
    person: str
    org_code: str
    role: str


@dataclass(frozen=True)
class TokenRecord:
    """A stored token as listed: never the token itself, only its prefix."""

    id: str
    prefix: str
    person: str
    org_code: str
    role: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    note: str | None

    @property
    def status(self) -> str:
        """'revoked', 'expired' or 'active'."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= datetime.now(UTC) else "active"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (times as ISO 8601)."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        data["status"] = self.status
        return data


def _record(row: sa.Row) -> TokenRecord:
    return TokenRecord(
        id=str(row.id), prefix=row.token_prefix, person=row.person, org_code=row.org_code, role=row.role,
        created_at=row.created_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
        last_used_at=row.last_used_at, note=row.note,
    )  # fmt: skip


def hash_token(plaintext: str) -> str:
    """The stored form of a token: sha256 hex of its UTF-8 text."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def token_prefix(plaintext: str) -> str:
    """The part of a token that may be shown and logged: the mark plus its first random characters."""
    return plaintext[: len(TOKEN_MARK) + PREFIX_CHARS]


def create_token(
    engine: sa.Engine,
    *,
    person: str,
    org_code: str,
    role: str,
    ttl_days: int | None = None,
    note: str | None = None,
    issued_by: str | None = None,
) -> tuple[str, TokenRecord]:
    """Issue a token; returns the plaintext (shown once, never stored) and the stored record."""
    if role not in ROLES:
        raise HubError(
            "invalid_role",
            f"角色“{role}”无效，应为 {' / '.join(ROLES)} 之一",
            f"role '{role}' is not one of {', '.join(ROLES)}",
            detail={"field": "role", "value": role, "allowed": list(ROLES)},
        )
    if not org_code or not org_code.strip() or not person or not person.strip():
        raise HubError(
            "invalid_token_request",
            "签发令牌需要单位代码和人员姓名",
            "a token needs an organisation code and a person",
            detail={"org_code": org_code, "person": person},
        )
    ttl_days = get_settings().token_ttl_days if ttl_days is None else ttl_days
    if ttl_days <= 0:
        raise HubError(
            "invalid_ttl",
            f"有效期天数必须为正数（收到 {ttl_days}）",
            f"expiry days must be positive (got {ttl_days})",
        )
    plaintext = TOKEN_MARK + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        row = conn.execute(
            sa.text(
                "INSERT INTO auth.token (token_hash, token_prefix, person, org_code, role, expires_at, note)"
                " VALUES (:hash, :prefix, :person, :org, :role, now() + make_interval(days => :days), :note)"
                f" RETURNING {_TOKEN_COLUMNS}"
            ),
            {"hash": hash_token(plaintext), "prefix": token_prefix(plaintext), "person": person.strip(),
             "org": org_code.strip(), "role": role, "days": ttl_days, "note": note},
        ).one()  # fmt: skip
        record = _record(row)
        audit.append(
            conn, action="token.create", actor=issued_by, token_id=record.id,
            params={"token_id": record.id, "prefix": record.prefix, "person": record.person,
                    "org_code": record.org_code, "role": record.role, "expires_at": record.expires_at.isoformat()},
        )  # fmt: skip
    return plaintext, record


def _token_uuid(token_id: str) -> str:
    try:
        return str(uuid.UUID(str(token_id)))
    except ValueError:
        raise HubError(
            "invalid_token_id", f"令牌编号“{token_id}”格式错误（应为 UUID）", f"token id '{token_id}' is not a UUID",
            detail={"token_id": token_id},
        ) from None  # fmt: skip


def revoke_token(engine: sa.Engine, token_id: str, *, revoked_by: str | None = None) -> TokenRecord:
    """Revoke a token from now on (idempotent: a revoked token keeps its first revocation time)."""
    tid = _token_uuid(token_id)
    with engine.begin() as conn:
        row = conn.execute(
            sa.text(
                "UPDATE auth.token SET revoked_at = coalesce(revoked_at, now()) WHERE id = CAST(:id AS uuid)"
                f" RETURNING {_TOKEN_COLUMNS}"
            ),
            {"id": tid},
        ).one_or_none()
        if row is None:
            raise HubError(
                "token_not_found", f"令牌 {tid} 不存在", f"no token with id {tid}", status_code=404,
                detail={"token_id": tid},
            )  # fmt: skip
        record = _record(row)
        audit.append(conn, action="token.revoke", actor=revoked_by, token_id=tid, params={"token_id": tid})
    return record


def list_tokens(engine: sa.Engine) -> list[TokenRecord]:
    """Every token ever issued, newest first (hashes are never read back)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {_TOKEN_COLUMNS} FROM auth.token ORDER BY created_at DESC, id"))
        return [_record(row) for row in rows]


_FAILURES = {
    "missing": ("token_missing", "缺少访问令牌：请在 Authorization 头中提供 Bearer 令牌",
                "missing access token: send 'Authorization: Bearer <token>'"),
    "unknown": ("token_invalid", "访问令牌无效", "invalid access token"),
    "expired": ("token_expired", "访问令牌已过期，请联系管理员重新签发", "access token expired; ask an administrator for a new one"),
    "revoked": ("token_revoked", "访问令牌已被吊销", "access token has been revoked"),
}  # fmt: skip

# One round trip: look the token up, and touch last_used_at at most once a minute (no write per request).
_AUTH_SQL = sa.text(
    """
    WITH found AS (
        SELECT id, person, org_code, role, expires_at, revoked_at, expires_at <= now() AS expired
        FROM auth.token WHERE token_hash = :hash
    ), touched AS (
        UPDATE auth.token t SET last_used_at = now() FROM found
        WHERE t.id = found.id AND found.revoked_at IS NULL AND NOT found.expired
          AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds')
    )
    SELECT id, person, org_code, role, revoked_at, expired FROM found
    """
)


def authenticate(engine: sa.Engine, plaintext: str | None, *, client_addr: str | None = None) -> Principal:
    """The principal behind a bearer token; raises HubError 401 (and logs the failure) otherwise."""
    row = None
    if plaintext:  # on the API's autocommit engine this is one round trip (no BEGIN/COMMIT)
        with engine.begin() as conn:
            row = conn.execute(_AUTH_SQL, {"hash": hash_token(plaintext)}).one_or_none()
    if row is not None and row.revoked_at is None and not row.expired:
        return Principal(token_id=str(row.id), person=row.person, org_code=row.org_code, role=row.role)
    reason = (
        "missing"
        if not plaintext
        else "unknown"
        if row is None
        else "revoked"
        if row.revoked_at
        else "expired"
    )
    known = (
        {}
        if row is None
        else {"actor": row.person, "org_code": row.org_code, "role": row.role, "token_id": row.id}
    )
    audit.append(
        engine,
        action="auth.failed",
        params={"reason": reason, "token_prefix": token_prefix(plaintext) if plaintext else None},
        client_addr=client_addr,
        **known,
    )
    code, zh, en = _FAILURES[reason]
    raise HubError(code, zh, en, status_code=401, detail={"reason": reason})
