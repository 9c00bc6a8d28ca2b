"""The hub API served by uvicorn on 127.0.0.1, called over HTTP: tokens, case binding, audited reads, fail closed."""

from __future__ import annotations

import hashlib
import json
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from ggzy import audit, auth

UNMASKED_ID = "11010519491231002X"
MASKED_ID = "1101**********002X"
HOUSING, WATER, DISCIPLINE = "JZ-ZJ", "JZ-SL", "JZ-JWJW"  # units of the default (jiaozuo) profile
CASE = {"X-Case-Ref": "JZJ-2026-017", "X-Purpose": quote("核查围标串标线索")}
PARTIES = ["焦作市某某建筑工程有限公司", "河南某某路桥有限公司", "焦作某某监理咨询有限公司", "张某某",
           "某某建筑劳务有限公司", "焦作市某某市政工程有限公司", "修武县某某水利工程有限公司"]  # fmt: skip
AUTHORITY = "11410800B7A50E5D5Q"


def seed_penalties(db: sa.Engine) -> dict:
    """A batch, seven decisions (one natural person, one with two versions) and two quarantined rows."""
    with db.begin() as conn:
        batch_id = conn.scalar(
            sa.text(
                "INSERT INTO ops.batch (dataset, source, submitted_by, filename, sha256, byte_size, raw_path, status)"
                " VALUES ('penalty_decision', 'upload', :org, 'cf.csv', :sha, 10, '/raw/cf.csv', 'loaded') RETURNING id"
            ),
            {"org": HOUSING, "sha": "a" * 64},
        )
        ids = []
        for i, party in enumerate(PARTIES):
            person = party == "张某某"
            ids.append(conn.scalar(
                sa.text(
                    "INSERT INTO core.penalty_decision (authority_code, decision_no, party_name, party_category,"
                    " party_uscc, party_id_type, party_id_masked, violation_type, penalty_categories, fine_yuan,"
                    " decision_date, authority_name, source_format, content_hash, first_batch_id, last_batch_id, version)"
                    " VALUES (:auth, :no, :party, :cat, :uscc, :idt, :idm, '串通投标', :cats, :fine, :day,"
                    " '焦作市住房和城乡建设局', 'current', :hash, :b, :b, :version) RETURNING id"
                ),
                {"auth": AUTHORITY, "no": f"焦建罚〔2026〕{i + 1}号", "party": party,
                 "cat": "自然人" if person else "法人及非法人组织", "uscc": None if person else f"91410800MA{i:07d}X",
                 "idt": "身份证" if person else None, "idm": MASKED_ID if person else None,
                 "cats": ["警告", "罚款"] if i % 2 else ["警告"], "fine": 20000 if i % 2 else None,
                 "day": date(2026, 3, 1) + timedelta(days=[5, 3, 3, 9, 1, 7, 3][i]), "hash": f"{i:064d}",
                 "b": batch_id, "version": 2 if i == 0 else 1},
            ))  # fmt: skip
        for penalty_id, versions in ((ids[0], 2), *((pid, 1) for pid in ids[1:])):
            for version in range(1, versions + 1):
                conn.execute(
                    sa.text("INSERT INTO core.penalty_decision_version (penalty_id, version, batch_id, content_hash, record)"
                            " VALUES (:p, :v, :b, :h, CAST(:r AS jsonb))"),
                    {"p": penalty_id, "v": version, "b": batch_id, "h": f"{version:064d}",
                     "r": json.dumps({"cf_xdr_mc": PARTIES[0], "cf_xdr_zjhm": UNMASKED_ID, "party_id_hash": "secret",
                                      "version": version}, ensure_ascii=False)},
                )  # fmt: skip
        for row in (3, 5):
            conn.execute(
                sa.text("INSERT INTO quality.quarantine_row (batch_id, dataset, source_row, rules, errors, raw_record)"
                        " VALUES (:b, 'penalty_decision', :row, ARRAY['required:cf_wsh'], CAST(:e AS jsonb), CAST(:r AS jsonb))"),
                {"b": batch_id, "row": row,
                 "e": json.dumps([{"rule": "id_number_check_digit:cf_xdr_zjhm", "field": "cf_xdr_zjhm",
                                   "value": UNMASKED_ID, "zh": "缺少文号", "en": "missing cf_wsh"}], ensure_ascii=False),
                 "r": json.dumps({"cf_xdr_mc": "某人", "cf_xdr_zjhm": UNMASKED_ID}, ensure_ascii=False)},
            )  # fmt: skip
    return {"batch_id": str(batch_id), "ids": ids}


@pytest.fixture
def seeded(db: sa.Engine) -> dict:
    """The seeded warehouse content."""
    return seed_penalties(db)


@pytest.fixture
def tokens(db: sa.Engine) -> dict[str, str]:
    """One token per kind of caller."""
    issue = {
        "oversight": ("纪检干部甲", DISCIPLINE, "oversight"),
        "member": ("住建局联络员", HOUSING, "member"),
        "member_water": ("水利局联络员", WATER, "member"),
        "member_discipline": ("纪委联络员", DISCIPLINE, "member"),
        "engineer": ("数据工程师", "HUB", "engineer"),
        "admin": ("管理员", "HUB", "admin"),
    }
    return {key: auth.create_token(db, person=p, org_code=o, role=r)[0] for key, (p, o, r) in issue.items()}


@pytest.fixture
def client(live_api: str) -> httpx.Client:
    """An HTTP client for the live server (no proxies from the environment)."""
    with httpx.Client(base_url=live_api, trust_env=False, timeout=30) as c:
        yield c


def bearer(token: str, **headers: str) -> dict[str, str]:
    """Request headers carrying the token."""
    return {"Authorization": f"Bearer {token}", **headers}


def last_event(db: sa.Engine) -> sa.RowMapping:
    """The newest audit row."""
    with db.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM audit.event ORDER BY seq DESC LIMIT 1")).mappings().one()


def event_count(db: sa.Engine) -> int:
    """How many audit rows exist."""
    with db.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM audit.event"))


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """The response is the one error shape, with the given status and code, in both languages."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert body["message"]["zh"] and body["message"]["en"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]["zh"])
    return body


def v1_operations(client: httpx.Client) -> list[tuple[str, str]]:
    """(method, concrete path) of every /v1 operation in the served OpenAPI document."""
    spec = client.get("/openapi.json").json()
    ops = []
    for path, item in spec["paths"].items():
        if path.startswith("/v1/"):
            concrete = path.replace("{penalty_id}", "1").replace("{batch_id}", str(uuid.uuid4()))
            ops += [(method.upper(), concrete) for method in item]
    return ops


def test_every_v1_endpoint_refuses_requests_without_a_valid_token(
    client: httpx.Client, db: sa.Engine
) -> None:
    operations = v1_operations(client)
    assert len(operations) >= 10
    for method, path in operations:
        missing = client.request(method, path)
        assert_error(missing, 401, "token_missing")
        assert missing.headers["www-authenticate"] == "Bearer"
        bad = client.request(method, path, headers=bearer("ggzy_forgedforgedforgedforgedforgedforged0000"))
        assert_error(bad, 401, "token_invalid")
    with db.connect() as conn:
        failed = conn.execute(
            sa.text("SELECT params, client_addr FROM audit.event WHERE action = 'auth.failed'")
        ).all()
    assert len(failed) == 2 * len(operations)
    assert {row.client_addr for row in failed} == {"127.0.0.1"}
    reasons = [json.loads(row.params) for row in failed]
    assert {"reason": "unknown", "token_prefix": "ggzy_forgedfo"} in reasons
    assert all("forgedforgedforged" not in row.params for row in failed)
    assert audit.verify_chain(db).ok


def test_docs_and_health_are_public_and_carry_no_data(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_openapi_documents_headers_security_and_errors(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    error_ref = "#/components/schemas/ErrorBody"
    for path, item in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            assert op["security"] == [{"BearerToken": []}], where
            headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            assert {"X-Case-Ref", "X-Purpose"} <= headers, where
            for status in ("401", "403", "422", "503"):
                content = op["responses"][status]["content"]["application/json"]["schema"]
                assert content == {"$ref": error_ref}, (where, status)
            assert op.get("summary") and op.get("description"), where
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_oversight_reads_need_case_reference_and_purpose(
    client: httpx.Client, db: sa.Engine, seeded, tokens
) -> None:
    none = assert_error(
        client.get("/v1/penalties", headers=bearer(tokens["oversight"])), 400, "case_context_required"
    )
    assert none["detail"]["missing_headers"] == ["X-Case-Ref", "X-Purpose"]
    assert "X-Case-Ref" in none["message"]["zh"] and "X-Purpose" in none["message"]["en"]
    only_case = client.get("/v1/penalties/1", headers=bearer(tokens["oversight"], **{"X-Case-Ref": "JZJ-1"}))
    body = assert_error(only_case, 400, "case_context_required")
    assert body["detail"]["missing_headers"] == ["X-Purpose"] and "items" not in body
    refused = last_event(db)  # refusals are logged too, with who asked
    assert refused["action"] == "GET /v1/penalties/{penalty_id}" and refused["case_ref"] == "JZJ-1"
    assert refused["role"] == "oversight" and refused["row_count"] is None
    assert json.loads(refused["params"])["_status"] == 400
    assert refused["result_sha256"] == hashlib.sha256(only_case.content).hexdigest()


def test_audited_read_records_exactly_what_the_client_received(
    client: httpx.Client, db: sa.Engine, seeded, tokens
) -> None:
    response = client.get(
        "/v1/penalties", params={"category": "罚款", "limit": 2}, headers=bearer(tokens["oversight"], **CASE)
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert len(page["items"]) == 2 and page["paging"]["has_more"] is True
    assert all("罚款" in item["penalty_categories"] for item in page["items"])
    event = last_event(db)
    assert int(response.headers["x-audit-seq"]) == event["seq"]
    principal = auth.authenticate(db, tokens["oversight"])
    assert (event["actor"], event["org_code"], event["role"], str(event["token_id"])) == (
        "纪检干部甲",
        DISCIPLINE,
        "oversight",
        principal.token_id,
    )
    assert event["case_ref"] == "JZJ-2026-017" and event["purpose"] == "核查围标串标线索"
    assert event["action"] == "GET /v1/penalties" and event["client_addr"] == "127.0.0.1"
    assert json.loads(event["params"]) == {"category": "罚款", "limit": 2}
    assert event["row_count"] == len(page["items"])
    assert event["result_sha256"] == hashlib.sha256(response.content).hexdigest()
    assert audit.verify_chain(db).ok


def test_member_reads_filters_and_paging(client: httpx.Client, db: sa.Engine, seeded, tokens) -> None:
    headers = bearer(tokens["member"])
    everything = client.get("/v1/penalties", params={"limit": 500}, headers=headers).json()["items"]
    assert len(everything) == len(PARTIES)
    order = [(item["decision_date"], item["id"]) for item in everything]
    assert order == sorted(order, reverse=True)
    # keyset paging walks the same rows in the same order as one big page and as offset paging
    walked, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/penalties", params=params, headers=headers).json()
        walked += [item["id"] for item in page["items"]]
        cursor = page["paging"]["next_cursor"]
        if not cursor:
            break
    assert walked == [item["id"] for item in everything]
    by_offset = client.get("/v1/penalties", params={"limit": 3, "offset": 3}, headers=headers).json()["items"]
    assert [item["id"] for item in by_offset] == walked[3:6]

    def ids(**params) -> set[int]:
        return {
            item["id"] for item in client.get("/v1/penalties", params=params, headers=headers).json()["items"]
        }

    assert ids(party_name="路桥") == {seeded["ids"][1]}
    assert ids(party_name="%") == set()  # LIKE wildcards are matched literally
    assert ids(decision_date_from="2026-03-04", decision_date_to="2026-03-06") == {
        seeded["ids"][i] for i in (0, 1, 2, 6)
    }
    assert ids(party_uscc="91410800MA0000004X") == {seeded["ids"][4]}
    assert ids(authority_code=AUTHORITY, category="罚款") == {seeded["ids"][i] for i in (1, 3, 5)}

    person = next(item for item in everything if item["party_category"] == "自然人")
    assert person["party_id_masked"] == MASKED_ID
    assert last_event(db)["case_ref"] is None  # optional for members


def test_bad_parameters_get_bilingual_errors(client: httpx.Client, seeded, tokens) -> None:
    headers = bearer(tokens["member"])
    too_many = assert_error(
        client.get("/v1/penalties", params={"limit": 501}, headers=headers), 422, "invalid_request"
    )
    assert "limit" in too_many["message"]["en"] and "limit" in too_many["message"]["zh"]
    unknown = assert_error(
        client.get("/v1/penalties", params={"party": "x"}, headers=headers), 422, "invalid_request"
    )
    assert "party" in unknown["message"]["en"]
    assert_error(
        client.get("/v1/penalties", params={"decision_date_from": "2026-13-01"}, headers=headers),
        422,
        "invalid_request",
    )
    assert_error(
        client.get("/v1/penalties", params={"cursor": "bm9wZQ", "offset": 1}, headers=headers),
        400,
        "conflicting_paging",
    )
    assert_error(
        client.get("/v1/penalties", params={"cursor": "bm9wZQ"}, headers=headers), 400, "invalid_cursor"
    )
    assert_error(client.get("/v1/nothing-here", headers=headers), 404, "not_found")


def test_penalty_detail_has_history_and_never_an_unmasked_id(
    client: httpx.Client, db: sa.Engine, seeded, tokens
) -> None:
    first = seeded["ids"][0]
    response = client.get(f"/v1/penalties/{first}", headers=bearer(tokens["admin"]))
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["penalty"]["id"] == first and detail["penalty"]["version"] == 2
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert UNMASKED_ID not in response.text and MASKED_ID in response.text
    assert "party_id_hash" not in response.text and "secret" not in response.text
    event = last_event(db)
    assert event["action"] == "GET /v1/penalties/{penalty_id}" and json.loads(event["params"]) == {
        "penalty_id": first
    }
    assert event["result_sha256"] == hashlib.sha256(response.content).hexdigest()

    missing = client.get("/v1/penalties/999999", headers=bearer(tokens["admin"]))
    assert_error(missing, 404, "penalty_not_found")
    logged = last_event(db)
    assert json.loads(logged["params"]) == {
        "penalty_id": 999999,
        "_status": 404,
        "_error": "penalty_not_found",
    }


def test_roles_are_enforced(client: httpx.Client, db: sa.Engine, seeded, tokens) -> None:
    assert_error(client.get("/v1/penalties", headers=bearer(tokens["engineer"])), 403, "role_not_allowed")
    assert_error(client.get("/v1/ops/batches", headers=bearer(tokens["member"])), 403, "role_not_allowed")
    assert_error(client.get("/v1/feed", headers=bearer(tokens["admin"])), 403, "role_not_allowed")
    assert_error(
        client.post("/v1/receipts", content=b"{}", headers=bearer(tokens["oversight"], **CASE)),
        403,
        "role_not_allowed",
    )
    refused = last_event(db)
    assert (
        refused["action"] == "POST /v1/receipts"
        and json.loads(refused["params"])["_error"] == "role_not_allowed"
    )


def test_engineers_see_batches_and_masked_quarantine(
    client: httpx.Client, db: sa.Engine, seeded, tokens
) -> None:
    batches = client.get("/v1/ops/batches", params={"status": "loaded"}, headers=bearer(tokens["engineer"]))
    assert batches.status_code == 200, batches.text
    assert [b["id"] for b in batches.json()["items"]] == [seeded["batch_id"]]
    assert (
        client.get("/v1/ops/batches", params={"status": "failed"}, headers=bearer(tokens["engineer"])).json()[
            "items"
        ]
        == []
    )
    quarantine = client.get(
        "/v1/ops/quarantine", params={"rule": "required:cf_wsh"}, headers=bearer(tokens["admin"])
    )
    assert quarantine.status_code == 200 and len(quarantine.json()["items"]) == 2
    assert UNMASKED_ID not in quarantine.text and MASKED_ID in quarantine.text
    assert last_event(db)["row_count"] == 2


def test_submission_detail_is_for_the_submitter_and_staff(
    client: httpx.Client, db: sa.Engine, seeded, tokens
) -> None:
    path = f"/v1/submissions/{seeded['batch_id']}"
    own = client.get(path, headers=bearer(tokens["member"]))
    assert own.status_code == 200, own.text
    detail = own.json()
    assert detail["batch"]["submitted_by"] == HOUSING
    assert [row["source_row"] for row in detail["quarantined"]] == [3, 5]
    assert detail["quarantined"][0]["errors"][0]["en"] == "missing cf_wsh"
    assert UNMASKED_ID not in own.text
    assert client.get(path, headers=bearer(tokens["engineer"])).status_code == 200
    assert_error(client.get(path, headers=bearer(tokens["member_water"])), 403, "not_your_batch")
    assert_error(
        client.get(f"/v1/submissions/{uuid.uuid4()}", headers=bearer(tokens["member"])),
        404,
        "batch_not_found",
    )


def test_reads_fail_closed_when_the_audit_log_cannot_be_written(
    client: httpx.Client, db: sa.Engine, seeded, tokens
) -> None:
    signature = "audit.append(text, text, text, uuid, text, text, text, text, bigint, text, text)"
    before = event_count(db)
    with db.begin() as conn:
        conn.execute(sa.text(f"REVOKE EXECUTE ON FUNCTION {signature} FROM ggzy_api"))
    response = client.get("/v1/penalties", headers=bearer(tokens["oversight"], **CASE))
    assert_error(response, 503, "audit_unavailable")
    assert "items" not in response.text and all(party not in response.text for party in PARTIES)
    detail = client.get(f"/v1/penalties/{seeded['ids'][0]}", headers=bearer(tokens["member"]))
    assert_error(detail, 503, "audit_unavailable")
    assert event_count(db) == before
    with db.begin() as conn:
        conn.execute(sa.text(f"GRANT EXECUTE ON FUNCTION {signature} TO ggzy_api"))
    assert client.get("/v1/penalties", headers=bearer(tokens["oversight"], **CASE)).status_code == 200
    assert event_count(db) == before + 1 and audit.verify_chain(db).ok


def test_concurrent_reads_keep_one_gap_free_chain(
    client: httpx.Client, db: sa.Engine, seeded, tokens
) -> None:
    def read(i: int) -> httpx.Response:
        token = tokens["member"] if i % 2 else tokens["oversight"]
        return client.get("/v1/penalties", params={"limit": 1 + i % 5}, headers=bearer(token, **CASE))

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(read, range(40)))
    assert {r.status_code for r in responses} == {200}
    seqs = sorted(int(r.headers["x-audit-seq"]) for r in responses)
    assert len(set(seqs)) == 40
    result = audit.verify_chain(db)
    assert result.ok and result.events == event_count(db)
    with db.connect() as conn:
        logged = dict(conn.execute(sa.text("SELECT seq, result_sha256 FROM audit.event")).all())
    assert all(
        logged[int(r.headers["x-audit-seq"])] == hashlib.sha256(r.content).hexdigest() for r in responses
    )


def test_uploads_over_the_limit_are_refused(hub, client: httpx.Client, live_api: str, tokens) -> None:
    hub.upload_max_bytes = 100  # the app reads the limit from its settings per request
    files = {"file": ("cf.csv", b"x" * 500, "text/csv")}
    body = assert_error(
        client.post("/v1/submissions", files=files, headers=bearer(tokens["engineer"])),
        413,
        "upload_too_large",
    )
    assert body["detail"]["limit_bytes"] == 100 and "cf.csv" in body["message"]["en"]
    # A declared body far over the limit is refused before it is read.
    host, port = live_api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n"
                     b"Content-Type: multipart/form-data; boundary=b\r\n\r\n")  # fmt: skip
        reply = sock.recv(65536).decode("utf-8", "replace")
    assert reply.startswith("HTTP/1.1 413") and "upload_too_large" in reply


def test_members_that_do_not_supervise_cannot_submit(client: httpx.Client, tokens) -> None:
    files = {"file": ("cf.csv", b"CF_WSH\n1\n", "text/csv")}
    body = assert_error(
        client.post("/v1/submissions", files=files, headers=bearer(tokens["member_discipline"])),
        403,
        "submission_not_allowed",
    )
    assert body["detail"]["unit_role"] == "discipline"


def test_department_uploads_a_file_then_reads_its_quarantine(
    client: httpx.Client, db: sa.Engine, tokens
) -> None:
    """The real pipeline behind POST /v1/submissions: 201, then 200 for the same bytes, then the quarantine."""
    pytest.importorskip("ggzy.pipelines.penalties")
    departments = pytest.importorskip("standins.departments")
    generated = departments.broken_file("csv", rows=6, year=2025)
    assert generated.department.code == HOUSING
    files = {"file": (generated.filename, generated.data, "text/csv")}
    first = client.post("/v1/submissions", files=files, headers=bearer(tokens["member"]))
    assert first.status_code == 201, first.text
    report = first.json()
    assert report["already_processed"] is False and report["status"] == "loaded"
    assert report["rows_in"] == generated.rows_in
    assert report["rows_in"] == report["rows_loaded"] + report["rows_quarantined"] + report["rows_duplicate"]
    event = last_event(db)
    assert event["action"] == "POST /v1/submissions" and event["row_count"] == report["rows_in"]
    assert json.loads(event["params"])["sha256"] == hashlib.sha256(generated.data).hexdigest()
    assert event["result_sha256"] == hashlib.sha256(first.content).hexdigest()

    again = client.post("/v1/submissions", files=files, headers=bearer(tokens["member"]))
    assert again.status_code == 200 and again.json()["already_processed"] is True
    assert again.json()["batch_id"] == report["batch_id"]

    detail = client.get(f"/v1/submissions/{report['batch_id']}", headers=bearer(tokens["member"]))
    assert detail.status_code == 200, detail.text
    quarantined = {row["source_row"]: sorted(row["rules"]) for row in detail.json()["quarantined"]}
    expected = {row: sorted(rules) for row, rules in generated.expected_rules().items()
                if generated.expected[row].outcome == "quarantined"}  # fmt: skip
    assert quarantined == expected
    assert all(err["zh"] and err["en"] for row in detail.json()["quarantined"] for err in row["errors"])
    loaded = client.get("/v1/penalties", params={"limit": 500}, headers=bearer(tokens["member"])).json()[
        "items"
    ]
    assert len(loaded) == report["rows_inserted"]
    for text in (first.text, detail.text, json.dumps(loaded, ensure_ascii=False)):
        leaked = [
            (auth_id, text[max(0, text.find(auth_id) - 300) : text.find(auth_id) + 40])
            for auth_id in _unmasked_ids(generated.records)
            if auth_id in text
        ]
        assert not leaked
    assert audit.verify_chain(db).ok


def _unmasked_ids(records: list[dict]) -> set[str]:
    """Full personal ID numbers present in generated records (they must never come back)."""
    return {
        value for record in records for key in ("cf_xdr_zjhm", "cf_fr_zjhm")
        if (value := record.get(key)) and len(value) >= 15 and "*" not in value
    }  # fmt: skip


def test_unreadable_upload_is_refused_with_the_reason(client: httpx.Client, db: sa.Engine, tokens) -> None:
    pytest.importorskip("ggzy.pipelines.penalties")
    files = {"file": ("cf.xlsx", b"this is not a workbook", "application/octet-stream")}
    response = client.post("/v1/submissions", files=files, headers=bearer(tokens["engineer"]))
    body = assert_error(response, 422, "unreadable_file")
    assert body["detail"]["status"] == "rejected" and body["detail"]["batch_id"]
    assert last_event(db)["row_count"] == 0


def test_pull_feed_signed_receipts_and_delivery_reports(client: httpx.Client, db: sa.Engine, tokens) -> None:
    """A pull-only unit reads its feed, acknowledges with a signed receipt; the reports see it. All audited."""
    pytest.importorskip("ggzy.pipelines.penalties")
    delivery_units = pytest.importorskip("ggzy.delivery.units")
    webhooks = pytest.importorskip("ggzy.delivery.webhooks")
    departments = pytest.importorskip("standins.departments")
    from ggzy.jurisdictions import load_profile

    delivery_units.sync_units(db, load_profile(), lambda unit: None)
    generated = departments.good_file("json", rows=3, year=2025)
    files = {"file": (generated.filename, generated.data, "application/json")}
    uploaded = client.post("/v1/submissions", files=files, headers=bearer(tokens["member"]))
    assert uploaded.status_code == 201, uploaded.text
    inserted = uploaded.json()["rows_inserted"]
    assert inserted == 3

    reader = bearer(tokens["member_discipline"])  # the discipline body is pull-only in jiaozuo
    first = client.get("/v1/feed", params={"after": 0, "limit": 2}, headers=reader)
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2 and page["has_more"] is True
    event = last_event(db)
    assert event["action"] == "GET /v1/feed" and event["row_count"] == 2 and event["org_code"] == DISCIPLINE
    assert json.loads(event["params"]) == {"after": 0, "limit": 2}
    assert event["result_sha256"] == hashlib.sha256(first.content).hexdigest()
    rest = client.get("/v1/feed", params={"after": page["next_cursor"]}, headers=reader).json()
    items = page["items"] + rest["items"]
    assert len(items) == inserted and {i["data"]["unit"] for i in items} == {DISCIPLINE}

    message = items[0]
    secret = delivery_units.unit_secret(db, DISCIPLINE)
    receipt = json.dumps({"message_id": message["message_id"], "document_hash": message["data"]["document_hash"],
                          "received_at": "2026-11-23T09:30:00+08:00"}).encode()  # fmt: skip
    signed = webhooks.sign_headers(secret, "rcpt_001", receipt)
    acknowledged = client.post("/v1/receipts", content=receipt, headers=reader | signed)
    assert acknowledged.status_code == 200, acknowledged.text
    assert (
        acknowledged.json()["status"] == "acknowledged"
        and acknowledged.json()["already_acknowledged"] is False
    )
    logged = last_event(db)
    assert (
        logged["action"] == "POST /v1/receipts" and json.loads(logged["params"])["webhook_id"] == "rcpt_001"
    )
    again = client.post("/v1/receipts", content=receipt, headers=reader | signed)
    assert again.json()["already_acknowledged"] is True

    forged = reader | signed | {"webhook-signature": "v1," + "A" * 44}
    assert client.post("/v1/receipts", content=receipt, headers=forged).status_code == 401
    wrong = receipt.replace(message["data"]["document_hash"].encode(), b"0" * 64)
    mismatch = client.post(
        "/v1/receipts", content=wrong, headers=reader | webhooks.sign_headers(secret, "r2", wrong)
    )
    assert_error(mismatch, 409, "document_hash_mismatch")

    status = client.get("/v1/delivery/status", headers=bearer(tokens["oversight"], **CASE))
    assert status.status_code == 200, status.text
    figures = status.json()
    assert figures["acknowledged"] == 1 and figures["expected"] == inserted * len(load_profile().units)
    assert last_event(db)["case_ref"] == "JZJ-2026-017"
    assert_error(
        client.get("/v1/delivery/status", headers=bearer(tokens["oversight"])), 400, "case_context_required"
    )
    assert_error(client.get("/v1/delivery/status", headers=reader), 403, "role_not_allowed")

    overdue = client.get(
        "/v1/delivery/overdue", params={"as_of": "2099-01-01"}, headers=bearer(tokens["engineer"])
    )
    assert overdue.status_code == 200, overdue.text
    by_unit = {u["unit"]: u for u in overdue.json()["items"]}
    assert by_unit[DISCIPLINE]["overdue"] == inserted - 1
    assert len(by_unit) == len(load_profile().units)
    assert audit.verify_chain(db).ok
