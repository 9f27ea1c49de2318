"""The checker's verdicts, the history's outcomes and the nemesis' schedule, on made-up cases
(no I/O): what it calls lost, unexpected, duplicated and recovered, so a run that reports zeros
means what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from .checker import Counts, _judge
from .history import FAILED, OK, UNKNOWN, History, Operation, classify
from .nemesis import CATALOGUE, CONSUMERS, RELAYS, SPLIT, schedule


@pytest.mark.parametrize(
    ("outcome", "found", "refused", "verdict"),
    [
        (OK, 1, False, None),
        (OK, 0, False, "lost"),
        (OK, 0, True, "refused"),
        (OK, 2, False, "duplicated"),
        (FAILED, 0, False, None),
        (FAILED, 1, False, "unexpected"),
        (UNKNOWN, 0, False, None),
        (UNKNOWN, 1, False, "recovered"),
        (UNKNOWN, 3, False, "duplicated"),
    ],
)
def test_each_effect_is_judged_by_the_outcome_its_client_heard(
    outcome: str, found: int, refused: bool, verdict: str | None
) -> None:
    counts = Counts()
    _judge(counts, "op", outcome, found, refused)
    tallies = {
        k: getattr(counts, k) for k in ("lost", "unexpected", "duplicated", "recovered", "refused")
    }
    assert tallies == {k: int(k == verdict) for k in tallies}
    assert counts.clean == (verdict not in ("lost", "unexpected", "duplicated"))


def test_a_retry_applied_once_is_counted_apart() -> None:
    counts = Counts()
    _judge(counts, "op", OK, 1, False, attempts=3)
    _judge(counts, "op", OK, 1, False, attempts=1)
    assert (counts.retried, counts.clean) == (1, True)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(201, OK), (202, OK), (422, FAILED), (403, FAILED), (409, UNKNOWN), (429, UNKNOWN),
     (502, UNKNOWN), (503, UNKNOWN), (None, UNKNOWN)],
)  # fmt: skip
def test_only_a_definite_refusal_counts_as_failed(status: int | None, outcome: str) -> None:
    assert classify(status) == outcome


def test_an_operation_once_unknown_never_becomes_failed(tmp_path: Path) -> None:
    """A later definite refusal (e.g. the key already used) cannot undo what an earlier,
    unanswered attempt may have done; an ok is final."""
    history = History(tmp_path / "h.jsonl")
    maybe = Operation("a", "reading", "1")
    for outcome in (UNKNOWN, FAILED):
        history.invoke(maybe)
        history.complete(maybe, outcome)
    done = Operation("b", "reading", "1")
    for outcome in (UNKNOWN, OK, UNKNOWN):
        history.invoke(done)
        history.complete(done, outcome)
    history.close()
    assert (maybe.outcome, done.outcome) == (UNKNOWN, OK)
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    assert len(lines) == 10  # every attempt: invoked and its outcome


def test_the_schedule_kills_a_relay_and_a_consumer_alone() -> None:
    """Every fault of the catalogue comes once per round; a relay or a consumer is killed by
    its role process's name (the split services'), never a whole service."""
    faults = schedule(1919)
    assert sorted(f.name for f in faults) == sorted(CATALOGUE)
    targets = {f.name: f.target for f in faults if f.name.startswith("kill-")}
    assert targets["kill-relay"] in RELAYS and targets["kill-consumer"] in CONSUMERS
    assert all(t.split("-")[0] in SPLIT for t in (*RELAYS, *CONSUMERS))
    assert schedule(1919) == faults  # the seed fixes it
