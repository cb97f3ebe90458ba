"""A play's lift compares every lead assigned to it with the held-out leads (intention to treat).

The history is built so the true effect is known exactly: in both arms one lead in
ten buys between the play's signal and its send (the message cannot have caused
that), and the message then lifts buying after the send from 10 % to 20 %. The
early buyers' messages are stopped by their purchase and two treated leads' messages
are still planned: comparing only the sent leads drops the early buyers from the
treatment arm while the control arm keeps its own, and the lift comes out low.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.leads.outcomes_report import newcombe_interval
from tests.outcomes.test_report import T0, Seed, report

DUE = T0 + timedelta(days=1)
EARLY = DUE - timedelta(hours=1)  # after the signal (4 hours before due), before the send
LATER = DUE + timedelta(hours=6)


def arm(seed: Seed, leads: int, *, early: int, later: int, treated: bool) -> None:
    """``leads`` leads of one arm: ``early`` buy before the send, ``later`` after it."""
    for index in range(leads):
        if index < early:
            lead_id = seed.buyer(EARLY)
            status = "stopped" if treated else "held_out"
        elif index < early + later:
            lead_id = seed.buyer(LATER)
            status = "queued" if treated else "held_out"
        else:
            lead_id = seed.lead()
            # Two messages not released yet (the frequency cap postponed them).
            status = ("planned" if index >= leads - 2 else "queued") if treated else "held_out"
        seed.followup(lead_id, "cart", status, DUE)


def test_lift_counts_every_assigned_lead_and_is_exact(engine: Engine) -> None:
    seed = Seed()
    # Treatment: 20 of 200 buy early (stopped), 40 of the other 180 after the send.
    arm(seed, 200, early=20, later=40, treated=True)
    # Control: 10 of 100 buy early, 10 after the send.
    arm(seed, 100, early=10, later=10, treated=False)
    seed.insert(engine)

    (row,) = report(engine).as_dict()["plays"]
    # 60/200 against 20/100: the planted 10 points, exactly.
    assert (row["assigned"], row["held_out"], row["eligible"]) == (200, 100, 300)
    assert (row["sent"], row["stopped"], row["planned"]) == (178, 20, 2)
    assert (row["assigned_group"]["converted"], row["held_out_group"]["converted"]) == (60, 20)
    assert row["lift"] == 0.1
    low, high = newcombe_interval(60, 200, 20, 100) or (0.0, 0.0)
    assert (row["lift_low"], row["lift_high"]) == (round(low, 4), round(high, 4))

    # Sent leads alone: 40/178 against 20/100, 2.5 points where the truth is 10. (Counting
    # only orders after the send was due instead, 40/178 against 10/100, gives 12.5: the
    # early buyers still leave one arm's denominator and stay in the other's.)
    sent = row["sent_group"]
    assert (sent["leads"], sent["converted"]) == (178, 40)
    biased = sent["rate"] - row["held_out_group"]["rate"]
    assert biased == pytest.approx(40 / 178 - 0.2, abs=1e-4)
    assert row["lift"] - biased > 0.07
