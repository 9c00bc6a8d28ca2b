"""Wall time of quality.runner.validate_penalty_batch for staged batches of given sizes (not a test).

Synthetic 双公示 rows (about 1% with faults) go straight into raw.penalty_row with COPY, after an
ops.batch row; then the batch is validated (first call builds the cached GX context; a second call
shows the warm cost). Uses GGZY_DATABASE_URL / GGZY_HOME like the hub (the embedded server by default).

    .venv/bin/python bench/validation_timing.py 1000 1000000
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import time
import uuid

import sqlalchemy as sa

from ggzy import database
from ggzy.identifiers import make_uscc
from ggzy.settings import get_settings

AUTHORITY = "11230500001755309F"


def synthetic_rows(n: int):
    """n rows, every 100th with one fault (cycling over bad check digit, bad category, date order, no fine)."""
    faults = ("check_digit", "category", "date_order", "fine")
    for i in range(1, n + 1):
        party = make_uscc("91", "230500", f"{i % 100000000:08d}")
        row = {
            "cf_xdr_mc": f"测试企业{i}有限公司", "cf_xdr_lb": "法人及非法人组织", "cf_xdr_shxym": party,
            "cf_wsh": f"市场【2024】{i}号", "cf_wfxw": "串通投标", "cf_sy": "违法事实", "cf_yj": "招标投标法第五十三条",
            "cf_cflb": "警告;罚款", "cf_nr": "罚款2000元", "cf_nr_fk": "0.2", "cf_jdrq": "2024-03-01",
            "cf_yxq": "2025-03-01", "cf_gsjzq": "2025-03-01", "cf_cfjg": "双鸭山市公安局", "cf_cfjgdm": AUTHORITY,
            "cf_sjly": "双鸭山市公安局", "cf_sjlydm": AUTHORITY,
        }  # fmt: skip
        if i % 100 == 0:
            fault = faults[(i // 100) % len(faults)]
            if fault == "check_digit":
                row["cf_xdr_shxym"] = party[:17] + ("0" if party[17] != "0" else "1")
            elif fault == "category":
                row["cf_cflb"] = "警告;训诫"
            elif fault == "date_order":
                row["cf_jdrq"] = "2025-04-01"
            else:
                row["cf_nr_fk"] = ""
        yield i + 1, row  # source_row: line numbers after a header line


def stage(engine: sa.Engine, n: int, fields: list[str]) -> tuple[str, float]:
    """Create an ops.batch row and COPY n synthetic rows into raw.penalty_row; returns (batch id, COPY seconds)."""
    batch_id = str(uuid.uuid4())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for source_row, row in synthetic_rows(n):
        writer.writerow([batch_id, source_row, "current", *(row.get(f) for f in fields)])
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute(
                "INSERT INTO ops.batch (id, dataset, source, sha256, byte_size, raw_path)"
                " VALUES (%s, 'penalties', 'bench', %s, 0, '-')",
                (batch_id, batch_id),
            )
            started = time.perf_counter()
            cur.copy_expert(
                f"COPY raw.penalty_row (batch_id, source_row, source_format, {', '.join(fields)}) FROM STDIN"
                " WITH (FORMAT csv)",
                buffer,
            )
            copied = time.perf_counter() - started
            cur.execute("ANALYZE raw.penalty_row")
        raw.commit()
    finally:
        raw.close()
    return batch_id, copied


def main() -> None:
    """Stage and validate one batch per size given on the command line; print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 1_000_000])
    args = parser.parse_args()

    from connectors.penalties import PENALTY_FIELDS
    from quality.runner import validate_penalty_batch

    settings = get_settings()
    database.migrate(settings)
    engine = database.engine(settings)
    for n in args.sizes:
        batch_id, staged = stage(engine, n, list(PENALTY_FIELDS))
        first = validate_penalty_batch(engine, batch_id)
        second = validate_penalty_batch(engine, batch_id)
        errors, warned = len(first.error_rows()), sum(1 for r in first.failures if first.warning_rules(r))
        load = os.getloadavg()[0]
        print(
            f"{n:>9} rows (load {load:.1f}): COPY {staged:7.2f}s | validate {first.run_seconds:7.2f}s (first call),"
            f" {second.run_seconds:7.2f}s (warm) | {first.expectations_run} expectations,"
            f" {errors} error rows, {warned} warned rows, {n / second.run_seconds:,.0f} rows/s"
        )
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM ops.batch WHERE id = :b"), {"b": batch_id})


if __name__ == "__main__":
    main()
