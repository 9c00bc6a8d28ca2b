"""The trading pull's background work (BatchMerger): what overlaps, what waits, and what a failure stops.

Real threads and plain callables: the jobs record what they saw, so each test can fail on the order alone.
The pipeline's own tests (tests/integration/test_trading_pipeline.py) run it on real batches.
"""

from __future__ import annotations

import threading
import time

import pytest

from ggzy.pipelines.trading import BatchMerger, MergeJob

WAIT = 10.0  # seconds a job waits for an event that should come at once (only reached when the test fails)


def _job(log: list[str], name: str, *, after_merges: bool = False, validate=None, merge=None) -> MergeJob:
    """A job that logs its validation and merge, running the given extra steps inside them."""

    def checked() -> str:
        log.append(f"validate {name}")
        if validate:
            validate()
        return name

    def merged(validated: str) -> str:
        assert validated == name  # the merge gets its own validation's result
        log.append(f"merge {name}")
        if merge:
            merge()
        log.append(f"merged {name}")
        return name

    return MergeJob(merge=merged, apply=lambda result: log.append(f"applied {result}"), validate=checked,
                    after_merges=after_merges)  # fmt: skip


def test_the_next_batch_is_validated_while_the_one_before_merges() -> None:
    """A's merge waits for B's validation to have happened: it returns only because the two overlap."""
    log: list[str] = []
    b_validated = threading.Event()
    seen: list[bool] = []
    with BatchMerger() as merger:
        merger.submit(_job(log, "A", merge=lambda: seen.append(b_validated.wait(WAIT))))
        merger.submit(_job(log, "B", validate=b_validated.set))
    assert seen == [True]
    assert [e for e in log if e.startswith("merge ")] == ["merge A", "merge B"]  # merges keep the order
    assert log[-2:] == ["applied A", "applied B"]  # figures are applied in the caller's thread, at the end


def test_a_batch_whose_rules_read_core_is_validated_after_the_merges_before_it() -> None:
    """after_merges: B is validated only once A's merge (slow here) is done; C, without it, does not wait."""
    log: list[str] = []
    with BatchMerger() as merger:
        merger.submit(_job(log, "A", merge=lambda: time.sleep(0.3)))
        merger.submit(_job(log, "B", after_merges=True))
    assert log.index("merged A") < log.index("validate B")

    log.clear()
    with BatchMerger() as merger:
        merger.submit(_job(log, "A", merge=lambda: time.sleep(0.3)))
        merger.submit(_job(log, "C"))
    assert log.index("validate C") < log.index("merged A")


def test_a_failed_validation_stops_what_follows_but_not_the_merges_before_it() -> None:
    """B's validation fails while A merges: A is still merged, B and C are not, the pull sees B's error."""
    log: list[str] = []
    b_failed = threading.Event()
    seen: list[bool] = []

    def fail() -> None:
        b_failed.set()
        raise ValueError("B is unreadable")

    merger = BatchMerger()
    merger.submit(_job(log, "A", merge=lambda: seen.append(b_failed.wait(WAIT))))
    merger.submit(_job(log, "B", validate=fail))
    merger.submit(_job(log, "C"))
    with pytest.raises(ValueError, match="B is unreadable"):
        merger.finish()
    assert seen == [True]
    assert "merged A" in log and "applied A" in log
    assert [e for e in log if e.endswith(("B", "C"))] == ["validate B"]


def test_a_failed_merge_stops_later_merges_and_is_raised_by_the_pull() -> None:
    """After A's merge fails nothing later is merged; raise_if_failed (called by the pull per page) raises it."""
    log: list[str] = []

    def fail() -> None:
        raise RuntimeError("core.bid is locked")

    merger = BatchMerger()
    merger.submit(_job(log, "A", merge=fail))
    merger.submit(_job(log, "B"))
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            merger.raise_if_failed()
        except RuntimeError:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the merge error never reached the caller")
    with pytest.raises(RuntimeError, match="core.bid is locked"):
        merger.finish()
    assert "merge B" not in log and not any(e.startswith("applied") for e in log)


def test_an_interrupted_pull_leaves_queued_work_undone() -> None:
    """Ctrl-C during the pull: the merge running finishes, the ones queued behind it are left for next time."""
    log: list[str] = []
    release = threading.Event()
    with pytest.raises(KeyboardInterrupt), BatchMerger() as merger:
        merger.submit(_job(log, "A", merge=lambda: release.wait(WAIT)))
        merger.submit(_job(log, "B"))
        while "merge A" not in log:
            time.sleep(0.01)
        threading.Timer(0.2, release.set).start()
        raise KeyboardInterrupt
    assert "merged A" in log and "merge B" not in log
