"""The oversight channel over HTTP against the real warehouse: library, entity profile, SQL, exports, member
scope enforced by PostgreSQL, refusals logged, unmasking, audit of the auditors, rate limits, checkpoints."""

from __future__ import annotations

import hashlib
import io
import json
from urllib.parse import unquote

import httpx
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import test_api
from test_api import (
    CASE,
    DISCIPLINE,
    HOUSING,
    MASKED_ID,
    UNMASKED_ID,
    WATER,
    assert_error,
    bearer,
    event_count,
    last_event,
    seed_penalties,
)
from typer.testing import CliRunner

from ggzy import audit, database
from ggzy.commands.audit import app as audit_app
from ggzy.identifiers import keyed_hash, personal_id_cipher

client, tokens = test_api.client, test_api.tokens  # the live-server client and one token per kind of caller
ORACLE = {"X-Case-Ref": "JZJ-2026-017", "X-Purpose": CASE["X-Purpose"]}


@pytest.fixture
def shared(db: sa.Engine, hub) -> dict:
    """Seeded decisions; decisions 0 and 1 delivered to housing, 2 to water; decision 3 holds a stored ID."""
    seeded = seed_penalties(db)
    ids = seeded["ids"]
    person = ids[3]
    id_hash = keyed_hash(UNMASKED_ID, hub.hub_secret())
    with db.begin() as conn:
        for code, name in ((HOUSING, "住建局"), (WATER, "水利局"), (DISCIPLINE, "纪委监委")):
            conn.execute(sa.text("INSERT INTO delivery.member_unit (code, name, role, mode, secret)"
                                 " VALUES (:c, :n, 'supervising_department', 'pull', 'whsec_secret')"),
                         {"c": code, "n": name})  # fmt: skip
        for penalty_id, unit in ((ids[0], HOUSING), (ids[1], HOUSING), (ids[2], WATER)):
            event = conn.scalar(
                sa.text("INSERT INTO delivery.event (event_type, penalty_id, penalty_version, batch_id, document,"
                        " document_hash) VALUES ('penalty.created', :p, 1, :b, '{}', :h) RETURNING id"),
                {"p": penalty_id, "b": seeded["batch_id"], "h": f"{penalty_id:064d}"},
            )  # fmt: skip
            conn.execute(sa.text("INSERT INTO delivery.outbox (event_id, unit_code) VALUES (:e, :u)"),
                         {"e": event, "u": unit})  # fmt: skip
        conn.execute(sa.text("UPDATE core.penalty_decision SET party_id_hash = :h WHERE id = :id"),
                     {"h": id_hash, "id": person})  # fmt: skip
        conn.execute(sa.text("INSERT INTO protected.personal_id (id_hash, ciphertext) VALUES (:h, :c)"),
                     {"h": id_hash, "c": personal_id_cipher(hub.hub_secret()).encrypt(UNMASKED_ID.encode()).decode()})  # fmt: skip
    return {**seeded, "person": person, "uscc": "91410800MA0000001X"}


def oversight(tokens: dict[str, str]) -> dict[str, str]:
    """Headers of the discipline officer with case and purpose."""
    return bearer(tokens["oversight"], **ORACLE)


def test_library_catalogue_documents_every_view_and_column_in_both_languages(
    client: httpx.Client, shared, tokens
) -> None:
    response = client.get("/v1/library/views", headers=oversight(tokens))
    assert response.status_code == 200, response.text
    views = {v["name"]: v for v in response.json()["views"]}
    assert {"penalty_decisions", "penalty_decision_versions", "member_units", "deliveries", "batches"} <= set(
        views
    )
    for view in views.values():
        texts = [view["comment"], *(c["comment"] for c in view["columns"])]
        for text in texts:
            assert (
                text
                and any("\u4e00" <= ch <= "\u9fff" for ch in text)
                and any(ch.isascii() and ch.isalpha() for ch in text)
            ), (view["name"], text)
    columns = {c["name"] for c in views["penalty_decisions"]["columns"]}
    assert "party_id_masked" in columns and not {"party_id_hash", "legal_rep_id_hash"} & columns
    assert "secret" not in {c["name"] for c in views["member_units"]["columns"]}


def test_entity_profile_answers_everything_about_an_entity(
    client: httpx.Client, db: sa.Engine, shared, tokens
) -> None:
    response = client.get(f"/v1/entities/{shared['uscc']}", headers=oversight(tokens))
    assert response.status_code == 200, response.text
    profile = response.json()
    penalties = profile["sections"]["penalties"]
    assert penalties["available"] is True and [p["id"] for p in penalties["items"]] == [shared["ids"][1]]
    assert profile["names"] == ["河南某某路桥有限公司"]
    for absent in ("bids", "wins", "restrictions", "alerts", "co_bidders"):
        section = profile["sections"][absent]
        if not section["available"]:
            assert section["items"] == [] and section["note"]["zh"] and section["note"]["en"]
    event = last_event(db)
    assert event["action"] == "GET /v1/entities/{uscc}" and json.loads(event["params"]) == {
        "uscc": shared["uscc"]
    }
    assert (
        event["row_count"] == 1
        and event["case_ref"] == "JZJ-2026-017"
        and event["purpose"] == "核查围标串标线索"
    )
    assert event["result_sha256"] == hashlib.sha256(response.content).hexdigest()
    assert event["client_addr"] == "127.0.0.1" and int(response.headers["x-audit-seq"]) == event["seq"]
    bad = client.get("/v1/entities/not-a-uscc-000000", headers=oversight(tokens))
    assert_error(bad, 422, "invalid_request")


def test_search_rows_with_filters_and_paging(client: httpx.Client, db: sa.Engine, shared, tokens) -> None:
    params = {
        "where": ["penalty_categories:eq:罚款", "decision_date:ge:2026-03-01"],
        "order_by": "id",
        "limit": 2,
    }
    first = client.get("/v1/library/views/penalty_decisions/rows", params=params, headers=oversight(tokens))
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2 and page["paging"]["has_more"] is True
    assert all("罚款" in item["penalty_categories"] for item in page["items"])
    rest = client.get(
        "/v1/library/views/penalty_decisions/rows", params={**params, "offset": 2}, headers=oversight(tokens)
    )
    assert len(page["items"]) + len(rest.json()["items"]) == 3  # decisions 1, 3, 5 carry 罚款
    logged = json.loads(last_event(db)["params"])
    assert logged["where"] == params["where"] and logged["offset"] == 2
    assert_error(
        client.get("/v1/library/views/audit_event/rows", headers=oversight(tokens)), 404, "unknown_view"
    )
    bad_value = client.get("/v1/library/views/penalty_decisions/rows", params={"where": "decision_date:ge:not-a-date"},
                           headers=oversight(tokens))  # fmt: skip
    assert_error(bad_value, 400, "invalid_filter_value")
    assert_error(client.get("/v1/library/views/penalty_decisions/rows", params={"where": "nope"},
                            headers=oversight(tokens)), 400, "invalid_filter")  # fmt: skip


def test_free_sql_question_over_the_library(client: httpx.Client, db: sa.Engine, shared, tokens) -> None:
    sql = ("SELECT authority_name, count(*) AS decisions, sum(fine_yuan) AS fines FROM penalty_decisions"
           " GROUP BY authority_name")  # fmt: skip
    response = client.post("/v1/sql", json={"sql": sql}, headers=oversight(tokens))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["name"] for c in body["columns"]] == ["authority_name", "decisions", "fines"]
    assert body["rows"] == [["焦作市住房和城乡建设局", 7, "60000.00"]] and body["truncated"] is False
    event = last_event(db)
    assert event["action"] == "POST /v1/sql" and json.loads(event["params"])["sql"] == sql
    assert event["row_count"] == 1 and event["result_sha256"] == hashlib.sha256(response.content).hexdigest()
    capped = client.post(
        "/v1/sql", json={"sql": "SELECT id FROM penalty_decisions", "max_rows": 3}, headers=oversight(tokens)
    )
    assert capped.json()["row_count"] == 3 and capped.json()["truncated"] is True


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_of_a_whole_view_reads_back_with_the_manifest(
    client: httpx.Client, db: sa.Engine, shared, tokens, fmt: str
) -> None:
    response = client.get(
        "/v1/library/views/penalty_decisions/export", params={"format": fmt}, headers=oversight(tokens)
    )
    assert response.status_code == 200, response.text
    manifest = json.loads(unquote(response.headers["x-export-manifest"]))
    table = (
        pq.read_table(io.BytesIO(response.content))
        if fmt == "parquet"
        else pacsv.read_csv(io.BytesIO(response.content))
    )
    assert table.num_rows == manifest["rows"] == 7 == int(response.headers["x-row-count"])
    assert (
        hashlib.sha256(response.content).hexdigest()
        == manifest["sha256"]
        == response.headers["x-content-sha256"]
    )
    assert manifest["case_ref"] == "JZJ-2026-017" and 'library."penalty_decisions"' in manifest["query"]
    assert "party_id_masked" in table.column_names and "party_id_hash" not in table.column_names
    first = table.sort_by("id").slice(0, 1).to_pylist()[0]
    categories = first["penalty_categories"] if fmt == "parquet" else json.loads(first["penalty_categories"])
    assert (
        categories == ["警告"]
        and first["warnings"] in ([], "[]")
        and first["decision_no"] == "焦建罚〔2026〕1号"
    )
    assert UNMASKED_ID.encode() not in response.content
    if fmt == "parquet":  # typed columns: times exact and in UTC, booleans as booleans
        with db.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT created_at, valid_long_term FROM core.penalty_decision WHERE id = :i"),
                {"i": first["id"]},
            ).one()
        assert (
            first["created_at"] == stored.created_at and first["created_at"].utcoffset().total_seconds() == 0
        )
        assert first["valid_long_term"] is stored.valid_long_term
    event = last_event(db)
    assert event["seq"] == manifest["audit_seq"] and event["row_count"] == 7
    assert event["result_sha256"] == manifest["sha256"] and json.loads(event["params"])["format"] == fmt


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/v1/entities/91410800MA0000001X", None), ("POST", "/v1/sql", {"sql": "SELECT 1"}),
     ("GET", "/v1/library/views/batches/export", None), ("POST", "/v1/unmask", {"penalty_id": 1, "field": "party_id"}),
     ("GET", "/v1/audit/events", None)],
)  # fmt: skip
def test_oversight_requests_without_case_or_purpose_get_400(
    client: httpx.Client, db: sa.Engine, shared, tokens, method: str, path: str, body
) -> None:
    for headers in ({}, {"X-Case-Ref": "JZJ-1"}, {"X-Purpose": "%E6%A0%B8%E6%9F%A5"}):
        response = client.request(method, path, json=body, headers=bearer(tokens["oversight"], **headers))
        assert_error(response, 400, "case_context_required")
        assert json.loads(last_event(db)["params"])["_status"] == 400


def test_member_unit_sees_only_what_is_shared_with_it_even_through_sql(
    client: httpx.Client, shared, tokens
) -> None:
    housing = bearer(tokens["member"])
    ids = shared["ids"]
    rows = client.get(
        "/v1/library/views/penalty_decisions/rows", params={"limit": 500}, headers=housing
    ).json()
    assert sorted(r["id"] for r in rows["items"]) == sorted(ids[:2])

    def sql(text: str, token: str = tokens["member"]) -> httpx.Response:
        return client.post("/v1/sql", json={"sql": text}, headers=bearer(token))

    assert sql("SELECT count(*) FROM penalty_decisions").json()["rows"] == [[2]]
    assert sql("SELECT count(*) FROM penalty_decisions", tokens["member_water"]).json()["rows"] == [[1]]
    assert sql("SELECT count(*) FROM penalty_decisions", tokens["member_discipline"]).json()["rows"] == [[0]]
    assert sql("SELECT DISTINCT unit_code FROM deliveries").json()["rows"] == [[HOUSING]]
    assert sql("SELECT code FROM member_units").json()["rows"] == [[HOUSING]]
    # Trying to rebind the scope from inside a query: settings do not matter, the scope table is not writable.
    escape = sql("SELECT set_config('ggzy.unit', '*', true), (SELECT count(*) FROM penalty_decisions)")
    assert escape.status_code == 200 and escape.json()["rows"][0][1] == 2
    assert_error(
        sql("SELECT oversight.bind_session(pg_backend_pid(), true, NULL, NULL)"), 403, "sql_function_refused"
    )
    assert_error(sql("SELECT * FROM oversight.sql_scope"), 403, "sql_object_refused")
    assert_error(sql("SELECT set_config('role', 'ggzy_api', false)"), 403, "sql_setting_refused")
    profile = client.get(f"/v1/entities/{shared['uscc']}", headers=housing).json()
    assert len(profile["sections"]["penalties"]["items"]) == 1  # decision 1 was delivered to housing
    water = client.get(f"/v1/entities/{shared['uscc']}", headers=bearer(tokens["member_water"])).json()
    assert water["sections"]["penalties"]["items"] == []
    export = client.get(
        "/v1/library/views/penalty_decisions/export", params={"format": "csv"}, headers=housing
    )
    assert int(export.headers["x-row-count"]) == 2
    assert_error(client.get("/v1/library/views", headers=bearer(tokens["engineer"])), 403, "role_not_allowed")


FORBIDDEN = [
    ("DELETE FROM penalty_decisions", 403, "sql_write_refused"),
    ("INSERT INTO batches (id) VALUES (gen_random_uuid())", 403, "sql_write_refused"),
    (
        "WITH gone AS (DELETE FROM core.penalty_decision RETURNING 1) SELECT * FROM gone",
        403,
        "sql_object_refused",
    ),
    ("SELECT lo_from_bytea(0, 'x')", 403, "sql_write_refused"),
    ("SELECT * FROM audit.event", 403, "sql_object_refused"),
    ("SELECT * FROM auth.token", 403, "sql_object_refused"),
    ("SELECT * FROM raw.penalty_row", 403, "sql_object_refused"),
    ("SELECT * FROM quality.quarantine_row", 403, "sql_object_refused"),
    ("SELECT * FROM protected.personal_id", 403, "sql_object_refused"),
    ("SELECT * FROM core.penalty_decision", 403, "sql_object_refused"),
    ("SELECT pg_read_file('/etc/passwd')", 403, "sql_function_refused"),
    ("SELECT lo_import('/etc/passwd')", 403, "sql_function_refused"),
    ("SELECT dblink('host=127.0.0.1', 'SELECT 1')", 403, "sql_function_refused"),
    ("SET ROLE ggzy_api", 403, "sql_setting_refused"),
    ("SELECT set_config('role', 'ggzy_api', true)", 403, "sql_setting_refused"),
    ("SELECT 1; SET ROLE ggzy_api", 400, "sql_multiple_statements"),
    ("COPY (SELECT 1) TO PROGRAM 'id'", 403, "sql_copy_refused"),
    ("SELECT query FROM pg_stat_activity", 403, "sql_object_refused"),
    ("CREATE TEMP TABLE t AS SELECT 1", 403, "sql_write_refused"),
    ("SELEC 1", 400, "sql_syntax_error"),
]


@pytest.mark.parametrize(("sql", "status", "code"), FORBIDDEN, ids=[f[0][:40] for f in FORBIDDEN])
def test_forbidden_sql_is_refused_clearly_and_logged(
    client: httpx.Client, db: sa.Engine, shared, tokens, sql: str, status: int, code: str
) -> None:
    response = client.post("/v1/sql", json={"sql": sql}, headers=oversight(tokens))
    body = assert_error(response, status, code)
    assert "rows" not in body
    event = last_event(db)
    params = json.loads(event["params"])
    assert event["action"] == "POST /v1/sql" and params["sql"] == sql and params["_error"] == code
    assert (
        event["case_ref"] == "JZJ-2026-017"
        and event["result_sha256"] == hashlib.sha256(response.content).hexdigest()
    )
    with db.connect() as conn:  # nothing was written by any attempt
        assert conn.scalar(sa.text("SELECT count(*) FROM core.penalty_decision")) == 7
        assert conn.scalar(sa.text("SELECT count(*) FROM ops.batch")) == 1


def test_sql_past_its_timeout_is_cancelled_and_logged(
    client: httpx.Client, db: sa.Engine, shared, tokens
) -> None:
    response = client.post(
        "/v1/sql", json={"sql": "SELECT pg_sleep(5)", "timeout_ms": 200}, headers=oversight(tokens)
    )
    assert_error(response, 408, "sql_timeout")
    assert json.loads(last_event(db)["params"])["_error"] == "sql_timeout"
    # The session was reset: the next query on the pool runs normally.
    assert client.post("/v1/sql", json={"sql": "SELECT 1 AS one"}, headers=oversight(tokens)).json()[
        "rows"
    ] == [[1]]


def test_unmasking_needs_the_oversight_role_and_a_case_and_is_its_own_event(
    client: httpx.Client, db: sa.Engine, shared, tokens
) -> None:
    request = {"penalty_id": shared["person"], "field": "party_id"}
    rows = client.get("/v1/library/views/penalty_decisions/rows", params={"where": f"id:eq:{shared['person']}"},
                      headers=oversight(tokens)).json()["items"]  # fmt: skip
    assert rows[0]["party_id_masked"] == MASKED_ID and UNMASKED_ID not in json.dumps(rows)
    revealed = client.post("/v1/unmask", json=request, headers=oversight(tokens))
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["id_number"] == UNMASKED_ID and revealed.headers["cache-control"] == "no-store"
    event = last_event(db)
    assert event["action"] == "POST /v1/unmask" and json.loads(event["params"]) == request
    assert event["case_ref"] == "JZJ-2026-017" and event["role"] == "oversight"
    for who in ("member", "admin", "engineer"):
        assert_error(
            client.post("/v1/unmask", json=request, headers=bearer(tokens[who], **ORACLE)),
            403,
            "role_not_allowed",
        )
    missing = client.post(
        "/v1/unmask", json={"penalty_id": shared["ids"][0], "field": "party_id"}, headers=oversight(tokens)
    )
    assert_error(missing, 404, "id_number_not_found")


def test_reading_the_audit_log_is_itself_audited(client: httpx.Client, db: sa.Engine, shared, tokens) -> None:
    client.post("/v1/sql", json={"sql": "SELECT 1"}, headers=oversight(tokens))
    before = event_count(db)
    response = client.get(
        "/v1/audit/events", params={"action": "POST /v1/sql"}, headers=bearer(tokens["admin"])
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["action"] for i in items] == ["POST /v1/sql"] and items[0]["case_ref"] == "JZJ-2026-017"
    event = last_event(db)
    assert (
        event_count(db) == before + 1
        and event["action"] == "GET /v1/audit/events"
        and event["role"] == "admin"
    )
    assert event["row_count"] == 1
    seen = client.get(
        "/v1/audit/events", params={"action": "GET /v1/audit/events"}, headers=oversight(tokens)
    ).json()
    assert [i["actor"] for i in seen["items"]] == ["管理员"]  # the oversight body sees who read the log
    assert_error(client.get("/v1/audit/events", headers=bearer(tokens["member"])), 403, "role_not_allowed")
    assert audit.verify_chain(db).ok


def test_rate_limit_per_token_answers_429_with_retry_after(hub, db: sa.Engine, shared, tokens) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(hub, rate_per_second=0.5, burst=2)
    with TestClient(app, client=("127.0.0.1", 5000)) as test_client:
        codes = [
            test_client.get("/v1/penalties", headers=bearer(tokens["member"])).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        limited = test_client.get("/v1/penalties", headers=bearer(tokens["member"]))
        body = assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1 and body["detail"]["burst"] == 2
        assert test_client.get("/v1/penalties", headers=bearer(tokens["member_water"])).status_code == 200
    event = last_event(db)
    assert event["org_code"] == WATER
    with db.connect() as conn:
        logged = conn.scalar(sa.text("SELECT count(*) FROM audit.event WHERE params LIKE '%rate_limited%'"))
    assert logged == 2


def _tamper(db: sa.Engine, *statements: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(sa.text(statement))


def _fill(n: int) -> None:
    api = database.api_engine()
    for i in range(n):
        audit.append(
            api, action=f"GET /v1/x/{i}", actor="officer", case_ref="C-1", params={"i": i}, row_count=i
        )


REWRITE_ALL = """
DO $$
DECLARE r record; prev text := repeat('0', 64); h text;
BEGIN
    FOR r IN SELECT * FROM audit.event ORDER BY seq LOOP
        h := audit.row_hash_v1(r.seq, r.occurred_at, CASE WHEN r.seq = 2 THEN 'someone else' ELSE r.actor END,
             r.org_code, r.role, r.token_id, r.case_ref, r.purpose, r.action, r.params, r.row_count, r.result_sha256,
             r.client_addr, prev);
        UPDATE audit.event SET actor = CASE WHEN r.seq = 2 THEN 'someone else' ELSE r.actor END,
            prev_hash = prev, hash = h WHERE seq = r.seq;
        prev := h;
    END LOOP;
    UPDATE audit.chain_head SET hash = prev WHERE id = 1;
END $$
"""


@pytest.mark.parametrize(
    ("statements", "problem"),
    [
        pytest.param([REWRITE_ALL], "checkpoint_mismatch", id="rewrite-whole-chain"),
        pytest.param(["UPDATE audit.event SET row_count = 99 WHERE seq = 3"], "hash_mismatch", id="edit"),
        pytest.param(["DELETE FROM audit.event WHERE seq = 2"], "missing_seq", id="delete"),
        pytest.param(
            [
                "UPDATE audit.event SET seq = -1 WHERE seq = 2",
                "UPDATE audit.event SET seq = 2 WHERE seq = 3",
                "UPDATE audit.event SET seq = 3 WHERE seq = -1",
            ],
            "hash_mismatch",
            id="reorder",
        ),  # fmt: skip
        pytest.param(
            [
                "DELETE FROM audit.event WHERE seq >= 4",
                "UPDATE audit.chain_head SET seq = 3, hash = (SELECT hash FROM audit.event WHERE seq = 3)",
            ],
            "checkpoint_missing_row",
            id="truncate",
        ),  # fmt: skip
    ],
)
def test_signed_checkpoint_detects_rewriting_after_it(
    hub, db: sa.Engine, tmp_path, statements, problem
) -> None:
    _fill(5)
    runner = CliRunner()
    out = tmp_path / "checkpoint.json"
    made = runner.invoke(audit_app, ["checkpoint", "--out", str(out)])
    assert made.exit_code == 0, made.output
    checkpoint = json.loads(out.read_text())
    assert checkpoint["seq"] == 5 and checkpoint["signature"]
    key_file = hub.home / "keys" / audit.SIGNING_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    intact = runner.invoke(audit_app, ["verify", "--checkpoint", str(out), "--json"])
    assert intact.exit_code == 0 and json.loads(intact.stdout)["ok"] is True
    _fill(2)  # the log grows after the checkpoint: still fine
    assert runner.invoke(audit_app, ["verify", "--checkpoint", str(out)]).exit_code == 0
    _tamper(db, *statements)
    if problem == "checkpoint_mismatch":
        assert audit.verify_chain(db).ok  # the rewritten chain is consistent with itself...
    broken = runner.invoke(audit_app, ["verify", "--checkpoint", str(out), "--json"])
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["problem"] == problem  # ...but not with the signed checkpoint


def test_a_forged_checkpoint_is_refused(hub, db: sa.Engine, tmp_path) -> None:
    _fill(3)
    document = audit.make_checkpoint(db, hub.home)
    forged = {**document, "seq": 2}
    result = audit.verify_with_checkpoint(db, forged, trusted_public_key=document["public_key"])
    assert not result.ok and result.problem == "checkpoint_signature"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()
    result = audit.verify_with_checkpoint(db, document, trusted_public_key=audit.public_key_text(other))
    assert not result.ok and result.problem == "checkpoint_key"


def test_oversight_bodies_fetch_a_signed_checkpoint_that_verifies(
    client: httpx.Client, db: sa.Engine, hub, shared, tokens, tmp_path
) -> None:
    response = client.get("/v1/audit/checkpoint", headers=oversight(tokens))
    assert response.status_code == 200, response.text
    document = response.json()
    assert last_event(db)["action"] == "GET /v1/audit/checkpoint"
    trusted = audit.public_key_text(audit.signing_key(hub.home))
    assert document["public_key"] == trusted
    assert audit.verify_with_checkpoint(db, document, trusted_public_key=trusted).ok
    assert_error(
        client.get("/v1/audit/checkpoint", headers=bearer(tokens["member"])), 403, "role_not_allowed"
    )


def test_the_library_reader_role_cannot_escalate(db: sa.Engine) -> None:
    with db.connect() as conn:
        role = conn.execute(sa.text("SELECT * FROM pg_roles WHERE rolname = 'ggzy_sql'")).mappings().one()
        assert not (role["rolsuper"] or role["rolcreaterole"] or role["rolcreatedb"] or role["rolbypassrls"])
        memberships = conn.scalars(sa.text(
            "SELECT b.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member"
            " JOIN pg_roles b ON b.oid = m.roleid WHERE r.rolname = 'ggzy_sql'")).all()  # fmt: skip
        assert memberships == ["ggzy_library_reader"]
        for schema in ("library", "public", "oversight"):
            assert not conn.scalar(
                sa.text("SELECT has_schema_privilege('ggzy_sql', :s, 'CREATE')"), {"s": schema}
            )
        tables = conn.execute(sa.text(
            "SELECT n.nspname, c.relname, has_table_privilege('ggzy_sql', c.oid, 'SELECT') AS can_read,"
            " has_table_privilege('ggzy_sql', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS can_write"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm', 'p')"
            " AND n.nspname IN ('library', 'audit', 'auth', 'raw', 'quality', 'protected', 'delivery', 'core', 'ops',"
            " 'oversight')")).all()  # fmt: skip
    assert not [t for t in tables if t.can_write]
    readable = {f"{t.nspname}.{t.relname}" for t in tables if t.can_read}
    assert readable and all(name.startswith("library.") for name in readable), readable
