"""Whether a message that reads as "stop" or "goodbye" clearly means it.

Ending the questions is the one step a shopper cannot easily undo, and the NLU
is at its weakest on exactly the messages that matter most here (an opening it
never saw, "interested" next to "not interested", an answer in slang). So the
bot ends only when the intent is confident, well ahead of the runner-up, and the
message carries neither buying words nor an answer; otherwise it asks first.
Pure logic: the actions pass in what the NLU and the interpreter made of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.answers.text import fold, word_set

# The classifier is often sure of wrong readings (it scored "let's continue" as
# stop at 1.00), so these bounds catch only the doubtful ones; the buying-word and
# answer checks below catch the confident mistakes. A real stop or goodbye scores
# above 0.95 with the runner-up under 0.05, so asking costs a clear "stop" nothing.
# The ranking's confidences add up to one, so a 0.80 winner is already 0.60 ahead:
# the margin bound adds a check only above that (a 0.84 winner with 0.15 behind).
MIN_CONFIDENCE = 0.80
MIN_MARGIN = 0.70

# Words that show buying intent in English and the five languages the shoppers mix in.
_BUYING = re.compile(
    r"\b(buy|buying|purchase|purchasing|order|ordering|interested|shopping|looking for"
    r"|continue|carry on"
    r"|acheter|commander|interesse|interessee|cherche"
    r"|kaufen|bestellen|interessiere|interessiert|suche"
    r"|comprar|pedido|interesa|interesado|interesada|busco"
    r"|comprare|ordinare|interessato|interessata|cerco"
    r"|encomendar|interessado|interessada|procuro)\b"
)
# A buying word right after one of these is a refusal ("not interested", "don't
# want to buy"): that is what stop means, so it does not make the stop unclear.
_NEGATIONS = word_set(
    "not no never dont don t nothing nobody pas ne nicht kein keine keinen nichts non nao nada"
    " niente mai nunca jamais"
)
# How many words before a buying word a negation still reaches ("don't really want to buy").
_NEGATION_REACH = 4


def buying_words(text: str) -> bool:
    """Whether ``text`` shows interest in buying that no negation takes back."""
    words = re.findall(r"\w+", fold(text).lower())
    joined = " ".join(words)
    for match in _BUYING.finditer(joined):
        before = joined[: match.start()].split()[-_NEGATION_REACH:]
        if not _NEGATIONS.intersection(before):
            return True
    return False


def ending_is_clear(
    intent_ranking: Sequence[Mapping[str, Any]], text: str, *, answers_something: bool
) -> bool:
    """Whether to act on a stop or goodbye without asking the shopper first.

    ``intent_ranking`` is the NLU's ranking (best first); ``answers_something``
    says whether the flow's interpreter read an answer in the message.
    """
    if answers_something or buying_words(text):
        return False
    if not intent_ranking:
        return False
    confidences = [float(intent.get("confidence") or 0.0) for intent in intent_ranking[:2]]
    best, runner_up = confidences[0], (confidences[1] if len(confidences) > 1 else 0.0)
    return best >= MIN_CONFIDENCE and best - runner_up >= MIN_MARGIN
