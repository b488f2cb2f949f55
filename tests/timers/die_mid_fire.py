"""A scheduler stopped mid-fire, for tests: claims the oldest due timer (simulated clock), fires it
and writes everything of that unit of work but the commit, prints the timer's id, then waits to be
killed.

Usage: python tests/timers/die_mid_fire.py DATABASE_URL
"""

from __future__ import annotations

import sys

from engine.bpmn import runtime, timers
from engine.platform.clock import SimulatedClock
from engine.platform.db import make_engine, session_factory


def main(url: str) -> None:
    engine = make_engine(url)
    clock = SimulatedClock(engine)
    with session_factory(engine)() as session:
        timer = timers.claim_next(session, clock.now())
        assert timer is not None, "nothing is due"
        assert runtime.fire_timer(session, timer.id, clock=clock, skip_locked=True)
        session.flush()  # the instance, projections and audit events are written, not committed
        print(timer.id, flush=True)
        sys.stdin.read()  # until killed


if __name__ == "__main__":
    main(sys.argv[1])
