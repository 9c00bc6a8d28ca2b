"""The process supervisor behind `ggzy run`: the whole hub on one machine, started, watched and stopped together.

Start-up, in order (each step is printed with its duration):
1. the embedded PostgreSQL (unless GGZY_DATABASE_URL points elsewhere), the warehouse schema (Alembic),
   Airflow's metadata database (`airflow db migrate`, skipped when already done for this Airflow version);
2. member units synced from the jurisdiction profile, push units without an endpoint pointed at the
   receiver stand-in, the receiver's configuration (secrets and member tokens) written, and on a first
   run the departments stand-in's demo files dropped into the drop folder;
3. child processes, each in its own process group with its output in <GGZY_HOME>/logs/<name>.log:
   the exchange-centre and Credit China stand-ins (for each source not configured: the pulls are pointed at
   them), the hub API, the member-unit receiver stand-in and Airflow's api-server, dag-processor, scheduler
   and triggerer (`service_specs()` is the one place their command lines are built);
4. health waits: HTTP endpoints for the API, the receiver and Airflow's api-server; Airflow's own health
   report (heartbeats) for the scheduler, dag-processor and triggerer; then until the hub's DAGs are parsed;
5. every pipeline's DAG unpaused and triggered once (penalty ingest, delivery and overdue report; the three
   trading pulls; Credit China; supervision once the trading API pull has finished); a table of where
   everything is; each run's outcome, and the ingest's per file (rows in, loaded, quarantined, duplicate).
Then it watches: if a child dies, everything is stopped and the exit code is 1. Ctrl-C or SIGTERM stops
every child (SIGTERM to its process group and each descendant, SIGKILL after a grace period) and the
embedded PostgreSQL if this run started it, so nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from ggzy import database
from ggzy.airflow_env import (
    AirflowClient,
    admin_credentials,
    airflow_base_url,
    airflow_command,
    airflow_environment,
    ensure_airflow_db,
)
from ggzy.errors import HubError
from ggzy.settings import Settings, get_settings
from ggzy.workflows import HUB_DAG_IDS, PENALTY_INGEST
from ggzy.workflows.credit import CREDIT_DAG_ID
from ggzy.workflows.supervision import SUPERVISION_DAG_ID
from ggzy.workflows.trading import SOURCES, TRADING_DAG_IDS

TRADING_API_PULL = SOURCES["api"][0]
AFTER_TRADING = (SUPERVISION_DAG_ID,)  # triggered when the first trading API pull has finished
# Every pipeline `ggzy run` unpauses and runs once at start (the monthly report keeps to its schedule).
RUN_DAG_IDS = (*HUB_DAG_IDS, *TRADING_DAG_IDS, CREDIT_DAG_ID, *AFTER_TRADING)
# Runs followed by the row figures of the datasets loaded since start-up (ops.batch names start with these).
DATASET_PREFIXES = {TRADING_API_PULL: "trading_", CREDIT_DAG_ID: "credit_"}

START_TIMEOUT_SECONDS = 300.0  # Airflow components on 2 busy cores can take a minute or more each
DAGS_TIMEOUT_SECONDS = 300.0
FIRST_RUN_TIMEOUT_SECONDS = 900.0
STOP_GRACE_SECONDS = 30.0
POLL_SECONDS = 1.0
RECEIVER_POLL_SECONDS = 60  # the receiver stand-in reads pull units' feeds this often
# The exchange-centre stand-in's year under `ggzy run`: small enough for a first pull of a minute or so.
RUN_EXCHANGE_SECTIONS = 200
RUN_EXCHANGE_SEED = 0
EXCHANGE_STANDIN_KEY = "standin-key"
CREDIT_STANDIN_KEY = "ggzy-hub"
CREDIT_STANDIN_SECRET = "credit-china-standin-secret"  # a local stand-in's published test secret, not a credential


@dataclass(frozen=True)
class ServiceSpec:
    """One child process: how to start it, where it listens, how to tell it is ready."""

    name: str
    command: list[str]
    url: str | None = None  # shown to the operator
    health_url: str | None = None  # ready when this answers 2xx
    airflow_component: str | None = None  # ready when Airflow's health report says this is healthy
    ports: tuple[int, ...] = ()  # must be free before start
    stop_stage: int = 1  # stopped in ascending stages: Airflow's workers first, while the APIs still answer


def ggzy_command(*args: str) -> list[str]:
    """A `ggzy` CLI call with this installation (the console script next to this interpreter)."""
    script = Path(sys.executable).with_name("ggzy")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from ggzy.cli import main; main()", *args]


def receiver_config_path(settings: Settings) -> Path:
    """The member-unit receiver stand-in's configuration (unit secrets and tokens; mode 0600)."""
    return settings.home / "standins" / "members.json"


def receiver_webhook_url(settings: Settings, unit_code: str) -> str:
    """The receiver stand-in's endpoint for one unit."""
    return f"http://127.0.0.1:{settings.receiver_port}/units/{unit_code}/webhook"


def standin_sources(settings: Settings) -> dict[str, str]:
    """Environment pointing the trading API and Credit China pulls at `ggzy run`'s stand-ins, for each
    source the operator left unconfigured (a configured source is used as it is)."""
    env: dict[str, str] = {}
    if not settings.exchange_api_url:
        env["GGZY_EXCHANGE_API_URL"] = f"http://127.0.0.1:{settings.exchange_standin_port}"
        env["GGZY_EXCHANGE_API_KEY"] = EXCHANGE_STANDIN_KEY
    if not settings.credit_china_url:
        env["GGZY_CREDIT_CHINA_URL"] = f"http://127.0.0.1:{settings.credit_standin_port}"
        env["GGZY_CREDIT_CHINA_APP_KEY"] = CREDIT_STANDIN_KEY
        env["GGZY_CREDIT_CHINA_APP_SECRET"] = CREDIT_STANDIN_SECRET
    return env


def _standin_specs(settings: Settings) -> list[ServiceSpec]:
    """The exchange-centre and Credit China stand-ins, for the sources `standin_sources` fills in."""
    sources, specs = standin_sources(settings), []
    if "GGZY_EXCHANGE_API_URL" in sources:
        url, port = sources["GGZY_EXCHANGE_API_URL"], settings.exchange_standin_port
        specs.append(ServiceSpec(
            "exchange-centre-standin",
            ggzy_command("standins", "exchange", "serve", "--port", str(port), "--seed", str(RUN_EXCHANGE_SEED),
                         "--sections", str(RUN_EXCHANGE_SECTIONS), "--api-key", EXCHANGE_STANDIN_KEY),
            url=url, health_url=f"{url}/healthz", ports=(port,),
        ))  # fmt: skip
    if "GGZY_CREDIT_CHINA_URL" in sources:
        url, port = sources["GGZY_CREDIT_CHINA_URL"], settings.credit_standin_port
        specs.append(ServiceSpec(
            "credit-china-standin",
            ggzy_command("standins", "credit", "serve", "--port", str(port), "--app-key", CREDIT_STANDIN_KEY,
                         "--app-secret", CREDIT_STANDIN_SECRET, "--exchange-sections", str(RUN_EXCHANGE_SECTIONS),
                         "--exchange-seed", str(RUN_EXCHANGE_SEED)),
            url=url, health_url=f"{url}/healthz", ports=(port,),
        ))  # fmt: skip
    return specs


def service_specs(settings: Settings) -> list[ServiceSpec]:
    """Every child process of `ggzy run`, in start order: the one place their command lines are built."""
    api = f"http://{settings.api_host}:{settings.api_port}"
    receiver = f"http://127.0.0.1:{settings.receiver_port}"
    airflow = airflow_base_url(settings)
    return [
        *_standin_specs(settings),
        ServiceSpec(
            "hub-api",
            ggzy_command("api", "serve", "--host", settings.api_host, "--port", str(settings.api_port)),
            url=f"{api}/docs", health_url=f"{api}/healthz", ports=(settings.api_port,),
        ),
        ServiceSpec(
            "member-receiver",
            ggzy_command("standins", "members", "serve", "--config", str(receiver_config_path(settings)),
                         "--port", str(settings.receiver_port), "--poll-seconds", str(RECEIVER_POLL_SECONDS)),
            url=f"{receiver}/units", health_url=f"{receiver}/health", ports=(settings.receiver_port,),
        ),
        ServiceSpec(
            "airflow-api-server",
            airflow_command("api-server", "--host", "127.0.0.1", "--port", str(settings.airflow_port)),
            url=airflow, health_url=f"{airflow}/api/v2/monitor/health", ports=(settings.airflow_port,),
        ),
        ServiceSpec("airflow-dag-processor", airflow_command("dag-processor"), airflow_component="dag_processor",
                    stop_stage=0),
        ServiceSpec("airflow-scheduler", airflow_command("scheduler"), airflow_component="scheduler",
                    ports=(settings.airflow_port + 1,), stop_stage=0),
        ServiceSpec("airflow-triggerer", airflow_command("triggerer"), airflow_component="triggerer",
                    ports=(settings.airflow_port + 2,), stop_stage=0),
    ]  # fmt: skip


class Shutdown(BaseException):
    """Raised by the SIGTERM/SIGINT handler to leave whatever the supervisor was waiting for."""


@dataclass
class Child:
    """A started child process and its log."""

    spec: ServiceSpec
    process: subprocess.Popen
    log_path: Path
    log: IO[bytes]
    started_at: float = field(default_factory=time.monotonic)

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log, for error messages."""
        self.log.flush()
        text = self.log_path.read_bytes()[-8000:].decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Starts child processes in their own process groups, watches them, and stops them all."""

    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.children: list[Child] = []
        self.log_dir = settings.home / "logs"

    def start(self, spec: ServiceSpec) -> Child:
        """Start one child with its output appended to logs/<name>.log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 (kept open for the child's lifetime)
        log.write(f"\n=== {datetime.now().isoformat(timespec='seconds')} {' '.join(spec.command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            spec.command, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=self.settings.home,
        )  # fmt: skip
        child = Child(spec, process, log_path, log)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        """Children that have exited."""
        return [child for child in self.children if child.process.poll() is not None]

    def raise_if_dead(self) -> None:
        """Fail with the child's log tail when one of them has exited."""
        for child in self.dead():
            raise HubError(
                "service_exited",
                f"{child.spec.name} 已退出（退出码 {child.process.returncode}），日志 {child.log_path}",
                f"{child.spec.name} exited with code {child.process.returncode}; log {child.log_path}",
                detail={
                    "service": child.spec.name,
                    "log": str(child.log_path),
                    "tails": {child.spec.name: child.tail()},
                },
            )

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> list[str]:
        """Stop every child, stage by stage; returns the processes that had to be SIGKILLed.

        Stage 0 is Airflow's scheduler, dag-processor and triggerer: the scheduler lets running tasks
        finish, and they still need the api-server (execution API), the hub API and the receiver, which
        stop in stage 1. In each stage every child's process group gets one SIGTERM; whatever of their
        process trees (collected first: Airflow runs tasks in process groups of their own) is still
        alive after the grace period is SIGKILLed.
        """
        killed: list[str] = []
        for stage in sorted({child.spec.stop_stage for child in self.children}):
            killed += _stop_children([c for c in self.children if c.spec.stop_stage == stage], grace)
        for child in self.children:
            child.process.poll()
            child.log.close()
        return killed


def _stop_children(children: list[Child], grace: float) -> list[str]:
    """SIGTERM each child's process group once; SIGKILL what of their trees survives the grace period."""
    import psutil

    processes: list[psutil.Process] = []
    for child in children:
        try:
            root = psutil.Process(child.process.pid)
            processes += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    for child in children:
        _signal_group(child.process.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(processes, timeout=grace)
    killed = []
    for process in alive:
        try:
            tree = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in tree:
            try:
                killed.append(f"{member.pid} {' '.join(member.cmdline()[:4])}")
                member.kill()
            except psutil.NoSuchProcess:
                pass
    psutil.wait_procs(alive, timeout=5)
    for child in children:
        child.process.poll()  # reap
    return killed


def _signal_group(pgid: int, signum: int) -> None:
    """Signal a whole process group, ignoring one that is already gone."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def check_ports(specs: list[ServiceSpec]) -> None:
    """Refuse to start when a port the hub needs is taken (another `ggzy run`, another program)."""
    busy = [(spec.name, port) for spec in specs for port in spec.ports if _port_in_use(port)]
    if busy:
        names = ", ".join(f"{port} ({name})" for name, port in busy)
        raise HubError(
            "port_in_use",
            f"端口已被占用：{names}。请停止占用进程，或通过 GGZY_API_PORT / GGZY_AIRFLOW_PORT / GGZY_RECEIVER_PORT 换用其他端口",
            f"port(s) already in use: {names}. Stop whatever uses them or choose others with "
            "GGZY_API_PORT / GGZY_AIRFLOW_PORT / GGZY_RECEIVER_PORT",
            detail={"ports": [port for _, port in busy]},
        )


def _http_ok(url: str) -> bool:
    """True when url answers 2xx."""
    import httpx

    try:
        return httpx.get(url, timeout=5.0, trust_env=False).is_success
    except httpx.HTTPError:
        return False


def wait_until_ready(
    supervisor: Supervisor, airflow: AirflowClient, console: Console, timeout: float = START_TIMEOUT_SECONDS
) -> dict[str, float]:
    """Wait until every child answers its health check; returns seconds-to-ready per service."""
    pending = {child.spec.name: child for child in supervisor.children}
    ready: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while pending:
        supervisor.raise_if_dead()
        report: dict[str, Any] | None = None
        for name, child in list(pending.items()):
            spec = child.spec
            if spec.health_url:
                ok = _http_ok(spec.health_url)
            else:
                if report is None:
                    try:
                        report = airflow.health()
                    except Exception:  # noqa: BLE001 (api-server not up yet)
                        report = {}
                ok = (report.get(spec.airflow_component) or {}).get("status") == "healthy"
            if ok:
                ready[name] = round(time.monotonic() - child.started_at, 1)
                console.print(f"  [green]✓[/] {name} ready after {ready[name]} s")
                del pending[name]
        if pending and time.monotonic() > deadline:
            raise HubError(
                "service_not_ready",
                f"{', '.join(pending)} 在 {timeout:.0f} 秒内未就绪，请查看 {supervisor.log_dir}",
                f"{', '.join(pending)} not ready within {timeout:.0f} s; see the logs in {supervisor.log_dir}",
                detail={"tails": {name: child.tail(5) for name, child in pending.items()}},
            )
        if pending:
            time.sleep(POLL_SECONDS)
    return ready


def wait_for_dags(
    supervisor: Supervisor,
    airflow: AirflowClient,
    dag_ids: tuple[str, ...],
    timeout: float = DAGS_TIMEOUT_SECONDS,
) -> None:
    """Wait until the dag-processor has parsed and stored every hub DAG."""
    deadline = time.monotonic() + timeout
    while True:
        supervisor.raise_if_dead()
        missing = set(dag_ids) - airflow.dag_ids()
        if not missing:
            return
        if time.monotonic() > deadline:
            raise HubError(
                "dags_not_parsed",
                f"DAG {', '.join(sorted(missing))} 未被解析，请查看 logs/airflow-dag-processor.log",
                f"DAGs {', '.join(sorted(missing))} were not parsed; see logs/airflow-dag-processor.log",
            )
        time.sleep(2 * POLL_SECONDS)


def prepare_warehouse(settings: Settings, console: Console) -> None:
    """Start the embedded PostgreSQL if needed and migrate the warehouse and Airflow's metadata database."""
    with _step(console, "PostgreSQL + warehouse schema (Alembic)"):
        database.migrate(settings)
    with _step(console, "Airflow metadata database (airflow db migrate)") as note:
        outcome = ensure_airflow_db(settings)
        note(
            f"migrated in {outcome['seconds']} s"
            if outcome["migrated"]
            else "already at " + str(outcome["revision"])
        )


def _embedded_running(settings: Settings) -> bool:
    """True when the embedded server's postmaster is alive."""
    pid_file = settings.pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().splitlines()[0]), 0)
    except (ValueError, ProcessLookupError, IndexError):
        return False
    except PermissionError:
        return True
    return True


def prepare_standins(settings: Settings, console: Console) -> dict[str, Any]:
    """Point push units without an endpoint at the receiver stand-in, write its config, seed the drop folder."""
    import json

    import sqlalchemy as sa

    from ggzy.delivery.units import list_units, sync_units
    from ggzy.jurisdictions import load_profile
    from standins.member_units import config_from_warehouse

    engine = database.engine(settings)
    existing = {unit["code"]: unit["endpoint_url"] for unit in list_units(engine)}

    def endpoint_for(unit: Any) -> str | None:
        """The stand-in endpoint for a unit without one (or still on a stand-in); keep real endpoints."""
        current = existing.get(unit.code)
        standin = (
            current
            and current.startswith("http://127.0.0.1:")
            and current.endswith(f"/units/{unit.code}/webhook")
        )
        return receiver_webhook_url(settings, unit.code) if not current or standin else None

    units = sync_units(engine, load_profile(settings.jurisdiction), endpoint_for)
    path = receiver_config_path(settings)
    secrets = {unit["code"]: unit["secret"] for unit in units}
    current_config = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    kept = {code: entry.get("secret") for code, entry in current_config.get("units", {}).items()}
    if kept != secrets or current_config.get("hub_url") != settings.api_base_url:
        config = config_from_warehouse(
            engine, hub_url=settings.api_base_url, data_dir=settings.home / "standins" / "members"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(config, fh, ensure_ascii=False, indent=2)
    seeded = 0
    with engine.connect() as conn:
        first_run = not conn.scalar(sa.text("SELECT EXISTS (SELECT 1 FROM ops.batch)"))
    waiting = (
        [p for p in settings.drop_folder.glob("*/*") if p.is_file()] if settings.drop_folder.exists() else []
    )
    if first_run and not waiting:
        from standins.departments import write_demo_drop

        seeded = len(write_demo_drop(settings.drop_folder))
    console.print(
        f"  [green]✓[/] {len(units)} member units synced; receiver config {path}"
        + (f"; {seeded} department files dropped into {settings.drop_folder}" if seeded else "")
    )
    return {"units": len(units), "seeded_files": seeded}


@contextmanager
def _step(console: Console, label: str) -> Iterator[Callable[[str], None]]:
    """Print a start-up step with its duration (and an optional note)."""
    notes: list[str] = []
    started = time.monotonic()
    with console.status(f"{label} …"):
        yield notes.append
    extra = f" ({'; '.join(notes)})" if notes else ""
    console.print(f"  [green]✓[/] {label}: {time.monotonic() - started:.1f} s{extra}")


def where_table(settings: Settings, supervisor: Supervisor, triggered: dict[str, str]) -> Table:
    """Where everything is: URLs, pids, logs, credentials, folders."""
    user, _, password_file = admin_credentials(settings)
    table = Table(title="ggzy-hub is running / 数据共享中心已启动 (Ctrl-C to stop / 按 Ctrl-C 停止)")
    table.add_column("component / 组件")
    table.add_column("where / 地址")
    table.add_column("pid", justify="right")
    table.add_column("log / 日志")
    for child in supervisor.children:
        table.add_row(child.spec.name, child.spec.url or "", str(child.process.pid), str(child.log_path))
    table.add_row("Airflow admin", f"user {user}, password in {password_file}", "", "")
    table.add_row("warehouse / 数据仓库", _safe_url(database.warehouse_url(settings)), "", "")
    table.add_row("GGZY_HOME", str(settings.home), "", str(supervisor.log_dir))
    table.add_row("drop folder / 投递目录", str(settings.drop_folder), "", "")
    table.add_row("reports / 报告", str(settings.home / "reports"), "", "")
    for dag_id, run_id in triggered.items():
        table.add_row(f"DAG {dag_id}", f"{airflow_base_url(settings)}/dags/{dag_id}", "", f"run {run_id}")
    return table


def _safe_url(url: str) -> str:
    """A database URL with its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def batches_since(settings: Settings, since: datetime) -> list[dict[str, Any]]:
    """Batches of the manifest (ops.batch) received or finished since a moment, oldest first."""
    import sqlalchemy as sa

    with database.engine(settings).connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT dataset, submitted_by, filename, status, rows_in, rows_loaded, rows_warned, rows_quarantined,"
                " rows_duplicate FROM ops.batch WHERE received_at >= :since OR finished_at >= :since"
                " ORDER BY received_at, filename"
            ),
            {"since": since},
        ).mappings().all()  # fmt: skip
    return [dict(row) for row in rows]


def batch_conserved(batch: Mapping[str, Any]) -> bool:
    """A manifest row's row conservation: every count known and rows_in = loaded + quarantined + duplicate."""
    counts = [batch[k] for k in ("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate")]
    return None not in counts and counts[0] == sum(counts[1:])


def datasets_line(batches: list[dict[str, Any]], prefix: str) -> str | None:
    """One line of row figures over the finished batches of datasets named prefix*: in, loaded, quarantined,
    duplicate, and whether every batch conserved its rows (None when there are none)."""
    chosen = [b for b in batches if b["dataset"].startswith(prefix) and b["status"] == "loaded"]
    if not chosen:
        return None
    totals = {key: sum(b[key] or 0 for b in chosen) for key in ("rows_in", "rows_loaded", "rows_quarantined",
                                                                  "rows_duplicate")}  # fmt: skip
    conserved = all(batch_conserved(b) for b in chosen)
    datasets = len({b["dataset"] for b in chosen})
    return (
        f"{prefix.rstrip('_')} since start: {datasets} datasets, {len(chosen)} batches; rows in {totals['rows_in']:,},"
        f" loaded {totals['rows_loaded']:,}, quarantined {totals['rows_quarantined']:,},"
        f" duplicate {totals['rows_duplicate']:,}; "
        + ("conserved ✓ / 行数守恒" if conserved else "NOT conserved ✗ / 行数不守恒")
    )


def ingest_outcome_table(batches: list[dict[str, Any]]) -> Table:
    """The first ingest, one row per file, with its row conservation."""
    table = Table(title="first penalty ingest / 首次处罚决定入库")
    columns = ("unit", "file", "status", "in", "loaded", "warned", "quarantined", "duplicate", "conserved")
    for column in columns:
        table.add_column(column, justify="left" if column in ("unit", "file", "status") else "right")
    for b in batches:
        figures = [
            b[k] for k in ("rows_in", "rows_loaded", "rows_warned", "rows_quarantined", "rows_duplicate")
        ]
        table.add_row(
            b["submitted_by"] or "", b["filename"] or "", b["status"], *("" if f is None else str(f) for f in figures),
            "✓" if batch_conserved(b) else "✗",
        )  # fmt: skip
    return table


def print_error(console: Console, error: HubError) -> None:
    """A start-up error in both languages, with the last log lines of the services concerned."""
    console.print(f"[red]{error.zh}\n{error.en}[/]")
    tails = error.detail.get("tails", {}) if isinstance(error.detail, dict) else {}
    for name, tail in tails.items():
        console.print(f"--- {name} (last lines of its log)", markup=False)
        console.print(tail, markup=False, highlight=False)


def run_hub(settings: Settings | None = None, console: Console | None = None, *, trigger: bool = True) -> int:
    """Run the whole hub until Ctrl-C/SIGTERM (`ggzy run`); returns the process exit code."""
    settings = settings or get_settings()
    console = console or Console(stderr=True)
    began = time.monotonic()
    began_at = datetime.now(UTC)
    started_postgres = settings.embedded and not _embedded_running(settings)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(signum: int, frame: Any) -> None:
        """Leave whatever is running for the shutdown in `finally`."""
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # one stop is enough; stop_all is bounded in time
        raise Shutdown(signal.Signals(signum).name)

    console.print(f"[bold]ggzy-hub[/] starting in {settings.home} (jurisdiction {settings.jurisdiction})")
    specs = service_specs(settings)
    try:
        check_ports(specs)
    except HubError as error:
        print_error(console, error)
        return 1
    supervisor = Supervisor(settings, {})
    airflow = AirflowClient(settings)
    exit_code = 0
    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        supervisor.env = {
            **os.environ, **airflow_environment(settings), **standin_sources(settings), "PYTHONUNBUFFERED": "1"
        }  # fmt: skip
        prepare_warehouse(settings, console)
        prepare_standins(settings, console)
        with _step(console, "child processes ready"):
            for spec in specs:
                supervisor.start(spec)
            wait_until_ready(supervisor, airflow, console)
        with _step(console, "hub DAGs parsed by the dag-processor"):
            wait_for_dags(supervisor, airflow, RUN_DAG_IDS)
        triggered: dict[str, str] = {}
        for dag_id in RUN_DAG_IDS:
            airflow.unpause(dag_id)
            if trigger and dag_id not in AFTER_TRADING:
                triggered[dag_id] = airflow.trigger(dag_id)
        console.print(where_table(settings, supervisor, triggered))
        console.print(f"started in {time.monotonic() - began:.0f} s")
        watch(supervisor, airflow, console, settings, triggered, began_at)
    except Shutdown as stop:
        console.print(f"\n{stop.args[0] if stop.args else 'stop'} received: stopping / 正在停止 …")
    except HubError as error:
        print_error(console, error)
        exit_code = 1
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        airflow.close()
        killed = supervisor.stop_all()
        if killed:
            console.print(f"[yellow]killed after {STOP_GRACE_SECONDS:.0f} s: {', '.join(killed)}[/]")
        database.dispose_engines()
        if started_postgres:
            database.stop_embedded(settings)
        console.print(
            f"stopped ({len(supervisor.children)} processes"
            + (", PostgreSQL" if started_postgres else "")
            + ")"
        )
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code


def watch(
    supervisor: Supervisor,
    airflow: AirflowClient,
    console: Console,
    settings: Settings,
    triggered: dict[str, str],
    began_at: datetime,
) -> None:
    """Watch the children until a signal; report each triggered run as it finishes.

    The supervision DAG is triggered once the trading API pull has finished, so its first scoring sees the
    exchange centre's data. Unpausing lets the scheduler start the latest scheduled ingest run at once,
    ahead of the triggered one (one active run at a time); so the ingest's outcome is read from the
    warehouse: every batch since start-up.
    """
    pending = dict(triggered)
    deadline = time.monotonic() + FIRST_RUN_TIMEOUT_SECONDS
    next_poll = 0.0
    while True:
        supervisor.raise_if_dead()
        if pending and time.monotonic() >= next_poll:
            next_poll = time.monotonic() + 3
            for dag_id, run_id in list(pending.items()):
                try:
                    state = airflow.run_state(dag_id, run_id)
                except Exception as exc:  # noqa: BLE001 (a transient API error must not stop the hub)
                    console.print(f"[yellow]could not read the state of {dag_id}'s run: {exc}[/]")
                    continue
                if state not in ("success", "failed"):
                    continue
                del pending[dag_id]
                report_first_run(console, settings, airflow, dag_id, state, began_at)
                if dag_id == TRADING_API_PULL:
                    pending.update({follow: airflow.trigger(follow) for follow in AFTER_TRADING})
            if pending and time.monotonic() > deadline:
                console.print(
                    f"[yellow]still running after {FIRST_RUN_TIMEOUT_SECONDS:.0f} s: {', '.join(pending)}[/]"
                )
                pending = {}
        time.sleep(POLL_SECONDS)


def report_first_run(
    console: Console, settings: Settings, airflow: AirflowClient, dag_id: str, state: str, began_at: datetime
) -> None:
    """Print a triggered run's state; for the penalty ingest, every batch the hub ingested since start-up."""
    colour = "green" if state == "success" else "red"
    elapsed = (datetime.now(UTC) - began_at).total_seconds()
    console.print(f"[{colour}]{dag_id} run {state}[/] ({elapsed:.0f} s after start)")
    if state != "success":
        console.print(f"task logs: {airflow.base_url}/dags/{dag_id}/runs")
    if dag_id in DATASET_PREFIXES:
        line = datasets_line(batches_since(settings, began_at), DATASET_PREFIXES[dag_id])
        if line:
            console.print(f"  {line}")
    if dag_id != PENALTY_INGEST:
        return
    batches = [b for b in batches_since(settings, began_at) if b["dataset"] == "penalty_decision"]
    if batches:
        console.print(ingest_outcome_table(batches))
    else:
        console.print(f"no new file in the drop folder / 投递目录中没有新文件: {settings.drop_folder}")


if __name__ == "__main__":
    raise SystemExit(run_hub())
