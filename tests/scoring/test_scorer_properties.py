"""Properties of the scorer and of lead facts, on the tests' scoring file and demo catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.scoring import LeadFacts, ScoreResult, load_scoring_config, score
from bot.scoring.config import (
    ANSWER_SIGNALS,
    BROWSING_SIGNALS,
    SCORABLE_SIGNALS,
    STOREFRONT_EVENT_TYPES,
)
from bot.scoring.facts import MAX_KEPT_ACTIVITY
from tests.scoring import SCORING_CONFIG

CONFIG = load_scoring_config(SCORING_CONFIG)
CATALOG = load_catalog(DEMO_CATALOG)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
SIXTY_DAYS = 60 * 86_400

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

PRODUCT_IDS = [product.id for product in CATALOG.products] + ["no-such-product"]
VARIANT_IDS = [variant.id for _, variant in CATALOG.all_variants()] + ["no-such-variant"]
COUNTRIES = ["FR", "fr", "DE", "NO", "GB", "US", "JP", "ES", "France", ""]
TOPICS = ["shipping", "price", "stock", "discount", "returns", "colour"]
# Event kinds that are not storefront events: chat signals and chat bookkeeping.
CHAT_KINDS = [
    "shopper_question",
    "human_requested",
    "qualification_completed",
    "chat_message",
    "question_asked",
    "consent_given",
    "stage_changed",
    "lead_merged",
]


@dataclass(frozen=True)
class Ev:
    kind: str
    ts: datetime
    product_id: str | None = None
    variant_id: str | None = None
    properties: dict[str, Any] | None = None

    def fold_into(self, facts: LeadFacts) -> None:
        facts.fold_event(
            self.kind,
            self.ts,
            product_id=self.product_id,
            variant_id=self.variant_id,
            properties=self.properties,
        )

    @property
    def has_context(self) -> bool:
        """Whether it can set the lead's product, variant or country."""
        return self.kind in STOREFRONT_EVENT_TYPES and (
            bool(self.product_id) or bool(self.variant_id) or self.kind == "shipping_check"
        )


@dataclass(frozen=True)
class Ans:
    key: str
    value: Any
    status: str
    at: datetime


ages = st.integers(min_value=0, max_value=SIXTY_DAYS).map(lambda s: timedelta(seconds=s))


# Properties each event kind may carry (drawn by index: flat strategies generate fast).
PROPERTY_CHOICES: dict[str, list[dict[str, Any] | None]] = {
    "shopper_question": [{"topic": topic} for topic in TOPICS],
    "chat_message": [{"sender": "user"}, {"sender": "bot"}],
    "shipping_check": [None, {}] + [{"country": country} for country in COUNTRIES],
    "question_asked": [{"question": "budget"}, {"question": "timeline"}],
}
ALL_KINDS = [*STOREFRONT_EVENT_TYPES, *CHAT_KINDS]


def _event(kind: str, age: int, product: str | None, variant: str | None, pick: int) -> Ev:
    choices = PROPERTY_CHOICES.get(kind, [None, {}])
    return Ev(kind, NOW - timedelta(seconds=age), product, variant, choices[pick % len(choices)])


def events(kinds: list[str] | None = None, max_age: int = SIXTY_DAYS) -> st.SearchStrategy[Ev]:
    """Events of ``kinds`` (default: any) at most ``max_age`` seconds before NOW."""
    return st.builds(
        _event,
        st.sampled_from(kinds or ALL_KINDS),
        st.integers(min_value=0, max_value=max_age),
        st.sampled_from([None, *PRODUCT_IDS]),
        st.sampled_from([None, *VARIANT_IDS]),
        st.integers(min_value=0, max_value=15),
    )


money = st.decimals(min_value=1, max_value=2000, places=2)
budget_values = st.one_of(
    st.fixed_dictionaries(
        {"amount": money, "currency": st.sampled_from(["EUR", "EUR", "USD"])},
        optional={"min": money, "max": money},
    ),
    # unreadable amounts and missing currency
    st.fixed_dictionaries({"amount": st.sampled_from(["lots", "", "NaN-ish"])}),
    st.just({"currency": "EUR"}),
)
location_values = st.one_of(
    st.fixed_dictionaries(
        {
            "country": st.sampled_from(["FR", "DE", "NO", "GB", "US", "JP", "ES", "fr"]),
            "region": st.sampled_from([None, "Corsica", "Canary Islands", "Paris", "Bavaria"]),
        }
    ),
    st.just("FR"),
    st.just({"region": "Paris"}),
)
timeline_values = st.one_of(
    st.fixed_dictionaries({"days": st.integers(min_value=0, max_value=400)}),
    st.just({"days": None, "browsing": True}),
    st.sampled_from([{"days": "7"}, {"days": True}, {"days": 3.5}, "soon"]),
)
variant_values = st.sampled_from(VARIANT_IDS) | st.just(42)


def _answers(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Ans]:
    return st.builds(
        Ans,
        st.just(key),
        values,
        st.sampled_from(["answered", "answered", "answered", "unknown"]),
        ages.map(lambda age: NOW - age),
    )


answers = st.one_of(
    _answers("budget", budget_values | st.none()),
    _answers("location", location_values),
    _answers("timeline", timeline_values),
    _answers("variant", variant_values),
    _answers("contact_consent", st.booleans()),
    _answers("name", st.just({"first_name": "Jane"})),
)


event_lists = st.lists(events(), max_size=30)
answer_lists = st.lists(answers, max_size=6)


def build(evs: list[Ev], ans: list[Ans]) -> LeadFacts:
    facts = LeadFacts()
    for item in evs:
        item.fold_into(facts)
    for answer in ans:
        facts.fold_answer(answer.key, answer.value, answer.status, answer.at)
    return facts


def run(facts: LeadFacts, now: datetime = NOW) -> ScoreResult:
    return score(facts, CONFIG, CATALOG, now)


# --- (a) reasons add up ---------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(evs=event_lists, ans=answer_lists)
def test_reasons_sum_to_the_scores(evs: list[Ev], ans: list[Ans]) -> None:
    result = run(build(evs, ans))
    intent = [reason.points for reason in result.reasons if reason.rule.startswith("intent.")]
    fit = [reason.points for reason in result.reasons if reason.rule.startswith("fit.")]
    assert len(intent) + len(fit) == len(result.reasons)
    assert sum(intent) == result.intent_score
    assert sum(fit) == result.fit_score
    assert sum(reason.points for reason in result.reasons) == result.score
    assert result.score == result.intent_score + result.fit_score
    assert result.stage == CONFIG.stage(result.intent_score, result.fit_score)
    # Every reason moves the score (but a budget that could not be compared with the price,
    # which says why), each rule gives at most one reason, ranked by |points|.
    assert all(
        reason.points != 0 or (reason.rule == "fit.budget" and "not compared" in reason.detail)
        for reason in result.reasons
    )
    rules = [reason.rule for reason in result.reasons]
    assert len(rules) == len(set(rules))
    magnitudes = [abs(reason.points) for reason in result.reasons]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert all(isinstance(reason.points, int) for reason in result.reasons)


@PROPERTY_SETTINGS
@given(evs=event_lists, ans=answer_lists, later=st.integers(min_value=0, max_value=SIXTY_DAYS))
def test_score_is_pure(evs: list[Ev], ans: list[Ans], later: int) -> None:
    facts = build(evs, ans)
    before = facts.to_json()
    now = NOW + timedelta(seconds=later)
    assert run(facts, now) == run(facts, now)
    assert facts.to_json() == before


# --- (b) a later step never lowers intent -----------------------------------------------------


@PROPERTY_SETTINGS
@given(evs=event_lists, ans=answer_lists, data=st.data())
def test_a_later_event_never_lowers_intent(
    evs: list[Ev], ans: list[Ans], data: st.DataObject
) -> None:
    facts = build(evs, ans)
    before = run(facts)
    latest = max((item.ts for item in evs), default=NOW - timedelta(seconds=SIXTY_DAYS))
    gap = int((NOW - latest).total_seconds())
    step = data.draw(events(max_age=gap))
    assert step.ts >= latest
    step.fold_into(facts)
    after = run(facts)
    assert after.intent_score >= before.intent_score


@PROPERTY_SETTINGS
@given(evs=event_lists, kind=st.sampled_from(SCORABLE_SIGNALS), data=st.data())
def test_a_later_scorable_signal_never_lowers_its_own_points(
    evs: list[Ev], kind: str, data: st.DataObject
) -> None:
    facts = build(evs, [])
    before = {reason.rule: reason.points for reason in run(facts).reasons}
    latest = max((item.ts for item in evs), default=NOW - timedelta(days=60))
    ts = NOW - timedelta(seconds=data.draw(st.integers(0, int((NOW - latest).total_seconds()))))
    facts.fold_event(kind, ts)
    after = {reason.rule: reason.points for reason in run(facts).reasons}
    rule = f"intent.{kind}"
    assert after.get(rule, 0) >= before.get(rule, 0)
    assert sum(p for r, p in after.items() if r.startswith("intent.")) >= sum(
        p for r, p in before.items() if r.startswith("intent.")
    )


# --- (c) intent fades with time -----------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    evs=event_lists,
    ans=answer_lists,
    dt=st.integers(min_value=0, max_value=120 * 86_400),
)
def test_intent_never_grows_with_time(evs: list[Ev], ans: list[Ans], dt: int) -> None:
    facts = build(evs, ans)
    assert all(item.ts <= NOW for item in evs)
    now_result = run(facts)
    later_result = run(facts, NOW + timedelta(seconds=dt))
    assert later_result.intent_score <= now_result.intent_score
    # Rule by rule too: no intent reason grows as time passes.
    now_points = {r.rule: r.points for r in now_result.reasons if r.rule.startswith("intent.")}
    for reason in later_result.reasons:
        if reason.rule.startswith("intent."):
            assert reason.points <= now_points.get(reason.rule, 0)


@settings(max_examples=50, deadline=None, database=None)
@given(evs=event_lists)
def test_intent_fades_to_nothing(evs: list[Ev]) -> None:
    # A year after the last event, every signal (half-lives <= 14 days) and every visit is gone.
    result = run(build(evs, []), NOW + timedelta(days=365))
    assert result.intent_score == 0


# --- (d) caps ------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(evs=st.lists(events(), max_size=60), ans=answer_lists)
def test_caps_hold(evs: list[Ev], ans: list[Ans]) -> None:
    result = run(build(evs, ans))
    for reason in result.reasons:
        name = reason.rule.removeprefix("intent.")
        if name == "return_visits":
            assert 0 < reason.points <= CONFIG.return_visits.cap
        elif reason.rule.startswith("intent."):
            assert 0 < reason.points <= CONFIG.signals[name].cap
    assert result.intent_score <= sum(s.cap for s in CONFIG.signals.values()) + (
        CONFIG.return_visits.cap
    )


browsing_events = st.lists(
    st.builds(
        Ev,
        kind=st.sampled_from(BROWSING_SIGNALS),
        # any time: up to 60 days ago, or a few minutes ahead (storefront clock skew)
        ts=st.integers(min_value=-300, max_value=SIXTY_DAYS).map(
            lambda s: NOW - timedelta(seconds=s)
        ),
        product_id=st.none() | st.sampled_from(PRODUCT_IDS),
        variant_id=st.none() | st.sampled_from(VARIANT_IDS),
    ),
    max_size=80,
)


@PROPERTY_SETTINGS
@given(evs=browsing_events, ans=answer_lists)
def test_browsing_alone_is_never_hot(evs: list[Ev], ans: list[Ans]) -> None:
    facts = build(evs, ans)
    result = run(facts)
    browsing_cap = (
        sum(CONFIG.signals[name].cap for name in BROWSING_SIGNALS) + CONFIG.return_visits.cap
    )
    from_answers = sum(
        reason.points
        for reason in result.reasons
        if reason.rule.removeprefix("intent.") in ANSWER_SIGNALS
    )
    assert result.intent_score - from_answers <= browsing_cap < CONFIG.hot_min_intent
    # Answers that show no buying (only fit) cannot lift browsing to hot.
    if not facts.answer_signals():
        assert result.stage != "hot"


def test_browsing_alone_at_its_best_is_warm_not_hot() -> None:
    # Every browsing cap reached plus four return visits, and an excellent fit.
    evs = [Ev("page_view", NOW - timedelta(minutes=m)) for m in range(10)]
    evs += [Ev("product_view", NOW - timedelta(minutes=m), "hoodie-classic") for m in range(10)]
    evs += [Ev("page_view", NOW - timedelta(days=d)) for d in range(1, 8)]
    ans = [
        Ans("variant", "hoodie-classic-blue-m", "answered", NOW),
        Ans("location", {"country": "FR", "region": None}, "answered", NOW),
        Ans("budget", {"amount": Decimal("100"), "currency": "EUR"}, "answered", NOW),
        Ans("timeline", {"days": 1}, "answered", NOW),
    ]
    result = run(build(evs, ans))
    # Browsing 21, plus what the answers show: answered_variant 4 + answered_within_week 12
    # (no consent to be contacted: the chat alone adds too little for hot).
    assert result.intent_score == 21 + 4 + 12
    assert result.fit_score == 60
    assert result.stage == "warm"


# --- (e) facts: JSON round trip and order independence ---------------------------------------


@PROPERTY_SETTINGS
@given(evs=st.lists(events(), max_size=40), ans=answer_lists)
def test_facts_json_round_trip(evs: list[Ev], ans: list[Ans]) -> None:
    facts = build(evs, ans)
    text = facts.to_json()
    restored = LeadFacts.from_json(text)
    assert restored == facts
    assert restored.to_json() == text
    assert run(restored) == run(facts)


def test_facts_from_nothing() -> None:
    assert LeadFacts.from_json(None) == LeadFacts()
    assert LeadFacts.from_json("") == LeadFacts()
    assert LeadFacts.from_json(LeadFacts().to_json()) == LeadFacts()


@PROPERTY_SETTINGS
@given(evs=st.lists(events(), max_size=40), ans=answer_lists, data=st.data())
def test_fold_order_does_not_matter(evs: list[Ev], ans: list[Ans], data: st.DataObject) -> None:
    # Ties of context events at one instant are covered by test_fold_order_with_tied_times.
    context_times = [item.ts for item in evs if item.has_context]
    assume(len(context_times) == len(set(context_times)))
    # One answer per question and instant (the latest answer wins; a tie has no latest).
    assume(len({(a.key, a.at) for a in ans}) == len(ans))
    shuffled_events = data.draw(st.permutations(evs))
    shuffled_answers = data.draw(st.permutations(ans))
    in_order = build(evs, ans)
    reordered = build(shuffled_events, shuffled_answers)
    assert reordered == in_order
    assert run(reordered) == run(in_order)


@PROPERTY_SETTINGS
@given(evs=st.lists(events(), min_size=1, max_size=40), data=st.data())
def test_fold_is_order_independent_in_batches(evs: list[Ev], data: st.DataObject) -> None:
    # Folding a later batch first (storefront batches arriving out of order) changes nothing.
    context_times = [item.ts for item in evs if item.has_context]
    assume(len(context_times) == len(set(context_times)))
    cut = data.draw(st.integers(min_value=0, max_value=len(evs)))
    first, second = evs[:cut], evs[cut:]
    assert build(second + first, []) == build(evs, [])


def test_fold_order_with_tied_times() -> None:
    # Two variant picks in the same second (e.g. one storefront batch) must give the same
    # facts, and the same fit, whichever is folded first.
    blue_m = Ev("variant_select", NOW, "hoodie-classic", "hoodie-classic-blue-m")
    blue_l = Ev("variant_select", NOW, "hoodie-classic", "hoodie-classic-blue-l")
    one_way = build([blue_m, blue_l], [])
    other_way = build([blue_l, blue_m], [])
    assert one_way == other_way
    assert run(one_way).fit_score == run(other_way).fit_score


@settings(max_examples=60, deadline=None, database=None)
@given(
    ages_seconds=st.lists(
        st.integers(min_value=0, max_value=SIXTY_DAYS), min_size=45, max_size=400
    ),
    data=st.data(),
)
def test_only_the_latest_occurrences_are_kept(ages_seconds: list[int], data: st.DataObject) -> None:
    # Whatever the order, a signal keeps its 50 latest times and activity its latest
    # MAX_KEPT_ACTIVITY distinct minutes, while counts keep counting everything.
    evs = [Ev("page_view", NOW - timedelta(seconds=age)) for age in ages_seconds]
    facts = build(data.draw(st.permutations(evs)), [])
    stamps = sorted(item.ts.timestamp() for item in evs)
    assert facts.signals["page_view"] == stamps[-50:]
    minutes = sorted({stamp - stamp % 60 for stamp in stamps})
    assert facts.activity == minutes[-MAX_KEPT_ACTIVITY:]
    assert facts.counts == {"page_view": len(evs)}


@PROPERTY_SETTINGS
@given(evs=st.lists(events(), max_size=40))
def test_facts_stay_bounded(evs: list[Ev]) -> None:
    facts = build(evs + evs, [])  # every event twice, as a store without dedup would
    assert all(stamps == sorted(stamps) for stamps in facts.signals.values())
    assert all(len(stamps) <= 50 for stamps in facts.signals.values())
    assert facts.activity == sorted(set(facts.activity))
    assert all(minute % 60 == 0 for minute in facts.activity)
    assert set(facts.signals) <= set(SCORABLE_SIGNALS)
