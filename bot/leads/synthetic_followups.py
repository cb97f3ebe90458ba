"""A synthetic history run through the follow-up plays, with a planted lift per play.

:func:`write_with_followups` stores synthetic leads (:mod:`bot.leads.synthetic`)
the way a running shop would have seen them, on a clock that steps over their
days (every :data:`STEP`, the last step at ``now``). At each step:

1. the leads whose last visit ended by then are stored through the lead service,
   scored at that moment, with the status sales gave them and, for the shoppers
   who left it (at the end of their last visit:
   :attr:`bot.leads.synthetic.SyntheticLead.contact`), their e-mail address
   with consent;
2. the follow-up planner plans every consenting lead
   (:meth:`bot.followups.planner.FollowupPlanner.plan_all`): the configured plays
   whose conditions hold, each ``planned`` or ``held_out`` by the configuration's
   seeded holdout;
3. it releases the due ones into the outbox (stop rules, frequency cap, quiet
   hours), and the outbox records each message delivered, as a mail server that
   accepts everything would.

Then the planted truth (:class:`PlayTruth`) decides who buys: a lead sent or held
out of at least one play due before ``now`` buys with the chance ``base_rate``
plus the ``lift`` of every play it was *sent*, between :data:`PURCHASE_AFTER` and
:data:`PURCHASE_WITHIN` after its latest follow-up (sent, or due when held out),
as a ``purchase`` event through the lead service, which records the order and
marks the lead Won. Each play's holdout is drawn on its own, so play by play the
sent group converts ``lift`` more than the held-out group, whatever else its
leads were sent. No shopper replies or unsubscribes, so every lead assigned a
play is sent it, and the outcome report's lift (by intention to treat: assigned
against held out) is the planted one. A purchase that would come after ``now``
has not happened yet: measure over follow-ups due at least
:data:`PURCHASE_WITHIN` before ``now``.

What it leaves out: shoppers who bought on their journey, or whom sales marked
Lost, are never followed up; handoffs are not simulated (``handoff_past_sla``
plays never come due); a shopper does not reply or unsubscribe.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.catalog import Product, Variant
from bot.followups.planner import FollowupPlanner
from bot.handoff.channels import Outcome
from bot.handoff.config import Delivery
from bot.handoff.outbox import Attempted, OutboxStore
from bot.leads.commands import RecordEvent
from bot.leads.service import LeadService
from bot.leads.synthetic import SyntheticLead, WriteSummary, write_history
from bot.store.db import write_transaction
from bot.store.models import Followup, Lead

# How often the simulated worker stores, plans and releases (the real one: every few
# seconds); each step costs a planning pass over every consenting lead.
STEP = timedelta(hours=4)
# A lead that buys after its follow-ups does so this long after the latest one, at most.
PURCHASE_WITHIN = timedelta(days=3)
PURCHASE_AFTER = timedelta(hours=1)
SENT, HELD_OUT = "queued", "held_out"
_CLAIM_BATCH = 500
_APPLY_BATCH = 1000


class PlayTruthError(ValueError):
    """A planted truth that cannot hold: an unknown play, a rate outside [0, 1]."""


@dataclass(frozen=True)
class PlayTruth:
    """The planted ground truth of follow-ups: each play's lift over the base rate.

    A lead followed up converts with ``base_rate`` plus the lifts of the plays it
    was sent (at most 1); a play not named lifts nothing.
    """

    lifts: Mapping[str, float]
    base_rate: float = 0.05

    def __post_init__(self) -> None:
        if not 0 <= self.base_rate <= 1:
            raise PlayTruthError(f"base rate must be between 0 and 1, got {self.base_rate}")
        for play, lift in self.lifts.items():
            if not 0 <= self.base_rate + lift <= 1:
                raise PlayTruthError(
                    f"lift of {play}: base rate {self.base_rate} + lift {lift} "
                    "must be between 0 and 1"
                )

    def chance(self, sent: Iterable[str]) -> float:
        """The chance to buy of a lead sent these plays (and held out of any others)."""
        lifted = self.base_rate + sum(self.lifts.get(play, 0.0) for play in set(sent))
        return min(1.0, max(0.0, lifted))

    def for_plays(self, plays: Sequence[str]) -> PlayTruth:
        """The truth over the configured ``plays``: lift 0 for those it does not name.

        :class:`PlayTruthError` names a play it lifts that is not configured.
        """
        unknown = sorted(set(self.lifts) - set(plays))
        if unknown:
            raise PlayTruthError(
                f"no play {', '.join(unknown)} in the follow-up configuration: "
                f"expected one of {', '.join(plays)}"
            )
        return PlayTruth({play: self.lifts.get(play, 0.0) for play in plays}, self.base_rate)

    def describe(self) -> str:
        """One line: the base rate and each play's lift, in points."""
        lifts = ", ".join(f"{play} {lift * 100:+g}" for play, lift in self.lifts.items())
        return f"base rate {self.base_rate:.1%}; lift per play sent (points): {lifts}"


# The plays of the shipped configuration (bot/followups/default.yml): two that work,
# one that does a little, one that does nothing. Handoffs are not simulated, so
# not_forgotten never comes due.
DEFAULT_PLAY_TRUTH = PlayTruth(
    {
        "checkout_recovery": 0.12,
        "cart_recovery": 0.08,
        "budget_alternatives": 0.03,
        "timeline_reminder": 0.0,
    }
)


def parse_play_lift(text: str) -> tuple[str, float]:
    """``cart_recovery=0.10`` as ``("cart_recovery", 0.1)``; ``ValueError`` says what is wrong."""
    play, sign, number = text.partition("=")
    if not sign or not play.strip():
        raise ValueError(f"expected PLAY=LIFT such as cart_recovery=0.10, got {text!r}")
    try:
        lift = float(number)
    except ValueError:
        raise ValueError(f"the lift of {play.strip()} is not a number: {number!r}") from None
    if not -1 <= lift <= 1:
        raise ValueError(f"the lift of {play.strip()} is a share between -1 and 1, got {lift}")
    return play.strip(), lift


@dataclass
class PlaySummary:
    """One play's follow-ups due before ``now``: sent, held out, and their buyers."""

    sent: int = 0
    held_out: int = 0
    sent_bought: int = 0
    held_out_bought: int = 0


@dataclass
class FollowupSummary:
    """What :func:`write_with_followups` did after storing the leads."""

    consents: int = 0
    buyers: int = 0
    # Purchases drawn that would come after ``now`` (not written).
    later_buyers: int = 0
    plays: dict[str, PlaySummary] = field(default_factory=dict)


def write_with_followups(
    service: LeadService,
    planner: FollowupPlanner,
    leads: Iterable[SyntheticLead],
    truth: PlayTruth,
    *,
    seed: int,
    now: datetime,
    step: timedelta = STEP,
    progress: Callable[[int], None] | None = None,
) -> tuple[WriteSummary, FollowupSummary]:
    """Store the leads over their days with follow-ups, then draw purchases (module doc).

    Holds the leads in memory (they are stored in the order their visits end).
    The holdout hashes the lead ids the store draws, so two runs of the same seed
    hold out different leads; the planted lifts hold on every run.
    """
    truth = truth.for_plays([play.name for play in planner.config.plays])
    engine = service.engine
    ending = sorted(leads, key=lambda lead: (_last_seen(lead), lead.session_id))
    written = WriteSummary()
    summary = FollowupSummary()
    outbox = OutboxStore(engine, Delivery())
    tick = _last_seen(ending[0]) if ending else now
    stored = 0
    while True:
        ended = stored
        while ended < len(ending) and _last_seen(ending[ended]) <= tick:
            ended += 1
        if ended > stored:
            batch = ending[stored:ended]
            _add(written, write_history(service, batch, len(batch), now=tick))
            contacts = [lead.contact for lead in batch if lead.contact is not None]
            service.apply(contacts, now=tick)
            summary.consents += len(contacts)
            if progress is not None:
                progress(len(batch))
        stored = ended
        planner.plan_all(engine, tick)
        _release(engine, planner, outbox, tick)
        if tick >= now:
            break
        tick = min(tick + step, now)
    _purchases(service, planner, truth, random.Random(f"{seed}:followups"), now, summary)
    return written, summary


def _last_seen(lead: SyntheticLead) -> datetime:
    """When the lead's last visit ended (its last event, answer or consent)."""
    seen = max(
        command.ts if isinstance(command, RecordEvent) else command.answered_at
        for command in lead.commands
    )
    consent = lead.contact.consent_at if lead.contact is not None else None
    return max(seen, consent) if consent is not None else seen


def _add(total: WriteSummary, part: WriteSummary) -> None:
    total.leads += part.leads
    total.events += part.events
    total.duplicate_events += part.duplicate_events
    total.purchases += part.purchases
    for status, count in part.statuses.items():
        total.statuses[status] = total.statuses.get(status, 0) + count


def _release(engine: Engine, planner: FollowupPlanner, outbox: OutboxStore, now: datetime) -> None:
    """Queue every due follow-up, then record each queued message delivered."""
    while True:
        with write_transaction(engine) as connection:
            stats = planner.release_due(connection, now)
        if not (stats.queued or stats.stopped or stats.postponed):
            break
    while claimed := outbox.claim(_CLAIM_BATCH, now):
        outbox.record([Attempted(m, Outcome(delivered=True), now, 0) for m in claimed], now)


@dataclass(frozen=True)
class _Followed:
    """One follow-up of a lead, sent or held out, due before ``now``."""

    play: str
    sent: bool
    # When it reached the shopper (sent) or would have (held out).
    at: datetime


def _followed_up(engine: Engine, now: datetime) -> dict[str, tuple[str, list[_Followed]]]:
    """``{lead id: (session id, follow-ups)}`` of the leads sent or held out, by session id."""
    followups, leads = Followup.__table__, Lead.__table__
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                followups.c.lead_id,
                leads.c.session_id,
                followups.c.play,
                followups.c.status,
                followups.c.due_at,
                followups.c.queued_at,
            )
            .join(leads, leads.c.id == followups.c.lead_id)
            .where(followups.c.status.in_((SENT, HELD_OUT)), followups.c.due_at < now)
            .order_by(leads.c.session_id, followups.c.play)
        ).all()
    found: dict[str, tuple[str, list[_Followed]]] = {}
    for row in rows:
        sent = row.status == SENT
        found.setdefault(row.lead_id, (row.session_id, []))[1].append(
            _Followed(row.play, sent, row.queued_at if sent else row.due_at)
        )
    return found


def _bought(
    planner: FollowupPlanner, engine: Engine, lead_ids: list[str]
) -> dict[str, tuple[Product, Variant | None]]:
    """What each lead buys: the variant it chose, else the product it saw last."""
    catalog = planner.catalog
    with engine.connect() as connection:
        recipients = planner.recipients(connection, lead_ids)
    found: dict[str, tuple[Product, Variant | None]] = {}
    for lead_id in lead_ids:
        recipient = recipients[lead_id]
        chosen = catalog.variant(recipient.variant_id) if recipient.variant_id else None
        if chosen is not None:
            found[lead_id] = chosen
            continue
        seen = catalog.product(recipient.product_id) if recipient.product_id else None
        found[lead_id] = (seen or catalog.products[0], None)
    return found


def _purchases(
    service: LeadService,
    planner: FollowupPlanner,
    truth: PlayTruth,
    rng: random.Random,
    now: datetime,
    summary: FollowupSummary,
) -> None:
    """Draw who buys after their follow-ups, in session order, and store their purchases."""
    followed = _followed_up(service.engine, now)
    lead_ids = list(followed)
    bought = _bought(planner, service.engine, lead_ids)
    purchases: list[RecordEvent] = []
    for lead_id in lead_ids:
        session, rows = followed[lead_id]
        buys = rng.random() < truth.chance(row.play for row in rows if row.sent)
        at = max(row.at for row in rows) + PURCHASE_AFTER
        at += (PURCHASE_WITHIN - PURCHASE_AFTER) * rng.random()
        seen = buys and at < now
        for row in rows:
            play = summary.plays.setdefault(row.play, PlaySummary())
            if row.sent:
                play.sent += 1
                play.sent_bought += seen
            else:
                play.held_out += 1
                play.held_out_bought += seen
        if not buys:
            continue
        if not seen:
            summary.later_buyers += 1
            continue
        summary.buyers += 1
        product, variant = bought[lead_id]
        purchases.append(
            RecordEvent(
                session_id=session,
                event_id=f"{session}-followup-purchase",
                type="purchase",
                ts=at,
                source="storefront",
                product_id=product.id,
                variant_id=variant.id if variant is not None else None,
                value=variant.price if variant is not None else product.price,
                properties={"order_id": f"{session}-followup-order", "currency": product.currency},
            )
        )
    for start in range(0, len(purchases), _APPLY_BATCH):
        service.apply(purchases[start : start + _APPLY_BATCH], now=now)
