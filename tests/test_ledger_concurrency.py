"""Several processes on one AWS ledger (two --target aws runs from one folder, ckspec cleanup
during a run): no entry is lost, and a reader never sees half a file (issue 14)."""

from __future__ import annotations

import multiprocessing

import pytest

from ckspec.conformance.ledger import Entry, Ledger, LedgerError

CONTEXT = multiprocessing.get_context("fork")
TIMEOUT = 60


def _adder(path: str, writer: int, count: int, start) -> None:
    ledger = Ledger(path)  # each writer holds its own (soon stale) view, as a real run does
    start.wait()
    for i in range(count):
        ledger.add(Entry("key", f"k-{writer}-{i}", "eu-west-1"))


def _remover(path: str, ids: list[str], start) -> None:
    ledger = Ledger(path)
    start.wait()
    for key in ids:
        ledger.mark(Entry("key", key, "eu-west-1"), "pending")
        ledger.remove(Entry("key", key, "eu-west-1"))


def _reader(path: str, start, stop, failures) -> None:
    start.wait()
    while not stop.is_set():
        try:
            Ledger(path)
        except LedgerError as exc:
            failures.put(str(exc))
            return


def _run(processes: list) -> None:
    for p in processes:
        p.start()
    for p in processes:
        p.join(TIMEOUT)
    alive = [p for p in processes if p.is_alive()]
    for p in alive:
        p.kill()
    assert not alive, "a ledger writer did not finish (a lock never released?)"
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]


@pytest.mark.parametrize("writers, adds", [(2, 100), (4, 50)])
def test_concurrent_writers_lose_no_entry(tmp_path, writers, adds):
    path = str(tmp_path / "ledger.json")
    start, stop, failures = CONTEXT.Barrier(writers + 1), CONTEXT.Event(), CONTEXT.Queue()
    reader = CONTEXT.Process(target=_reader, args=(path, start, stop, failures))
    reader.start()
    _run([CONTEXT.Process(target=_adder, args=(path, w, adds, start)) for w in range(writers)])
    stop.set()
    reader.join(TIMEOUT)
    assert failures.empty(), failures.get()  # atomic replace: never a half-written ledger
    ids = {e.id for e in Ledger(path)}
    assert len(ids) == writers * adds
    assert ids == {f"k-{w}-{i}" for w in range(writers) for i in range(adds)}


def test_cleanup_removing_while_a_run_adds_keeps_the_new_entries(tmp_path):
    path = str(tmp_path / "ledger.json")
    old = [f"old-{i}" for i in range(60)]
    seed = Ledger(path)
    for key in old:
        seed.add(Entry("key", key, "eu-west-1"))
    start = CONTEXT.Barrier(2)
    _run([CONTEXT.Process(target=_remover, args=(path, old, start)),
          CONTEXT.Process(target=_adder, args=(path, 0, 60, start))])
    assert {e.id for e in Ledger(path)} == {f"k-0-{i}" for i in range(60)}


def test_a_change_keeps_what_another_process_wrote_since_this_one_read(tmp_path):
    path = tmp_path / "ledger.json"
    first, second = Ledger(path), Ledger(path)
    first.add(Entry("store", "cks-1", "eu-west-1"))
    second.add(Entry("key", "k-1", "eu-west-1"))  # second never read cks-1 itself
    assert {e.id for e in Ledger(path)} == {"cks-1", "k-1"}
    assert {e.id for e in second} == {"cks-1", "k-1"}  # its view is what it read under the lock
    first.remove(Entry("store", "cks-1", "eu-west-1"))
    assert {e.id for e in Ledger(path)} == {"k-1"}


def test_marking_an_entry_another_process_removed_lists_it_again(tmp_path):
    """A stale entry costs one more cleanup call; a lost one a billed resource: mark keeps it."""
    path = tmp_path / "ledger.json"
    key = Entry("key", "k-1", "eu-west-1")
    run, cleanup = Ledger(path), Ledger(path)
    run.add(key)
    cleanup.remove(key)
    run.mark(key, "pending")
    assert [(e.id, e.status) for e in Ledger(path)] == [("k-1", "pending")]
