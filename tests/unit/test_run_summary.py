"""What `ggzy run` prints when a trading or credit pull finishes: row figures per kind of dataset."""

from ggzy.services import DATASET_PREFIXES, RUN_DAG_IDS, datasets_line


def batch(dataset: str, rows_in: int, loaded: int, quarantined: int = 0, duplicate: int = 0) -> dict:
    return {"dataset": dataset, "status": "loaded", "rows_in": rows_in, "rows_loaded": loaded, "rows_quarantined": quarantined,
            "rows_duplicate": duplicate}  # fmt: skip


def test_the_line_sums_the_datasets_of_one_kind_and_says_whether_every_batch_conserved() -> None:
    batches = [batch("trading_507", 10, 8, 1, 1), batch("trading_519", 5, 5), batch("penalty_decision", 7, 7)]
    line = datasets_line(batches, "trading_")
    assert line is not None and line.startswith("trading since start: 2 datasets, 2 batches; rows in 15, loaded 13")
    assert "quarantined 1, duplicate 1; conserved ✓" in line
    broken = datasets_line([*batches, batch("trading_502", 4, 2)], "trading_")
    assert broken is not None and "NOT conserved ✗" in broken and "3 datasets" in broken


def test_no_line_without_batches_and_every_summed_dag_is_run() -> None:
    assert datasets_line([batch("penalty_decision", 1, 1)], "credit_") is None
    assert datasets_line([{**batch("credit_x", 3, 0), "status": "landed"}], "credit_") is None  # still running
    assert set(DATASET_PREFIXES) <= set(RUN_DAG_IDS)
