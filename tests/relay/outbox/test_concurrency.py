"""Claimers side by side: threads on the handles of one process, and whole processes. No
two ever get one letter, and together they get every one."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from ._helpers import T0, letter, open_store
from .conftest import OutboxFactory, child

ENVELOPES = 300
PROCESS_ENVELOPES = 1500


def test_threads_claiming_one_robot_never_get_an_letter_twice(
    make_outbox: OutboxFactory,
) -> None:
    handles = [make_outbox(), make_outbox()]
    handles[0].put([letter(n) for n in range(ENVELOPES)])
    taken: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work(n: int) -> None:
        outbox = handles[n % 2]
        start.wait()
        while claimed := outbox.claim("ops", now=T0, lease=3600, limit=3):
            with lock:
                taken.extend(e.id for e in claimed)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    twice = [i for i, n in Counter(taken).items() if n > 1]
    assert twice == []
    assert sorted(taken) == [letter(n).id for n in range(ENVELOPES)]


@pytest.mark.parametrize("lapsed", [False, True], ids=["new", "lapsed"])
def test_processes_claiming_one_robot_never_get_an_letter_twice(
    store: str, tmp_path: Path, lapsed: bool
) -> None:
    processes = 4
    outbox = open_store(store)
    outbox.put([letter(n) for n in range(PROCESS_ENVELOPES)])
    if lapsed:  # taken over from a claimer whose lease is over, not read anew
        outbox.claim("ops", now=T0 - 10, lease=10, limit=PROCESS_ENVELOPES)
        assert outbox.due(T0) == {"ops": PROCESS_ENVELOPES}
    outbox.close()
    go = tmp_path / "go"
    children = [child(store, "claim", "ops", repr(T0), str(go)) for _ in range(processes)]
    for process in children:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    go.touch()  # every child is waiting for it: they start claiming together
    taken: dict[int, list[str]] = {}
    for n, process in enumerate(children):
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        taken[n] = [line.split()[1] for line in out.splitlines()]
    every = [i for claimed in taken.values() for i in claimed]
    twice = [i for i, n in Counter(every).items() if n > 1]
    assert twice == []
    assert sorted(every) == [letter(n).id for n in range(PROCESS_ENVELOPES)]
    assert sum(1 for claimed in taken.values() if claimed) >= 2  # they did compete
