"""`ggzy standins`: Local stand-ins for external systems: member-unit receiver, department submitters."""

import typer

app = typer.Typer(help="Local stand-ins for external systems: member-unit receiver, department submitters.", no_args_is_help=True)


# --- departments (department stand-in: realistic good and broken 双公示 files) ---------------------


@app.command("departments")
def departments_command(
    out: str = typer.Option(
        ..., "--out", help="Drop folder to write into, laid out as OUT/<unit code>/<file>."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed writes the same bytes."),
    rows: int = typer.Option(20, "--rows", min=1, help="Good rows per file (broken rows come on top)."),
    units: str = typer.Option(
        "",
        "--units",
        help="Comma-separated unit codes (default: the jurisdiction's supervising departments).",
    ),
    truth: str = typer.Option(
        "", "--truth", help="Also write the ground truth (expected rules per row) to this JSON file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON on stdout."),
) -> None:
    """Write demo department files: a broken workbook, a GBK CSV, a broken JSON, a legacy CSV, then good files.

    Example: ggzy standins departments --out .ggzy/drop --seed 1
    """
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from standins.departments import write_demo_drop

    codes = [code.strip() for code in units.split(",") if code.strip()] or None
    written = write_demo_drop(Path(out), codes, seed=seed, rows=rows)
    summaries = [{"path": str(path), **generated.summary()} for path, generated in written]
    if truth:
        Path(truth).write_text(json.dumps(summaries, ensure_ascii=False, indent=2), encoding="utf-8")
    if as_json:
        typer.echo(
            json.dumps(
                [{k: v for k, v in s.items() if k != "expected"} for s in summaries], ensure_ascii=False
            )
        )
        return
    table = Table(
        "unit", "file", "rows", "loaded", "warned", "quarantined", "duplicate", title=f"written to {out}"
    )
    columns = "unit filename rows_in rows_loaded rows_warned rows_quarantined rows_duplicate".split()
    for s in summaries:
        table.add_row(*(str(s[c]) for c in columns))
    Console(stderr=True).print(table)


# --- members (member-unit receiver stand-in: verifies, de-duplicates, stores, acknowledges) -------

members_app = typer.Typer(
    help="成员单位接收端模拟 Member-unit receiver stand-in: many units' webhook endpoints on one port.",
    no_args_is_help=True,
)
app.add_typer(members_app, name="members")


@members_app.command("serve")
def members_serve_command(
    config: str = typer.Option(..., "--config", help="配置文件 / JSON or YAML {hub_url, data_dir, units}."),
    port: int = typer.Option(8700, "--port", help="监听端口 / port on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址 / bind address."),
    data_dir: str = typer.Option("", "--data-dir", help="存储目录 / where received messages are kept (SQLite)."),
    poll_seconds: float = typer.Option(
        0.0, "--poll-seconds", help="拉取单位读取订阅的间隔（0 = 不拉取）/ read pull units' feeds every N s (0: off)."
    ),
) -> None:
    """运行接收端 Serve /units/<code>/webhook for every configured unit until Ctrl-C.

    Failure modes: POST /control/<code> {"mode": "ok"|"down"|"500"|"slow"|"410", "slow_seconds": n,
    "acknowledge": true|false}. Inspect: GET /units, /units/<code>/messages, /units/<code>/stats.
    """
    from pathlib import Path

    from rich.console import Console

    from standins.member_units import load_config, receiver_from_config

    settings = load_config(Path(config))
    receiver = receiver_from_config(settings, host=host, port=port, data_dir=Path(data_dir) if data_dir else None)
    Console(stderr=True).print(
        f"[green]member-unit receiver[/] on http://{host}:{port} · {len(receiver.units)} unit(s) · "
        f"receipts to {receiver.hub_url or '(none: acknowledging off)'} · data {receiver.store.path}"
    )
    receiver.serve(poll_seconds=poll_seconds or None)


@members_app.command("config")
def members_config_command(
    out: str = typer.Option(..., "--out", help="写入的配置文件 / configuration file to write (JSON)."),
    hub_url: str = typer.Option("", "--hub", help="中心 API 地址 / hub API base URL (default GGZY_PUBLIC_BASE_URL)."),
    data_dir: str = typer.Option("", "--data-dir", help="接收端存储目录 / receiver data dir (default GGZY_HOME/standins/members)."),
    no_tokens: bool = typer.Option(False, "--no-tokens", help="不签发令牌（不签收）/ issue no tokens (no receipts)."),
) -> None:
    """生成接收端配置 Write a receiver configuration from the warehouse: every unit's secret and a new member token."""
    import json
    import os
    from pathlib import Path

    from ggzy import database
    from ggzy.settings import get_settings
    from standins.member_units import config_from_warehouse

    settings = get_settings()
    config = config_from_warehouse(
        database.engine(settings), hub_url=hub_url or settings.api_base_url,
        data_dir=Path(data_dir) if data_dir else settings.home / "standins" / "members", issue_tokens=not no_tokens,
    )  # fmt: skip
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets and tokens
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(config, fh, ensure_ascii=False, indent=2)
    typer.echo(str(path))


# --- exchange (exchange-centre stand-in: a seeded year of trading data in the national spec) -----

exchange_app = typer.Typer(
    help=(
        "交易中心模拟 Exchange-centre stand-in: a seeded, synthetic year of one city's public-resource trading "
        "in the national data spec (500-519, 9010, 9011, 302/303, 402, 404), with planted collusion rings "
        "and data faults. Serve it over HTTP, seed it into MariaDB/PostgreSQL, or drop it as files."
    ),
    no_args_is_help=True,
)
app.add_typer(exchange_app, name="exchange")


def _exchange_year(seed: int, sections: int, year: int, region: str, clock: str) -> object:
    from standins.exchange_centre import TradingYear

    return TradingYear(seed=seed, sections=sections, year=year, region_code=region, clock=clock or None)


_SEED = typer.Option(0, "--seed", help="随机种子 / seed: the same seed gives the same records.")
_SECTIONS = typer.Option(2000, "--sections", min=1, help="标段数 / sections (~10 bids each; 97000 ≈ 1M bids).")
_YEAR = typer.Option(2025, "--year", help="交易年度 / the calendar year generated.")
_REGION = typer.Option("410800", "--region", help="行政区划代码 / GB/T 2260 code of the city (default 焦作 410800).")
_CLOCK = typer.Option(
    "", "--clock", help="模拟时钟 / only records with DATA_TIMESTAMP <= this yyyyMMddHHmmss are visible (default all)."
)
_CODES = typer.Option("", "--datasets", help="数据集 / comma-separated dataset numbers (default all), e.g. 507,519.")


def _codes(text: str) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] or None


@exchange_app.command("serve")
def exchange_serve_command(
    port: int = typer.Option(8710, "--port", help="监听端口 / port on 127.0.0.1 (0: any free port)."),
    seed: int = _SEED,
    sections: int = _SECTIONS,
    year: int = _YEAR,
    region: str = _REGION,
    clock: str = _CLOCK,
    api_key: str = typer.Option("standin-key", "--api-key", help="X-Api-Key the clients must send."),
    index: str = typer.Option("", "--index", help="SQLite index file to build or reuse (default: a temp file)."),
) -> None:
    """运行交易中心接口 Serve the centre's paginated API until Ctrl-C.

    Example: ggzy standins exchange serve --port 8710 --seed 1 --sections 2000 --clock 20250701000000

    Then: curl -H 'X-Api-Key: standin-key' 'http://127.0.0.1:8710/api/v1/datasets/507?limit=100&since=20250301000000'
    (follow next_cursor); curl -X POST -d '{"days": 30}' http://127.0.0.1:8710/control/advance moves the clock;
    curl -X POST -d '{"after_records": 50}' http://127.0.0.1:8710/control/fail drops the next response mid-way once.
    """
    from rich.console import Console

    from standins.exchange_centre import ExchangeCentreServer

    trading_year = _exchange_year(seed, sections, year, region, clock)
    console = Console(stderr=True)
    console.print(f"[yellow]building the index of {sections} sections (seed {seed})…[/]")
    server = ExchangeCentreServer(trading_year, port=port, api_key=api_key, index_path=index or None)  # type: ignore[arg-type]

    def ready(url: str) -> None:
        counts = {d["code"]: d["count"] for d in server.list_datasets()}
        console.print(f"[green]exchange-centre stand-in[/] on {url} · key {api_key!r} · clock "
                      f"{trading_year.clock or 'all visible'} · bids {counts['507']} · Ctrl-C stops")  # type: ignore[attr-defined]  # fmt: skip

    def stop_on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops cleanly too (the temporary index is removed)

    import signal

    signal.signal(signal.SIGTERM, stop_on_term)
    server.serve_forever(on_ready=ready)


@exchange_app.command("seed-db")
def exchange_seed_db_command(
    url: str = typer.Argument(..., help="SQLAlchemy URL, e.g. mysql+pymysql://root@127.0.0.1:3306/exchange"),
    seed: int = _SEED,
    sections: int = _SECTIONS,
    year: int = _YEAR,
    region: str = _REGION,
    clock: str = _CLOCK,
    datasets: str = _CODES,
    append: bool = typer.Option(False, "--append", help="只追加新记录 / keep tables, add rows newer than their max DATA_TIMESTAMP."),
) -> None:
    """写入中心数据库 Create spec tables (TENDER_LIST, …) in MariaDB or PostgreSQL and load the year.

    Example: ggzy standins exchange seed-db mysql+pymysql://root@127.0.0.1:3306/exchange --sections 500
    Example: ggzy standins exchange seed-db postgresql+psycopg2://postgres@127.0.0.1:5432/exchange --datasets 507,519
    The database is created when missing. Prints rows written per dataset as JSON.
    """
    import json

    from standins.exchange_centre import seed_database

    trading_year = _exchange_year(seed, sections, year, region, clock)
    counts = seed_database(url, trading_year, _codes(datasets), replace=not append, create_database=True)  # type: ignore[arg-type]
    typer.echo(json.dumps(counts))


@exchange_app.command("write-files")
def exchange_write_files_command(
    folder: str = typer.Argument(..., help="输出目录 / drop folder to write <TABLE>_<yyyyMMdd>.<fmt> files into."),
    fmt: str = typer.Option("json", "--format", help="文件格式 / json | xml | csv."),
    seed: int = _SEED,
    sections: int = _SECTIONS,
    year: int = _YEAR,
    region: str = _REGION,
    clock: str = _CLOCK,
    datasets: str = _CODES,
) -> None:
    """生成文件投递 Write the year as file drops, one file per dataset and day.

    Example: ggzy standins exchange write-files .ggzy/drop/exchange --format xml --sections 200 --datasets 502,507
    """
    from standins.exchange_centre import write_files

    if fmt not in ("json", "xml", "csv"):
        raise typer.BadParameter("--format must be json, xml or csv / 格式须为 json、xml 或 csv")
    paths = write_files(folder, _exchange_year(seed, sections, year, region, clock), fmt, _codes(datasets))  # type: ignore[arg-type]
    typer.echo(f"{len(paths)} files written to {folder}")


@exchange_app.command("truth")
def exchange_truth_command(
    seed: int = _SEED,
    sections: int = _SECTIONS,
    year: int = _YEAR,
    region: str = _REGION,
    faults: bool = typer.Option(False, "--faults", help="同时输出数据缺陷 / also print the planted data faults."),
) -> None:
    """输出标准答案 Print the planted collusion rings (and optionally data faults) as JSON.

    Example: ggzy standins exchange truth --seed 1 --sections 2000 --faults > truth.json
    """
    import json

    trading_year = _exchange_year(seed, sections, year, region, "")
    payload: dict[str, object] = {"rings": trading_year.ground_truth()}  # type: ignore[attr-defined]
    if faults:
        payload["faults"] = trading_year.faults()  # type: ignore[attr-defined]
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))


# --- credit (Credit China data-sharing channel stand-in) ---------------------------------------------

credit_app = typer.Typer(
    help=(
        "信用中国模拟 Credit China stand-in: the official data-sharing channel's lists (失信被执行人, 严重失信主体名单, "
        "other regions' 双公示 penalties) with inclusions, corrections and removals over time, behind a signed API."
    ),
    no_args_is_help=True,
)
app.add_typer(credit_app, name="credit")


@credit_app.command("serve")
def credit_serve_command(
    port: int = typer.Option(8720, "--port", help="监听端口 / port on 127.0.0.1 (0: any free port)."),
    seed: int = typer.Option(0, "--seed", help="随机种子 / seed: the same seed gives the same lists."),
    app_key: str = typer.Option("ggzy-hub", "--app-key", help="X-App-Key the clients must send."),
    app_secret: str = typer.Option(
        "credit-china-standin-secret", "--app-secret", help="HMAC secret the clients sign requests with."
    ),
    exchange_sections: int = typer.Option(
        0, "--exchange-sections", min=0,
        help="名单覆盖交易中心投标人 / list bidders of an exchange stand-in year of this many sections (0: none), "
        "so the cross-checks find restricted bidders.",
    ),  # fmt: skip
    exchange_seed: int = typer.Option(0, "--exchange-seed", help="该交易中心模拟年度的种子 / that year's seed."),
) -> None:
    """运行信用中国通道 Serve the Credit China channel until Ctrl-C or SIGTERM.

    Example: ggzy standins credit serve --port 8720 --exchange-sections 200

    Then point the hub at it: GGZY_CREDIT_CHINA_URL=http://127.0.0.1:8720 GGZY_CREDIT_CHINA_APP_KEY=ggzy-hub
    GGZY_CREDIT_CHINA_APP_SECRET=credit-china-standin-secret; curl http://127.0.0.1:8720/healthz answers unsigned.
    """
    import signal
    import threading

    from rich.console import Console

    from standins.credit_china import CreditChinaFeed, CreditChinaServer, exchange_bidders

    overlap = []
    if exchange_sections:
        overlap = exchange_bidders(_exchange_year(exchange_seed, exchange_sections, 2025, "410800", ""))
    server = CreditChinaServer(CreditChinaFeed(seed, overlap_usccs=overlap), app_key=app_key, app_secret=app_secret,
                               port=port)  # fmt: skip
    stopped = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    server.start()
    counts = server.feed.counts()
    Console(stderr=True).print(
        f"[green]Credit China stand-in[/] on {server.base_url} · key {app_key!r} · "
        + " · ".join(f"{name} {count}" for name, count in counts.items()) + " · Ctrl-C stops"
    )  # fmt: skip
    try:
        while not stopped.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
