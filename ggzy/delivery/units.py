"""Member units (成员单位) as the delivery tables know them: sync from the profile, enable, disable, secrets.

Choices:
* The jurisdiction profile is the source of names, roles, USCCs and delivery modes; `sync_units` upserts
  them. A unit's signing secret is generated once, at its first sync, and never overwritten by a re-sync.
* Endpoints are not part of the profile (they differ per deployment): `endpoint_for(unit)` supplies one per
  push unit; None keeps whatever endpoint the unit already has. A push unit without an endpoint is not
  pushed to (its rows stay pending and are reported) but can read the pull feed like any unit.
* Units that disappear from the profile are left as they are: what they are owed stays on record and in
  the reports; disable them explicitly if they left the scheme.
* Disabling (by an operator, or by a 410 Gone from the endpoint) sets the unit's pending rows to 'disabled';
  they are reported, never dropped. Enabling re-queues its 'disabled' rows (and by default its 'failed'
  ones) with a fresh retry window, so everything owed is delivered eventually.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ggzy.delivery.webhooks import new_secret
from ggzy.errors import HubError

UNIT_COLUMNS = "code, name, role, uscc, mode, endpoint_url, status, disabled_at, disabled_reason, updated_at"


def sync_units(
    engine: sa.Engine, profile: Any, endpoint_for: Callable[[Any], str | None]
) -> list[dict[str, Any]]:
    """Upsert delivery.member_unit from a jurisdiction profile; returns every unit WITH its secret."""
    rows = []
    for unit in profile.units:
        endpoint = endpoint_for(unit) if unit.delivery == "push" else None
        rows.append(
            {
                "code": unit.code,
                "name": unit.name,
                "role": unit.role,
                "uscc": unit.uscc,
                "mode": unit.delivery,
                "endpoint": endpoint,
                "secret": new_secret(),
            }
        )
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO delivery.member_unit (code, name, role, uscc, mode, endpoint_url, secret)"
                " VALUES (:code, :name, :role, :uscc, :mode, :endpoint, :secret)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role,"
                "   uscc = EXCLUDED.uscc, mode = EXCLUDED.mode,"
                "   endpoint_url = coalesce(EXCLUDED.endpoint_url, delivery.member_unit.endpoint_url),"
                "   updated_at = now()"
            ),
            rows,
        )
    return list_units(engine, with_secrets=True)


def list_units(engine: sa.Engine, *, with_secrets: bool = False) -> list[dict[str, Any]]:
    """Every member unit known to the delivery tables, by code; secrets only when asked for."""
    columns = UNIT_COLUMNS + (", secret" if with_secrets else "")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {columns} FROM delivery.member_unit ORDER BY code")).mappings()
        return [dict(row) for row in rows]


def get_unit(engine: sa.Engine, code: str, *, with_secret: bool = False) -> dict[str, Any]:
    """One member unit; HubError 'unknown_unit' (404) when the delivery tables do not know it."""
    columns = UNIT_COLUMNS + (", secret" if with_secret else "")
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.text(f"SELECT {columns} FROM delivery.member_unit WHERE code = :code"), {"code": code}
            )
            .mappings()
            .first()
        )
    if row is None:
        raise unknown_unit(code)
    return dict(row)


def unit_secret(engine: sa.Engine, code: str) -> str:
    """The unit's signing secret (for configuring the unit's receiver)."""
    return get_unit(engine, code, with_secret=True)["secret"]


def set_endpoint(engine: sa.Engine, code: str, endpoint_url: str | None) -> dict[str, Any]:
    """Point a unit's pushes at endpoint_url (None: stop pushing; the unit can still pull)."""
    with engine.begin() as conn:
        found = conn.execute(
            sa.text(
                "UPDATE delivery.member_unit SET endpoint_url = :url, updated_at = now() WHERE code = :code"
            ),
            {"code": code, "url": endpoint_url},
        ).rowcount
    if not found:
        raise unknown_unit(code)
    return get_unit(engine, code)


def disable_unit(engine: sa.Engine, code: str, reason: str) -> dict[str, Any]:
    """Stop pushing to a unit and set its pending rows to 'disabled' (reported, never dropped)."""
    get_unit(engine, code)  # 404 for an unknown unit
    with engine.begin() as conn:
        rows = disable_unit_in(conn, code, reason)
    return get_unit(engine, code) | {"rows_disabled": rows}


def disable_unit_in(conn: sa.Connection, code: str, reason: str) -> int:
    """disable_unit inside the caller's transaction; returns how many pending rows became 'disabled'."""
    conn.execute(
        sa.text(
            "UPDATE delivery.member_unit SET status = 'disabled', disabled_at = now(), disabled_reason = :reason,"
            " updated_at = now() WHERE code = :code"
        ),
        {"code": code, "reason": reason},
    )
    return conn.execute(
        sa.text(
            "UPDATE delivery.outbox SET status = 'disabled', locked_until = NULL"
            " WHERE unit_code = :code AND status = 'pending'"
        ),
        {"code": code},
    ).rowcount


def enable_unit(engine: sa.Engine, code: str, *, requeue_failed: bool = True) -> dict[str, Any]:
    """Re-activate a unit and re-queue its 'disabled' (and 'failed') rows with a fresh retry window."""
    statuses = ["disabled", "failed"] if requeue_failed else ["disabled"]
    with engine.begin() as conn:
        found = conn.execute(
            sa.text(
                "UPDATE delivery.member_unit SET status = 'active', disabled_at = NULL, disabled_reason = NULL,"
                " updated_at = now() WHERE code = :code"
            ),
            {"code": code},
        ).rowcount
        if not found:
            raise unknown_unit(code)
        requeued = conn.execute(
            sa.text(
                "UPDATE delivery.outbox SET status = 'pending', next_attempt_at = now(), first_attempt_at = NULL,"
                " locked_until = NULL WHERE unit_code = :code AND status = ANY(:statuses)"
            ),
            {"code": code, "statuses": statuses},
        ).rowcount
    return get_unit(engine, code) | {"rows_requeued": requeued}


def unknown_unit(code: str) -> HubError:
    """The 404 for a unit code the delivery tables do not know."""
    return HubError(
        "unknown_unit",
        f"成员单位 {code} 不存在（先运行 ggzy units sync）",
        f"member unit {code} is not known to the hub (run `ggzy units sync` first)",
        status_code=404,
        detail={"unit": code},
    )
