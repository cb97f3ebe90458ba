"""Fit points a flow awards for answers reach the score, with the flow's reason."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.scoring import LeadFacts, load_scoring_config, score
from tests.scoring import SCORING_CONFIG

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def _points(facts: LeadFacts, rule: str) -> tuple[int, str] | None:
    result = score(facts, load_scoring_config(SCORING_CONFIG), load_catalog(DEMO_CATALOG), NOW)
    found = [reason for reason in result.reasons if reason.rule == rule]
    assert sum(reason.points for reason in result.reasons) == result.score
    return (found[0].points, found[0].detail) if found else None


def _award(facts: LeadFacts, key: str, points: int, reason: str | None, minutes: int) -> None:
    facts.fold_event(
        "answer_points",
        NOW - timedelta(minutes=minutes),
        properties={"key": key, "points": points, "reason": reason},
    )


def test_the_latest_award_per_question_counts_in_any_order() -> None:
    awards = [("purpose", 7, "Buying a gift", 30), ("purpose", 0, None, 10), ("size", 3, None, 5)]
    for _ in range(5):
        random.shuffle(awards)
        facts = LeadFacts()
        for key, points, reason, minutes in awards:
            _award(facts, key, points, reason, minutes)
        # "purpose" changed to an answer worth nothing: no reason is listed for it.
        assert _points(facts, "fit.flow.purpose") is None
        assert _points(facts, "fit.flow.size") == (3, "answered size")


def test_awards_survive_the_stored_facts_and_add_to_fit() -> None:
    facts = LeadFacts()
    _award(facts, "purpose", 7, "Buying a gift", 1)
    stored = LeadFacts.from_json(facts.to_json())
    assert _points(stored, "fit.flow.purpose") == (7, "Buying a gift")
    config = load_scoring_config(SCORING_CONFIG)
    base = score(LeadFacts(), config, load_catalog(DEMO_CATALOG), NOW)
    with_points = score(stored, config, load_catalog(DEMO_CATALOG), NOW)
    assert with_points.fit_score == base.fit_score + 7


def test_malformed_awards_are_ignored() -> None:
    facts = LeadFacts()
    facts.fold_event("answer_points", NOW, properties={"key": "purpose", "points": "7"})
    facts.fold_event("answer_points", NOW, properties={"points": 7})
    facts.fold_event("answer_points", NOW, properties={"key": "purpose", "points": True})
    assert facts.points == {}


def test_out_of_range_awards_are_clamped_and_the_later_award_wins_within_a_second() -> None:
    facts = LeadFacts()
    base = NOW.replace(microsecond=100)
    facts.fold_event(
        "answer_points", base, properties={"key": "size", "points": 10**20, "reason": "x"}
    )
    assert facts.points["size"]["p"] == 100
    facts.fold_event(
        "answer_points",
        base + timedelta(milliseconds=300),
        properties={"key": "size", "points": 2, "reason": "later"},
    )
    assert (facts.points["size"]["p"], facts.points["size"]["r"]) == (2, "later")
