"""The tamper-evident audit log: append through audit.append(), recompute the chain independently.

Layout v1 (see audit.row_hash_v1 in the foundation migration): the fields below, NULL written as the two
characters backslash-N, joined by U+001F, UTF-8, sha256, lower-case hex. `row_hash_v1` rebuilds the same
bytes in Python so the verifier does not trust the database's own function.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import threading
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from ggzy.auth import Principal

LAYOUT_VERSION = 1
GENESIS_HASH = "0" * 64
NULL_MARK = "\\N"
FIELD_SEPARATOR = chr(31)

_APPEND_SQL = sa.text(
    "SELECT audit.append(:actor, :org_code, :role, CAST(:token_id AS uuid), :case_ref, :purpose, :action,"
    " :params, CAST(:row_count AS bigint), :result_sha256, :client_addr)"
)
_EVENT_COLUMNS = (
    "seq, occurred_at, actor, org_code, role, token_id, case_ref, purpose, action, params, row_count,"
    " result_sha256, client_addr, layout_version, prev_hash, hash"
)


def canonical_json(value: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, UTF-8 characters kept as they are."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex sha256 of bytes (the result hash recorded with every read)."""
    return hashlib.sha256(data).hexdigest()


def event_values(
    *,
    action: str,
    principal: Principal | None = None,
    actor: str | None = None,
    org_code: str | None = None,
    role: str | None = None,
    token_id: str | uuid.UUID | None = None,
    case_ref: str | None = None,
    purpose: str | None = None,
    params: Mapping[str, Any] | str | None = None,
    row_count: int | None = None,
    result_sha256: str | None = None,
    client_addr: str | None = None,
) -> dict[str, Any]:
    """The bound values of one audit event (the principal, when given, supplies actor, org, role and token)."""
    if principal is not None:
        actor, org_code, role, token_id = (
            principal.person,
            principal.org_code,
            principal.role,
            principal.token_id,
        )
    return {
        "actor": actor,
        "org_code": org_code,
        "role": role,
        "token_id": str(token_id) if token_id is not None else None,
        "case_ref": case_ref,
        "purpose": purpose,
        "action": action,
        "params": params if params is None or isinstance(params, str) else canonical_json(dict(params)),
        "row_count": row_count,
        "result_sha256": result_sha256,
        "client_addr": client_addr,
    }


def append(conn_or_engine: sa.Engine | sa.Connection, **event: Any) -> int:
    """Append one event through audit.append() and return its sequence number (commits when given an engine).

    Keyword arguments are those of `event_values`.
    """
    values = event_values(**event)
    if isinstance(conn_or_engine, sa.Engine):
        with conn_or_engine.begin() as conn:
            return int(conn.scalar(_APPEND_SQL, values))
    return int(conn_or_engine.scalar(_APPEND_SQL, values))


# Several events in ONE statement: audit.append() once per element, in order, in one transaction (the chain
# head's row lock is taken by the first call and simply held for the rest).
_APPEND_MANY_SQL = (
    "SELECT audit.append(t.actor, t.org_code, t.role, t.token_id, t.case_ref, t.purpose, t.action, t.params,"
    " t.row_count, t.result_sha256, t.client_addr)"
    " FROM unnest(CAST(%(actor)s AS text[]), CAST(%(org_code)s AS text[]), CAST(%(role)s AS text[]),"
    " CAST(%(token_id)s AS uuid[]), CAST(%(case_ref)s AS text[]), CAST(%(purpose)s AS text[]),"
    " CAST(%(action)s AS text[]), CAST(%(params)s AS text[]), CAST(%(row_count)s AS bigint[]),"
    " CAST(%(result_sha256)s AS text[]), CAST(%(client_addr)s AS text[]))"
    " WITH ORDINALITY AS t(actor, org_code, role, token_id, case_ref, purpose, action, params, row_count,"
    " result_sha256, client_addr, n) ORDER BY t.n"
)


def append_many(cursor: Any, events: list[dict[str, Any]]) -> list[int]:
    """Append events (from `event_values`) in one statement on a DB-API cursor; their seqs, in order."""
    columns = {name: [event[name] for event in events] for name in events[0]}
    cursor.execute(_APPEND_MANY_SQL, columns)
    return [int(row[0]) for row in cursor.fetchall()]


@dataclass
class _Waiting:
    values: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    seq: int | None = None
    error: BaseException | None = None


class GroupAppender:
    """Appends the audit events of concurrent requests together: one statement per group, one group at a time.

    The chain head is a one-row lock held until commit, so 32 requests each appending on their own queue up
    behind it one commit at a time and wake each other in turn. Here a writer thread takes every event
    waiting, appends them in one autocommit statement on its own connection, and only then releases each
    caller: an answer still leaves after its audit row has committed (fail closed on any error), but the
    lock is taken once per group.
    """

    def __init__(self, engine_factory: Any, max_group: int = 256) -> None:
        self._engine_factory = engine_factory
        self.max_group = max_group
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._connection: Any = None

    def append(self, **event: Any) -> int:
        """Append one event (keywords of `event_values`) and return its seq once it has committed."""
        waiting = _Waiting(event_values(**event))
        self._ensure_writer()
        self._queue.put(waiting)
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error
        return int(waiting.seq)  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the writer thread (after the groups already queued) and close its connection."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=10)
        self._thread = None

    def _ensure_writer(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-group-append", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while (first := self._queue.get()) is not None:
                group, stop = [first], False
                while len(group) < self.max_group:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    group.append(item)
                self._write(group)
                if stop:
                    return
        finally:
            self._disconnect()

    def _write(self, group: list[_Waiting]) -> None:
        try:
            if self._connection is None:
                self._connection = self._engine_factory().raw_connection()
                self._connection.driver_connection.autocommit = True  # the statement is its own transaction
            with self._connection.driver_connection.cursor() as cursor:
                seqs = append_many(cursor, [w.values for w in group])
            for waiting, seq in zip(group, seqs, strict=True):
                waiting.seq = seq
        except BaseException as exc:  # noqa: BLE001 - every caller of the group gets the failure
            self._disconnect()
            error = exc if isinstance(exc, sa.exc.SQLAlchemyError) else sa.exc.DBAPIError(
                "audit append", None, exc if isinstance(exc, Exception) else Exception(repr(exc)))  # fmt: skip
            for waiting in group:
                waiting.error = error
        finally:
            for waiting in group:
                waiting.done.set()

    def _disconnect(self) -> None:
        """Close the writer's connection for good (it never goes back to the pool: it was set to autocommit)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
            except Exception:  # noqa: BLE001 - a broken connection is dropped either way
                pass


def format_time(moment: datetime) -> str:
    """A timestamp as layout v1 writes it: UTC, microseconds, 'YYYY-MM-DDTHH:MM:SS.ffffffZ'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash_v1(
    seq: int,
    occurred_at: datetime,
    actor: str | None,
    org_code: str | None,
    role: str | None,
    token_id: str | uuid.UUID | None,
    case_ref: str | None,
    purpose: str | None,
    action: str,
    params: str | None,
    row_count: int | None,
    result_sha256: str | None,
    client_addr: str | None,
    prev_hash: str,
) -> str:
    """Recompute a row's layout-v1 hash in Python, byte for byte as audit.row_hash_v1 does in SQL."""

    def text(value: Any) -> str:
        return NULL_MARK if value is None else str(value)

    fields = [
        "v1", str(seq), format_time(occurred_at), text(actor), text(org_code), text(role), text(token_id),
        text(case_ref), text(purpose), action, text(params), text(row_count), text(result_sha256),
        text(client_addr), prev_hash,
    ]  # fmt: skip
    return hashlib.sha256(FIELD_SEPARATOR.join(fields).encode("utf-8")).hexdigest()


@dataclass
class VerifyResult:
    """Outcome of checking the whole chain: ok, how many rows, and the first broken row with what is wrong."""

    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None  # English
    reason_zh: str | None = None
    problem: str | None = None  # hash_mismatch | broken_link | missing_seq | head_mismatch | bad_row
    problems: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    captured_hash: str | None = None  # the hash of the row asked for with capture_seq (checkpoints)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


class _ChainChecker:
    """Walks rows in seq order, remembering only the first problem (and counting all of them)."""

    def __init__(self) -> None:
        self.result = VerifyResult(ok=True, events=0)
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.prev_seq: int | None = None
        self.capture_seq: int | None = None

    def fail(self, seq: int, problem: str, en: str, zh: str) -> None:
        self.result.problems += 1
        if self.result.ok:
            self.result.ok = False
            self.result.first_broken_seq, self.result.problem = seq, problem
            self.result.reason, self.result.reason_zh = en, zh

    def check_row(self, row: sa.Row) -> None:
        self.result.events += 1
        seq = row.seq
        if seq > self.expected_seq:
            missing = (
                f"{self.expected_seq}" if seq == self.expected_seq + 1 else f"{self.expected_seq}..{seq - 1}"
            )
            self.fail(
                self.expected_seq,
                "missing_seq",
                f"missing seq {missing}: the sequence jumps from {self.expected_seq - 1} to {seq} (row deleted)",
                f"缺少序号 {missing}：序号从 {self.expected_seq - 1} 跳到 {seq}（审计记录被删除）",
            )
        elif seq < self.expected_seq:
            self.fail(
                seq,
                "bad_row",
                f"seq {seq}: sequence numbers must start at 1",
                f"序号 {seq}：序号必须从 1 开始",
            )
        recomputed = row_hash_v1(
            row.seq, row.occurred_at, row.actor, row.org_code, row.role, row.token_id, row.case_ref, row.purpose,
            row.action, row.params, row.row_count, row.result_sha256, row.client_addr, row.prev_hash,
        )  # fmt: skip
        if row.layout_version != LAYOUT_VERSION:
            self.fail(
                seq, "bad_row", f"seq {seq}: unknown layout version {row.layout_version}",
                f"序号 {seq}：未知的哈希布局版本 {row.layout_version}",
            )  # fmt: skip
        elif recomputed != row.hash:
            self.fail(
                seq,
                "hash_mismatch",
                f"hash mismatch at seq {seq}: the row's fields no longer give its recorded hash (row changed)",
                f"序号 {seq} 哈希不符：该行内容与记录的哈希不一致（记录被篡改）",
            )
        elif row.prev_hash != self.prev_hash:
            # The row is consistent with itself, so the row before it was rewritten (or this one replaced).
            before = self.prev_seq if self.prev_seq is not None else seq
            self.fail(
                before,
                "broken_link",
                f"broken link between seq {self.prev_seq} and seq {seq}: seq {seq} records prev_hash "
                f"{row.prev_hash[:12]}… but seq {self.prev_seq} hashes to {self.prev_hash[:12]}… "
                f"(seq {before} was rewritten)",
                f"序号 {self.prev_seq} 与 {seq} 之间链接断开：序号 {seq} 记录的前一哈希与序号 {self.prev_seq} "
                f"的哈希不一致（序号 {before} 被改写）",
            )
        if seq == self.capture_seq:
            self.result.captured_hash = row.hash
        self.expected_seq = seq + 1
        self.prev_hash = row.hash
        self.prev_seq = seq

    def check_head(self, head_seq: int, head_hash: str) -> None:
        self.result.head_seq, self.result.head_hash = head_seq, head_hash
        last_seq = self.expected_seq - 1
        if head_seq > last_seq:
            missing = f"{last_seq + 1}" if head_seq == last_seq + 1 else f"{last_seq + 1}..{head_seq}"
            self.fail(
                last_seq + 1,
                "head_mismatch",
                f"head mismatch: the chain head is at seq {head_seq} but the last row is seq {last_seq} "
                f"(missing seq {missing}: rows deleted at the end)",
                f"链头不符：链头序号为 {head_seq}，但最后一行序号为 {last_seq}（缺少序号 {missing}，末尾记录被删除）",
            )
        elif head_seq < last_seq:
            self.fail(
                head_seq + 1,
                "head_mismatch",
                f"head mismatch: rows after seq {head_seq} (up to {last_seq}) were not written by audit.append()",
                f"链头不符：序号 {head_seq} 之后的记录（至 {last_seq}）不是经 audit.append() 写入的",
            )
        elif head_hash != self.prev_hash:
            self.fail(
                last_seq,
                "head_mismatch",
                f"head mismatch: the chain head's hash differs from seq {last_seq}'s hash (last row rewritten)",
                f"链头不符：链头哈希与序号 {last_seq} 的哈希不一致（最后一行被改写）",
            )


def verify_chain(
    engine: sa.Engine, *, batch_size: int = 5000, capture_seq: int | None = None
) -> VerifyResult:
    """Recompute every hash, check every link, gap-free seq from 1 and the chain head, in one snapshot."""
    checker = _ChainChecker()
    checker.capture_seq = capture_seq
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            head = conn.execute(sa.text("SELECT seq, hash FROM audit.chain_head WHERE id = 1")).one()
            rows = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
                sa.text(f"SELECT {_EVENT_COLUMNS} FROM audit.event ORDER BY seq")
            )
            for row in rows:
                checker.check_row(row)
    checker.check_head(head.seq, head.hash)
    return checker.result


def tail(engine: sa.Engine, n: int = 20) -> list[dict[str, Any]]:
    """The last n events, oldest first, as plain dicts (needs a role that may read audit.event)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT * FROM (SELECT {_EVENT_COLUMNS} FROM audit.event ORDER BY seq DESC LIMIT :n) t ORDER BY seq"
            ),
            {"n": n},
        ).mappings()
        return [
            {
                **row,
                "occurred_at": format_time(row["occurred_at"]),
                "token_id": row["token_id"] and str(row["token_id"]),
            }
            for row in rows
        ]


# ---------------------------------------------------------------- signed checkpoints

CHECKPOINT_FORMAT = "ggzy-audit-checkpoint/1"
SIGNING_KEY_FILE = "audit-ed25519.pem"


def signing_key(home: Path) -> Any:
    """The hub's ed25519 key under home/keys (created once, mode 0600), used to sign checkpoints."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = home / "keys" / SIGNING_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; read theirs
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_text(key: Any) -> str:
    """An ed25519 public key as base64 of its 32 raw bytes."""
    from cryptography.hazmat.primitives import serialization

    public = key.public_key() if hasattr(key, "public_key") else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _checkpoint_message(body: Mapping[str, Any]) -> bytes:
    """The signed bytes: canonical JSON of every field except the signature."""
    return canonical_json({k: v for k, v in body.items() if k != "signature"}).encode("utf-8")


def make_checkpoint(engine: sa.Engine, home: Path) -> dict[str, Any]:
    """The chain head (latest seq and hash) with time, database and public key, signed with the hub's key."""
    key = signing_key(home)
    with engine.connect() as conn:
        head = conn.execute(sa.text("SELECT seq, hash FROM audit.head()")).one()
        database = conn.scalar(sa.text("SELECT current_database()"))
    body: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "seq": int(head.seq),
        "hash": head.hash,
        "created_at": format_time(datetime.now(UTC)),
        "database": database,
        "public_key": public_key_text(key),
    }
    body["signature"] = base64.b64encode(key.sign(_checkpoint_message(body))).decode()
    return body


def verify_with_checkpoint(
    engine: sa.Engine, checkpoint: Mapping[str, Any], *, trusted_public_key: str | None = None
) -> VerifyResult:
    """verify_chain, then prove the log still holds the checkpoint's row: signature, seq present, same hash."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    seq = int(checkpoint.get("seq", -1))
    result = verify_chain(engine, capture_seq=seq)

    def fail(problem: str, en: str, zh: str) -> VerifyResult:
        result.problems += 1
        if result.ok:
            result.ok, result.first_broken_seq, result.problem = False, seq, problem
            result.reason, result.reason_zh = en, zh
        return result

    public = trusted_public_key or str(checkpoint.get("public_key", ""))
    if trusted_public_key and checkpoint.get("public_key") != trusted_public_key:
        return fail("checkpoint_key", "checkpoint was signed with a different key than the trusted hub key",
                    "检查点的签名公钥与可信的中心公钥不一致")  # fmt: skip
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
            base64.b64decode(str(checkpoint.get("signature", ""))), _checkpoint_message(checkpoint)
        )
    except (InvalidSignature, ValueError):
        return fail("checkpoint_signature", "checkpoint signature is invalid (file altered or not signed by the hub)",
                    "检查点签名无效（文件被改动或不是本中心签发）")  # fmt: skip
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        return fail("checkpoint_format", f"unknown checkpoint format {checkpoint.get('format')!r}",
                    f"未知的检查点格式 {checkpoint.get('format')!r}")  # fmt: skip
    if seq == 0:
        return result
    if result.captured_hash is None:
        return fail("checkpoint_missing_row",
                    f"checkpoint seq {seq} is no longer in the log (chain truncated or rewritten after the checkpoint)",
                    f"检查点序号 {seq} 已不在日志中（检查点之后日志被截断或重写）")  # fmt: skip
    if result.captured_hash != checkpoint.get("hash"):
        return fail("checkpoint_mismatch",
                    f"seq {seq} now hashes to {result.captured_hash[:12]}… but the signed checkpoint says "
                    f"{str(checkpoint.get('hash'))[:12]}… (the log was rewritten after the checkpoint)",
                    f"序号 {seq} 的哈希与签名检查点不一致（检查点之后日志被重写）")  # fmt: skip
    return result
