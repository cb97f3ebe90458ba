"""Reads one shopper message against the flow: which answers it gives.

Pure logic, no I/O: the Rasa form validation action passes in the message, the
NLU intent, the question being asked and the answers so far, and gets back the
answers to store and the behaviour to record. One message may answer several
questions ("I need it in Berlin by Friday"); questions other than the one being
asked are only filled from unambiguous phrasings (strict parsing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.answers import (
    Parsed,
    parse_budget,
    parse_contact,
    parse_location,
    parse_name,
    parse_timeline,
)
from bot.answers.contact import parse_email, parse_phone
from bot.answers.text import (
    MAX_ANSWER_LENGTH,
    fold,
    strip_inline_tags,
    unwrap_mailto_links,
    usable,
    word_set,
)
from bot.catalog import Catalog, Product, Variant, match_variant
from bot.flows.facts import answered_location, chosen_item, consented
from bot.flows.model import SKIP_WORDS, Flow, Question

MAX_FAILURES = 2
MAX_CHOICES = 5
CONTROL_CONFIDENCE = 0.55
# Intents that interrupt the form; rules in data/rules/ answer them, then the
# form asks its question again.
CONTROL_INTENTS = frozenset(
    {
        "ask_why",
        "stop",
        "human_handoff",
        "ask_shipping",
        "ask_price",
        "ask_returns",
        "ask_discount",
        "ask_stock",
        "bot_challenge",
        "goodbye",
    }
)
SKIP_INTENTS = frozenset({"dont_know"})
# Remarks that are not about the shop ("what's the weather like in Paris today?"): read
# like any reply (a question back gives no answer to the other questions), and when
# they answer nothing the bot says what it can help with before asking again; the try
# counts, so nonsense twice moves on like any unreadable answer.
OFF_TOPIC_INTENTS = frozenset({"out_of_scope"})
# Answer types whose values also turn up in remarks and questions ("today", "in Paris",
# "100"): in a message that asks something, only an explicit answer counts.
_REMARK_TYPES = frozenset({"timeline", "budget", "location"})
CORRECTION_CUES = re.compile(
    r"\b(actually|instead|change|changed|make (it|that)|i meant|sorry,? i mean|correction"
    r"|update)\b",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\s*(y|yes|yeah|yep|yup|sure|ok|okay|alright|all right|of course|fine|agreed?|go ahead"
    r"|go on|why not|no problem|no worries|absolutely|definitely)\b",
    re.I,
)
_NO = re.compile(r"^\s*(n|no|nope|nah|not really|no thanks?|(i'?d )?rather not)\b", re.I)
# Whole replies that say yes or no, in English and the shop's other languages (German,
# French, Spanish, Italian, Portuguese), compared folded and without punctuation. They
# answer a yes/no question whatever the NLU guessed ("why not" is no "why?").
_YES_REPLIES = frozenset(
    {
        *("yes", "yes please", "sure thing", "ok sure", "go ahead", "go on", "why not"),
        *("alright", "all right", "ok then", "please do", "yes of course", "fine by me"),
        *("ja", "ja gerne", "gerne", "na klar", "klar", "einverstanden", "naturlich", "ok gerne"),
        *("oui", "d accord", "ok d accord", "bien sur", "volontiers", "oui merci"),
        *("si", "claro", "vale", "de acuerdo", "por supuesto", "si claro"),
        *("va bene", "certo", "d accordo", "volentieri", "si grazie"),
        *("sim", "pode ser", "com certeza", "tudo bem", "sim claro"),
    }
)
_NO_REPLIES = frozenset(
    {
        *("no", "nope", "nah", "no thanks", "no thank you", "i d rather not", "rather not"),
        *("nein", "nein danke", "lieber nicht", "non", "non merci", "no gracias"),
        *("no grazie", "nao", "nao obrigado", "nao obrigada", "no obrigado"),
    }
)
# A shopper back after a pause ("sorry, I'm back", "where were we?"): no answer to the
# question, which is asked again. Only messages made of such words alone count.
_RETURN_CUES = re.compile(
    r"\b(i ?m back|i am back|back now|back again|where were we|hi again|hello again"
    r"|hey again|sorry for the wait|sorry about that|got distracted|still there)\b"
)
_RETURN_WORDS = word_set(
    "i im am back now again where were we hi hello hey sorry for the wait about that got"
    " distracted still there ok okay so right um anyway"
)
# Words of a real interruption (a person, a shop question, an ending) in a message that
# also answers the open question: the interruption is meant, not the answer.
_INTERRUPTION_WORDS = re.compile(
    r"\b(human|person|someone|somebody|agent|staff|team|talk|speak|call|real|stock|price"
    r"|cost|costs|how much|ship|shipping|delivery|deliver|return|returns|discount|why|stop"
    r"|bye|goodbye|interested|leave|quit|cancel|tschuss|ciao|adios|adeus|au revoir"
    r"|see you|a bientot|a plus|bis bald|bis dann|hasta pronto|hasta luego|a presto"
    r"|ate logo|ate breve|tchau)\b"
)
# Replies this short that read as the answer to the open question are that answer,
# whatever the NLU guessed of words it never saw ("bientôt" as goodbye).
SHORT_ANSWER_WORDS = 4


# A shopper correcting themselves inside one message ("100, anzi 130", "red M... no
# wait, S", "a@gmail.com sorry I mean a@outlook.com"): what follows the last cue is
# the answer, if it reads as one.
_SELF_CORRECTION = re.compile(
    r"(?:\bactually\b|\bno,? wait\b|\bwait,? no\b|\b(?:sorry,? )?i mean\b|\bor rather\b"
    r"|\bmake that\b|\bplut[oô]t\b|\ben fait\b|\beher\b|\bnein,? doch\b|\bmejor\b"
    r"|\bo sea\b|\banzi\b|\bo meglio\b|\bcio[eè]\b|\bali[aá]s\b|\bou melhor\b"
    r"|\bquer dizer\b)[\s,:.!-]*",
    re.IGNORECASE,
)


def after_self_correction(text: str) -> str | None:
    """What follows the last self-correction cue in ``text``, or None if there is none."""
    cues = list(_SELF_CORRECTION.finditer(text))
    if not cues:
        return None
    last = cues[-1]
    rest = text[last.end() :].strip()
    return rest or None


@dataclass(frozen=True)
class TurnInput:
    """One shopper message and the state it arrives in."""

    text: str
    intent: str | None
    intent_confidence: float
    requested_key: str | None
    answers: dict[str, Any]
    failures: dict[str, int]
    now: datetime
    product_id: str | None = None
    asked_at: datetime | None = None
    correcting: bool = False
    # Page facts of the message (page_type, product_id…), for the flow's conditions.
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnResult:
    """What a message means for the flow.

    ``answers`` maps question key to the answer record kept in the slot and the
    store; ``events`` are chat-behaviour events ``(type, properties)``;
    ``choices`` offers quick replies for a variant answer that matched several
    items (``ambiguous``) or none (then the closest in-stock items).
    """

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    choices: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    interrupted: bool = False
    # The shopper came back after a pause: the question is asked again, nothing counted.
    resumed: bool = False
    # Answers taken from a message for a question other than the one asked (volunteered
    # or corrected): the bot says what it understood, so no question is skipped on a
    # reading the shopper never saw. Question key → "noted" or "changed".
    confirm: dict[str, str] = field(default_factory=dict)
    # The NLU read the message as off-topic (markup, chatter, the weather).
    off_topic: bool = False

    @property
    def changed(self) -> bool:
        """Whether the turn changed anything the form must see."""
        return bool(self.answers) or bool(self.failures) or bool(self.choices)


def answer_record(
    raw: str, parsed: Parsed | None, now: datetime, *, status: str = "answered"
) -> dict[str, Any]:
    """The slot/store form of an answer."""
    return {
        "raw": raw,
        "value": parsed.value if parsed else None,
        "display": parsed.display if parsed else None,
        "status": status if parsed else "unknown",
        "answered_at": now.isoformat(),
    }


class Interpreter:
    """Applies the answer parsers of a flow to messages."""

    def __init__(
        self, flow: Flow, catalog: Catalog, *, currency: str, country: str | None = None
    ) -> None:
        self.flow = flow
        self.catalog = catalog
        self.currency = currency
        # How phone numbers without +country are read when no delivery country is known.
        self.country = country

    def interpret(self, turn: TurnInput) -> TurnResult:
        """Read ``turn.text`` as answers to the flow's questions."""
        result = TurnResult()
        requested = self.flow.question(turn.requested_key) if turn.requested_key else None
        confident = turn.intent_confidence >= CONTROL_CONFIDENCE
        # "<b>Black, M</b>" pasted from a rich-text field is the answer "Black, M".
        text = usable(strip_inline_tags(unwrap_mailto_links(turn.text)))

        if requested and text is not None and returning(text):
            result.resumed = True
            return result
        if requested and requested.answer_type == "yes_no" and text is not None:
            reply = _yes_no_reply(text)
            if reply is not None:
                self._fill(result, requested, turn, reply, text)
                return result
        if requested and requested.answer_type == "yes_no" and turn.intent == "stop":
            # "no thanks" to the consent question declines consent, it is not an opt-out.
            self._fill(result, requested, turn, Parsed(value=False, display="no"), turn.text)
            return result
        if requested and text is not None:
            # A tapped quick reply (or its exact words) answers the question, whatever
            # the NLU makes of words it was never trained on ("Gift", "Skip").
            if not requested.required and (
                _words(fold(text)) in SKIP_WORDS
                # "no thanks" to an optional question declines it; it is not an opt-out.
                or (turn.intent in DECLINE_INTENTS and _NO.match(text) and len(text) <= 30)
            ):
                self._skip(result, requested, turn, text)
                return result
            exact = _parse_choice(requested, text, exact=True)
            if exact is not None:
                self._fill(result, requested, turn, exact, text)
                return result
        result.off_topic = turn.intent in OFF_TOPIC_INTENTS and confident
        if turn.intent in CONTROL_INTENTS and confident:
            clear = self._clear_answer(requested, text, turn)
            if clear is None or requested is None or text is None:
                result.interrupted = True
                return result
            # "pine candle pls" names a variant and nothing else: the NLU's guess of an
            # interruption (here a hand-over, from "pls") gives way to the answer.
            self._fill(result, requested, turn, clear, text)
            return result
        if (
            requested
            and turn.intent in SKIP_INTENTS
            and confident
            # "not sure, maybe before Christmas" is an answer after all; only an explicit
            # one counts (strict), since "not sure" alone reads as "just browsing".
            and (
                text is None or self._parse(requested, text, turn, strict=True, result=None) is None
            )
        ):
            result.answers[requested.key] = answer_record(
                turn.text[:MAX_ANSWER_LENGTH], None, turn.now
            )
            result.events.append(("question_skipped", {"key": requested.key}))
            return result

        if text is not None:
            free_text = requested is not None and requested.answer_type == "free_text"
            asking = _is_question(fold(text))
            if not free_text and not asking and CORRECTION_CUES.search(text):
                # "hmm actually the black one, same size" at the location question changes
                # the variant; the open question stays open (no failure counted) unless
                # the message also answers it explicitly.
                self._scan_other_questions(result, requested, turn, text)
            if requested is not None and not (result.off_topic and asking):
                # An off-topic question ("what's the weather like in Paris today?") answers
                # nothing. After a correction only an explicit answer to the open question
                # counts.
                corrected = "changed" in result.confirm.values()
                strict = corrected or (asking and requested.answer_type in _REMARK_TYPES)
                parsed = self._parse_revised(requested, text, turn, strict=strict, result=result)
                if parsed is not None:
                    self._fill(result, requested, turn, parsed, text)
                # A free-text answer ("Merry Christmas, see you in London") is only that,
                # and a question back gives no answers to the other questions.
                if not free_text and not asking:
                    self._scan_other_questions(result, requested, turn, text)
            elif requested is None and not asking:
                self._scan_other_questions(result, requested, turn, text)

        if requested is not None and requested.key not in result.answers:
            if (
                not requested.required
                and not result.answers
                and requested.key not in (result.ambiguous)
            ):
                # Optional: one try, then the flow moves on.
                self._skip(result, requested, turn, text or "")
            else:
                self._count_failure(result, requested, turn, text)
        return result

    def _clear_answer(
        self, requested: Question | None, text: str | None, turn: TurnInput
    ) -> Parsed | None:
        """An explicit answer to the open question, if the message is that and no question.

        "mañana" to "when?" read as goodbye, "pine candle pls" read as a hand-over:
        the NLU guesses on words it was never trained on, the answer is explicit.
        """
        if requested is None or text is None or requested.answer_type in UNVOLUNTEERED:
            return None
        folded = fold(text)
        if _is_question(folded) or _INTERRUPTION_WORDS.search(folded):
            return None
        explicit = self._parse(requested, text, turn, strict=True, result=None)
        if explicit is not None or len(_words(folded).split()) > SHORT_ANSWER_WORDS:
            return explicit
        # A reply of a few words that reads as the answer ("bientôt", "a verde" on the
        # product page) is the answer; a longer message needs the explicit form.
        return self._parse_revised(requested, text, turn, strict=False, result=None)

    def _skip(self, result: TurnResult, question: Question, turn: TurnInput, raw: str) -> None:
        result.answers[question.key] = answer_record(raw[:MAX_ANSWER_LENGTH], None, turn.now)
        result.events.append(("question_skipped", {"key": question.key}))

    def _scan_other_questions(
        self, result: TurnResult, requested: Question | None, turn: TurnInput, text: str
    ) -> None:
        correcting = turn.correcting or bool(CORRECTION_CUES.search(text))
        agreed = consented(turn.answers)
        for question in self.flow.questions:
            if question is requested or question.key in result.answers:
                continue
            if question.answer_type in UNVOLUNTEERED or (question.after_consent and not agreed):
                continue
            already = turn.answers.get(question.key)
            if already is not None and not correcting:
                continue
            if already is not None and question.answer_type == "variant":
                # A correction of the item ("the black one, same size") names it the way
                # the variant question is answered: within the product already chosen.
                parsed = self._corrected_variant(text, turn)
            else:
                parsed = self._parse(question, text, turn, strict=True, result=None)
            if parsed is None:
                continue
            if already is not None and already.get("value") == parsed.value:
                continue
            self._fill(result, question, turn, parsed, text)
            result.confirm[question.key] = "noted" if already is None else "changed"
            if already is not None:
                result.events.append(("answer_updated", {"key": question.key}))

    def _fill(
        self, result: TurnResult, question: Question, turn: TurnInput, parsed: Parsed, raw: str
    ) -> None:
        result.answers[question.key] = answer_record(raw, parsed, turn.now)
        properties: dict[str, Any] = {"key": question.key}
        if turn.asked_at is not None and question.key == turn.requested_key:
            properties["seconds_to_answer"] = round((turn.now - turn.asked_at).total_seconds(), 1)
        if question.key != turn.requested_key:
            properties["volunteered"] = True
        result.events.append(("question_answered", properties))
        awarded = question.points_for(parsed.value)
        if awarded is not None:
            points, reason = awarded
            result.events.append(
                ("answer_points", {"key": question.key, "points": points, "reason": reason})
            )

    def _count_failure(
        self, result: TurnResult, question: Question, turn: TurnInput, text: str | None
    ) -> None:
        if result.answers or question.key in result.ambiguous:
            # The message answered something else, or matched several items: ask
            # again (with choices) without counting a failure.
            return
        failures = turn.failures.get(question.key, 0) + 1
        if failures >= MAX_FAILURES:
            raw = text if text is not None else ""
            result.answers[question.key] = answer_record(raw, None, turn.now)
            result.events.append(("question_unanswered", {"key": question.key}))
        else:
            result.events.append(("question_reasked", {"key": question.key}))
        result.failures = {**turn.failures, question.key: failures}

    def _parse_revised(
        self,
        question: Question,
        text: str,
        turn: TurnInput,
        *,
        strict: bool,
        result: TurnResult | None,
    ) -> Parsed | None:
        """The answer in ``text``, the revised one when the shopper corrected themselves."""
        revised = after_self_correction(text)
        if revised is not None:
            parsed = self._parse(question, revised, turn, strict=strict, result=None)
            if parsed is not None:
                return parsed
        return self._parse(question, text, turn, strict=strict, result=result)

    def _parse(
        self,
        question: Question,
        text: str,
        turn: TurnInput,
        *,
        strict: bool,
        result: TurnResult | None,
    ) -> Parsed | None:
        kind = question.answer_type
        if kind == "timeline":
            return parse_timeline(text, turn.now, strict=strict)
        if kind == "budget":
            return parse_budget(text, default_currency=self.currency, strict=strict)
        if kind == "location":
            return self._parse_location(text, turn, strict=strict)
        if kind == "variant":
            return self._parse_variant(question, text, turn, strict=strict, result=result)
        if kind == "yes_no":
            return _parse_yes_no(text, turn.intent)
        if kind == "name":
            return parse_name(text)
        if kind in ("contact", "phone"):
            location = answered_location(turn.answers)
            region = location["country"] if location else self.country
            if kind == "phone":
                return parse_phone(text, region=region)
            return parse_contact(text, region=region)
        if kind == "email":
            return parse_email(text)
        if kind == "choice":
            # Never volunteered (see UNVOLUNTEERED), so "strict" only checks a hesitant
            # answer ("not sure, probably a gift"): the sentence reading applies.
            return _parse_choice(question, text, exact=False)
        if kind == "free_text":
            return None if strict else Parsed(value=text[:MAX_ANSWER_LENGTH], display=text[:80])
        raise ValueError(f"unknown answer type {kind!r}")

    def _parse_location(self, text: str, turn: TurnInput, *, strict: bool) -> Parsed | None:
        parsed = parse_location(text, strict=strict, default_country=self.catalog.default_country)
        if parsed is None:
            return None
        product = self._chosen_product(turn)
        place = parsed.value
        serviceable = self.catalog.ships_to(
            product, place["country"], place.get("region"), place.get("area")
        )
        return Parsed(value={**parsed.value, "serviceable": serviceable}, display=parsed.display)

    def _parse_variant(
        self,
        question: Question,
        text: str,
        turn: TurnInput,
        *,
        strict: bool,
        result: TurnResult | None,
    ) -> Parsed | None:
        product, current = chosen_item(self.catalog, turn.answers, turn.product_id)
        product_id = turn.product_id or (product.id if product else None)
        match = match_variant(
            text, self.catalog, product_id=product_id, strict=strict, current=current
        )
        if match.variant is not None:
            return match.parsed()
        if result is None:
            return None
        if match.candidates:
            result.ambiguous.add(question.key)
            candidates = list(match.candidates)
        else:
            # Nothing close: suggest one in-stock item per product to pick from.
            candidates = self._suggestions(product)
        result.choices[question.key] = [
            {"title": self._variant_label(variant), "payload": variant.id} for variant in candidates
        ]
        return None

    def _corrected_variant(self, text: str, turn: TurnInput) -> Parsed | None:
        product, current = chosen_item(self.catalog, turn.answers, turn.product_id)
        if product is None:
            return None
        match = match_variant(text, self.catalog, product_id=product.id, current=current)
        return match.parsed() if match.variant is not None else None

    def _suggestions(self, product: Product | None) -> list[Variant]:
        products = [product] if product is not None else list(self.catalog.products)
        suggestions = []
        for candidate in products:
            in_stock = [variant for variant in candidate.variants if variant.in_stock]
            suggestions.extend(in_stock[:1] if product is None else in_stock)
        return suggestions[:MAX_CHOICES]

    def _variant_label(self, variant: Variant) -> str:
        product = self.catalog.product(variant.product_id)
        return product.variant_label(variant) if product else variant.name

    def _chosen_product(self, turn: TurnInput) -> Product | None:
        return chosen_item(self.catalog, turn.answers, turn.product_id)[0]


# Words that turn a choice named after them into its opposite ("not a gift");
# "t" is what is left of "isn't" once split into words.
NEGATIONS = frozenset({"not", "no", "never", "t", "nor", "without"})
# Intents of "no thanks" and the like, which decline an optional question.
DECLINE_INTENTS = frozenset({"stop", "deny", "dont_know"})
# Never read from a message answering another question: too easy to misread.
UNVOLUNTEERED = frozenset({"yes_no", "choice", "free_text"})


def _parse_choice(question: Question, text: str, *, exact: bool) -> Parsed | None:
    """A choice by its id, label or a synonym: the whole message, or (not exact) in a sentence.

    In a sentence a name must have three letters or more ("M" or "No" only as the
    whole message), must not follow a negation ("not a gift"), and a name inside a
    longer matched one ("red" in "dark red") gives way to it; two different
    choices named make no answer.
    """
    if not question.choices:
        return None
    folded = fold(text).strip(" .!")
    for choice in question.choices:
        names = {choice.id, fold(choice.label), *(fold(s) for s in choice.synonyms)}
        if folded in names or _words(folded) in {_words(name) for name in names}:
            return Parsed(value=choice.id, display=choice.label)
    if exact:
        return None
    padded = f" {_words(folded)} "
    matches: list[tuple[str, str]] = []
    for choice in question.choices:
        for name in (fold(choice.label), *(fold(s) for s in choice.synonyms)):
            words = _words(name)
            at = padded.find(f" {words} ") if len(words) >= 3 else -1
            if at < 0:
                continue
            if NEGATIONS.intersection(padded[:at].split()[-2:]):
                continue
            matches.append((choice.id, words))
    chosen = {
        choice_id
        for choice_id, words in matches
        if not any(words != other and f" {words} " in f" {other} " for _, other in matches)
    }
    if len(chosen) == 1:
        found = question.choice(chosen.pop())
        if found is not None:
            return Parsed(value=found.id, display=found.label)
    return None


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text))


def returning(text: str) -> bool:
    """Whether a message only says the shopper is back ("sorry, I'm back", "where were we?")."""
    folded = _words(fold(text).replace("'", ""))
    return bool(_RETURN_CUES.search(folded)) and set(folded.split()) <= _RETURN_WORDS


# First words of a question in the six languages (folded: no accents). Words that
# also start answers once folded ("como mucho 90 €", "pode ser amanhã", "was thinking
# May", "ou" for où) are left out: a final "?" still marks those questions.
_QUESTION_OPENINGS = word_set(
    "how what whats when where which who why is are do does did can could will would"
    " should shall may"
    " comment quoi quand quel quelle quels quelles qui pourquoi combien"
    " wie wann wo welche welcher welches wer warum wieso ist sind gibt kann konnen"
    " cuando donde cual quien cuanto cuanta hay tienen puedo pueden"
    " cosa quando dove quale chi perche quanto quanta avete potete"
    " onde qual quem porque quanto quanta voces"
)


def _is_question(folded: str) -> bool:
    """Whether a message asks something ("do you ship to Lyon?", "what's the weather like?").

    A question word first makes a question; so does a final "?" on words without a
    figure. A figure with a "?" is a hesitant answer ("80? 90?", "100 ? 150 ?").
    """
    words = _words(folded).split()
    if words and words[0] in _QUESTION_OPENINGS:
        return True
    return folded.rstrip().endswith("?") and not any(char.isdigit() for char in folded)


def _yes_no_reply(text: str) -> Parsed | None:
    """A reply that is only a yes or a no, in one of the known phrasings."""
    words = _words(fold(text).replace("'", " "))
    if words in _YES_REPLIES:
        return Parsed(value=True, display="yes")
    if words in _NO_REPLIES:
        return Parsed(value=False, display="no")
    return None


def _parse_yes_no(text: str, intent: str | None) -> Parsed | None:
    if intent == "affirm" or _YES.match(text):
        return Parsed(value=True, display="yes")
    if intent in {"deny", "stop"} or _NO.match(text):
        return Parsed(value=False, display="no")
    return None
