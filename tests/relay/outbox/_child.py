"""A relay process the tests kill or run side by side: ``_child.py WHERE MODE ARGS...``.

Each mode prints a line once what it names has returned from the outbox (so committed):

- ``put FIRST``: puts letters ``FIRST``, ``FIRST + 1``, ... for ever, two robots per put
  (one commit), printing ``put <id>`` for both after each ``put`` returns, then idling up
  to a millisecond or two (a relay between webhooks: a kill lands there as often as within
  a put, where a put that returned before its commit was durable would be caught).
- ``claim ROBOT NOW GO``: prints ``ready``, waits for the file ``GO``, then claims
  ``ROBOT``'s letters (a few at a time, a long lease) until none is left, printing
  ``claimed <id>`` for each, pausing a moment between claims.
- ``hold ROBOT NOW LEASE``: claims all of ``ROBOT``'s letters once, prints them, then
  ``holding``, and waits to be killed with its lease held.
- ``merge FIRST``: for pair k = FIRST, FIRST + 1, ...: puts two letters for robot
  ``m<k>``, printing ``put <k>``, claims them and merges them into the digest ``d<k>``,
  printing ``merged <k>``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from _helpers import T0, letter, open_store  # type: ignore[import-not-found]


def main(where: str, mode: str, *args: str) -> None:
    outbox = open_store(where)
    if mode == "put":
        n = int(args[0])
        idle = random.Random(n)
        while True:
            pair = [letter(n, robot="ops"), letter(n + 1, robot="dev")]
            outbox.put(pair)
            print(f"put {pair[0].id}\nput {pair[1].id}", flush=True)
            time.sleep(idle.random() * 0.002)
            n += 2
    elif mode == "claim":
        robot, now, go = args[0], float(args[1]), Path(args[2])
        print("ready", flush=True)
        while not go.exists():
            time.sleep(0.001)
        pause = random.Random()
        while claimed := outbox.claim(robot, now=now, lease=3600, limit=3):
            print("\n".join(f"claimed {e.id}" for e in claimed), flush=True)
            # A worker sends what it claimed before claiming more; without this pause one
            # process could take SQLite's lock again and again while the others' busy
            # handlers sleep, and nothing would be contended.
            time.sleep(pause.random() * 0.003)
    elif mode == "hold":
        robot, now, lease = args[0], float(args[1]), float(args[2])
        claimed = outbox.claim(robot, now=now, lease=lease, limit=10_000)
        print("\n".join([*(f"claimed {e.id}" for e in claimed), "holding"]), flush=True)
        while True:
            time.sleep(60)
    elif mode == "merge":
        k = int(args[0])
        while True:
            robot = f"m{k}"
            outbox.put([letter(2 * k, robot=robot), letter(2 * k + 1, robot=robot)])
            print(f"put {k}", flush=True)
            now = T0 + k
            ids = [e.id for e in outbox.claim(robot, now=now, lease=60, limit=2)]
            digest = letter(0, robot=robot, id=f"d{k:06d}", group="digest")
            outbox.merge(ids, digest, now=now, lease=60)
            print(f"merged {k}", flush=True)
            k += 1
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
