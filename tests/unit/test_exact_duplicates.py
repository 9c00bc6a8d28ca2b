"""In-file exact duplicates: the first of identical rows is kept, with or without a narrowing key."""

import pyarrow as pa
import pytest

from ggzy.pipelines.penalties import _drop_exact_duplicates

FIELDS = ["authority", "number", "text"]


def _table(rows: list[tuple]) -> pa.Table:
    return pa.table(
        {
            "source_row": pa.array(range(1, len(rows) + 1), pa.int32()),
            **{name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(FIELDS)},
        }
    )


ROWS = [
    ("A", "1", "x"),
    ("A", "1", "x"),  # exact duplicate of row 1
    ("A", "1", "y"),  # same key, other text: kept
    ("B", "2", "z"),
    (None, None, "n"),  # no key: kept once ...
    (None, None, "n"),  # ... and its twin dropped, as without the narrowing key
    ("B", "2", "z"),  # exact duplicate of row 4, far from it
    ("C", None, "q"),
]


@pytest.mark.parametrize("narrowing_key", [None, ["authority", "number"], ["number"]])
def test_first_of_identical_rows_is_kept(narrowing_key) -> None:
    kept, dropped = _drop_exact_duplicates(_table(ROWS), FIELDS, narrowing_key)
    assert dropped == 3
    assert kept.column("source_row").to_pylist() == [1, 3, 4, 5, 8]


def test_a_file_without_repeated_keys_is_returned_whole() -> None:
    rows = [("A", str(n), "same text") for n in range(50)]
    kept, dropped = _drop_exact_duplicates(_table(rows), FIELDS, ["authority", "number"])
    assert (kept.num_rows, dropped) == (50, 0)
