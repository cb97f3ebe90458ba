"""French, German, Spanish, Italian and Portuguese time phrases, rewritten in English.

``to_english`` turns "la semaine prochaine", "tra due settimane" or "antes de Navidad" into
"next week", "in due weeks" and "before christmas", which the English rules of
``bot.answers.timeline`` then read. Number words stay as they are: those rules read 1 to
31 in all six languages. The input is ``fold``-ed, elided articles are separate words
and other apostrophes gone ("d'ici" → "d ici", "new year's" → "new years"), hyphens
between letters are spaces ("week-end" → "week end"), one space between words. Words
that only their accent tells apart ("já", "pê") are read before folding, by
``before_folding``.

Only time words are rewritten. A word that is also an everyday word is rewritten only
next to a time word: "tag" and "an" after a number, "Noël", "Natal" (a town) and
"Silvester" (a name) after a preposition ("avant Noël"), "julio" (a name) after "en" or
"de", "sexta" (also "sixth") as "sexta-feira" or after "na" or "até", "été" (also
"been") after "l'", "cet" or "en", Italian "estate" after "in", "quest'" or "l'",
German "Sommer" and "Herbst" (names too) after an article or preposition, French "we"
after "ce" or "le" ("ce we" is this weekend), "ya" and "subito" alone (now), "ya" after
"quiero" or "necesito" (right away), "subito" not after "ho" ("ho subito": suffered),
a number after an article ("le 15", "am 15.", "dia 15": the 15th).
In French, Spanish, Italian and Portuguese "8 days" means a week and "15 days" two weeks
("dans quinze jours", "en 15 días"). Texting forms are read like the words they stand
for ("dm1", "finde", "fds", "la semaine pro", "nä. Woche", "semana q vem", "prox
semana"), holidays become English names, by country where the day differs ("día de la
madre" → "mothers day in spain"), and "vers", "so gegen", "hacia", "verso", "lá pra"
before a time are "around".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from bot.answers.text import SMALL_NUMBER_WORDS


def words_pattern(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, the longest first, as a prefix tree.

    Hundreds of words as a plain alternation are tried one by one at every position;
    sharing their prefixes ("vingt|vingt et un|vingt deux" → "vingt(?: (?:et un|deux))?")
    makes matching several times faster.
    """
    tree: dict[str, dict] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _tree_pattern(tree)


def _tree_pattern(node: dict[str, dict]) -> str:
    branches = [re.escape(char) + _tree_pattern(child) for char, child in node.items() if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # A word that ends here may go on into a longer one: try the longer one first.
    return f"(?:{body})?" if "" in node else body


_NUMBER = r"\d{1,3}|" + words_pattern(SMALL_NUMBER_WORDS)

# Whole words and phrases with one English meaning wherever they appear.
_PHRASES: dict[str, str] = {
    # today, tomorrow, yesterday
    **dict.fromkeys(("aujourdhui", "heute", "heut", "hoy", "oggi", "hoje"), "today"),
    **dict.fromkeys(("ce soir", "heute abend", "esta noche", "stasera", "esta noite"), "tonight"),
    **dict.fromkeys(("hoje a noite", "hoje de noite", "questa sera"), "tonight"),
    **dict.fromkeys(("ce matin", "heute morgen", "heute fruh", "esta manana"), "this morning"),
    **dict.fromkeys(("stamattina", "stamani", "stamane", "esta manha"), "this morning"),
    **dict.fromkeys(("hoje de manha", "hoje pela manha"), "this morning"),
    **dict.fromkeys(("cet apres midi", "heute nachmittag", "esta tarde"), "this afternoon"),
    **dict.fromkeys(("oggi pomeriggio", "hoje a tarde"), "this afternoon"),
    **dict.fromkeys(("demain", "morgen", "morgen fruh", "morgen frueh", "manana"), "tomorrow"),
    **dict.fromkeys(("manana por la manana", "domani", "domattina", "amanha"), "tomorrow"),
    # as texted: "dm1" and "dmain" (demain), "dmn" (domani), "amnh" (amanhã), "mñn" (mañana)
    **dict.fromkeys(("dm1", "dmain", "2main", "dmn", "amnh", "mnn"), "tomorrow"),
    **dict.fromkeys(
        ("apres demain", "ubermorgen", "uebermorgen", "pasado manana"), "day after tomorrow"
    ),
    **dict.fromkeys(("dopodomani", "depois de amanha"), "day after tomorrow"),
    **dict.fromkeys(("hier", "avant hier", "gestern", "vorgestern", "ayer"), "yesterday"),
    **dict.fromkeys(("anteayer", "ieri", "l altro ieri", "ontem", "anteontem"), "yesterday"),
    # "Morgen" is also the morning: "guten Morgen" greets, "am Morgen" is in the morning.
    **dict.fromkeys(("guten morgen", "am morgen", "jeden morgen", "diesen morgen"), "morning"),
    **dict.fromkeys(("por la manana", "de la manana", "en la manana"), "morning"),
    # now, right away, as soon as possible, soon
    **dict.fromkeys(("maintenant", "jetzt", "ahora", "adesso", "agora"), "now"),
    **dict.fromkeys(("ahora mismo", "agora mesmo", "gleich jetzt", "ya mismo"), "right now"),
    **dict.fromkeys(("pas maintenant", "nicht jetzt", "ahora no", "no ahora"), "not now"),
    **dict.fromkeys(("non adesso", "non ora", "agora nao", "nao agora"), "not now"),
    **dict.fromkeys(("pour l instant", "pour le moment", "im moment", "momentan"), "for now"),
    **dict.fromkeys(("vorerst", "por ahora", "por el momento", "per ora"), "for now"),
    **dict.fromkeys(("per adesso", "per il momento", "por agora", "por enquanto"), "for now"),
    **dict.fromkeys(("tout de suite", "sofort", "de inmediato"), "right away"),
    **dict.fromkeys(("immediatement", "inmediatamente", "immediatamente"), "right away"),
    **dict.fromkeys(("imediatamente", "urgente", "dringend"), "right away"),
    **dict.fromkeys(("des que possible", "au plus vite", "le plus vite possible"), "asap"),
    **dict.fromkeys(("le plus tot possible", "aussi vite que possible", "au plus tot"), "asap"),
    **dict.fromkeys(("so schnell wie moglich", "so schnell wie moeglich"), "asap"),
    **dict.fromkeys(("so bald wie moglich", "so bald wie moeglich", "baldmoglichst"), "asap"),
    **dict.fromkeys(("baldmoeglichst", "schnellstmoglich", "moglichst schnell"), "asap"),
    **dict.fromkeys(("moglichst bald", "lo antes posible", "lo mas pronto posible"), "asap"),
    **dict.fromkeys(("lo mas rapido posible", "cuanto antes", "il prima possibile"), "asap"),
    **dict.fromkeys(("prima possibile", "al piu presto", "il piu presto possibile"), "asap"),
    **dict.fromkeys(("quanto prima", "appena possibile", "o mais rapido possivel"), "asap"),
    **dict.fromkeys(("o mais rapido", "o quanto antes", "assim que possivel"), "asap"),
    **dict.fromkeys(("o mais breve possivel", "o mais cedo possivel", "quanto antes"), "asap"),
    **dict.fromkeys(("bientot", "prochainement", "bald", "demnachst", "demnaechst"), "soon"),
    **dict.fromkeys(("in kurze", "dentro de poco", "en breve", "proximamente"), "soon"),
    **dict.fromkeys(("presto", "a breve", "tra poco", "fra poco", "prossimamente"), "soon"),
    **dict.fromkeys(("em breve", "daqui a pouco", "brevemente"), "soon"),
    # holidays ("Noël", "Natal" and "Silvester" need a preposition: see _CUED)
    **dict.fromkeys(("weihnachten", "navidad", "navidades", "natale"), "christmas"),
    **dict.fromkeys(("la veille de noel", "reveillon de noel", "heiligabend"), "christmas eve"),
    **dict.fromkeys(("heiligen abend", "nochebuena", "vigilia di natale"), "christmas eve"),
    **dict.fromkeys(("vespera de natal", "vespera do natal"), "christmas eve"),
    **dict.fromkeys(("nouvel an", "jour de l an", "neujahr", "ano nuevo"), "new year"),
    **dict.fromkeys(("capodanno", "ano novo"), "new year"),
    **dict.fromkeys(("saint sylvestre", "nochevieja"), "new years eve"),
    **dict.fromkeys(("paques", "ostern", "pascua", "pasqua", "pascoa"), "easter"),
    **dict.fromkeys(("saint valentin", "valentinstag", "san valentin"), "valentines day"),
    **dict.fromkeys(("san valentino",), "valentines day"),
    **dict.fromkeys(("semaine sainte", "karwoche", "semana santa", "settimana santa"), "holy week"),
    **dict.fromkeys(("ascension", "christi himmelfahrt", "himmelfahrt"), "ascension day"),
    **dict.fromkeys(("ascensione", "ascensao"), "ascension day"),
    "rentree": "back to school",
    # Father's and Mother's Day are not on the same day everywhere: the country's name says
    # which one ("Vatertag" is Ascension Day, Spain's, Italy's and Portugal's Father's Day
    # is Saint Joseph's).
    "fete des peres": "fathers day",
    **dict.fromkeys(("vatertag", "herrentag", "mannertag", "maennertag"), "ascension day"),
    **dict.fromkeys(("dia del padre", "festa del papa", "dia do pai"), "st josephs day"),
    "dia dos pais": "fathers day in brazil",
    **dict.fromkeys(("muttertag", "festa della mamma", "dia das maes"), "mothers day"),
    "fete des meres": "mothers day in france",
    "dia de la madre": "mothers day in spain",
    "dia da mae": "mothers day in portugal",
    # periods
    **dict.fromkeys(("jour", "giorno", "dia"), "day"),
    **dict.fromkeys(("jours", "tage", "tagen", "giorni", "dias"), "days"),
    **dict.fromkeys(("semaine", "woche", "semana", "settimana"), "week"),
    **dict.fromkeys(("semaines", "wochen", "semanas", "settimane"), "weeks"),
    **dict.fromkeys(("week end", "wochenende", "fin de semana", "fim de semana"), "weekend"),
    **dict.fromkeys(("finde", "fds"), "weekend"),  # as texted in Spanish and Portuguese
    **dict.fromkeys(("fine settimana", "finesettimana"), "weekend"),
    **dict.fromkeys(("quinzaine de jours", "quinzaine", "quincena", "quinzena"), "fortnight"),
    **dict.fromkeys(("quindicina di giorni", "quindicina"), "fortnight"),
    **dict.fromkeys(("mois", "monat", "monats", "mes", "mese"), "month"),
    **dict.fromkeys(("monate", "monaten", "meses", "mesi"), "months"),
    **dict.fromkeys(("annee", "jahr", "jahres", "ano", "anno"), "year"),
    **dict.fromkeys(("annees", "ans", "jahre", "jahren", "anos", "anni"), "years"),
    "monatsende": "end of the month",
    "monatsanfang": "start of the month",
    "jahresende": "end of the year",
    # seasons ("été", Italian "estate" and the German names need a cue: see _CUED)
    **dict.fromkeys(("printemps", "primavera"), "spring"),
    **dict.fromkeys(("verano", "verao"), "summer"),
    **dict.fromkeys(("automne", "otono", "autunno", "outono"), "autumn"),
    **dict.fromkeys(("hiver", "invierno", "inverno"), "winter"),
    # months ("mars", "mai" and "marco" become the English words that need a cue)
    **dict.fromkeys(("janvier", "januar", "janner", "enero", "gennaio", "janeiro"), "january"),
    **dict.fromkeys(("fevrier", "februar", "febrero", "febbraio", "fevereiro"), "february"),
    **dict.fromkeys(("mars", "marz", "maerz", "marzo", "marco"), "march"),
    **dict.fromkeys(("avril", "abril", "aprile"), "april"),
    **dict.fromkeys(("mai", "mayo", "maggio", "maio"), "may"),
    **dict.fromkeys(("juin", "juni", "junio", "giugno", "junho"), "june"),
    **dict.fromkeys(("juillet", "juli", "luglio", "julho"), "july"),
    **dict.fromkeys(("aout", "agosto"), "august"),
    **dict.fromkeys(("septembre", "septiembre", "setiembre", "settembre", "setembro"), "september"),
    **dict.fromkeys(("octobre", "oktober", "octubre", "ottobre", "outubro"), "october"),
    **dict.fromkeys(("novembre", "noviembre", "novembro"), "november"),
    **dict.fromkeys(("decembre", "dezember", "diciembre", "dicembre", "dezembro"), "december"),
    # weekdays
    **dict.fromkeys(("lundi", "montag", "lunes", "lunedi", "segunda feira"), "monday"),
    **dict.fromkeys(("mardi", "dienstag", "martes", "martedi", "terca feira"), "tuesday"),
    **dict.fromkeys(("mercredi", "mittwoch", "miercoles", "mercoledi"), "wednesday"),
    **dict.fromkeys(("quarta feira",), "wednesday"),
    **dict.fromkeys(("jeudi", "donnerstag", "jueves", "giovedi", "quinta feira"), "thursday"),
    **dict.fromkeys(("vendredi", "freitag", "viernes", "venerdi", "sexta feira"), "friday"),
    **dict.fromkeys(("samedi", "samstag", "sonnabend", "sabado", "sabato"), "saturday"),
    **dict.fromkeys(("dimanche", "sonntag", "domingo", "domenica"), "sunday"),
}
_PHRASE = re.compile(rf"\b(?:{words_pattern(_PHRASES)})\b")

_PT_WEEKDAYS = {"segunda": "monday", "terca": "tuesday", "quarta": "wednesday"}
_PT_WEEKDAYS |= {"quinta": "thursday", "sexta": "friday"}
_ROMANCE_DAYS = "jours|dias|giorni"
_DE_SEASONS = {"sommer": "summer", "herbst": "autumn", "winter": "winter"}
_DE_SEASONS |= dict.fromkeys(("fruhling", "fruehling", "fruhjahr", "fruehjahr"), "spring")
# What follows a number that is no day of the month: "le 15 %", "el 15 de mayo" is a date.
_NOT_A_DAY = (
    r"[.,/:-]?\d|\s?(?:%|€|\$|£|h\b|uhr|heures?|horas?|ore|euros?|eur|chf|jours|dias"
    r"|giorni|tage|tagen|semaines|semanas|settimane|wochen|mois|meses|mesi|monate|monaten"
    r"|ans|anos|anni|jahre|jahren|personnes|personas|persone|personen|pessoas|pieces"
    r"|piezas|pezzi|pecas|stuck|km|kg|cm|mm|ml|l\b|litres?|litros?|litri|liter)"
)


def _ordinal(number: str) -> str:
    """The English ordinal the day-of-month rule reads: "15" → "15th", "1" → "1st"."""
    value = int(number)
    suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value}{suffix}"


def _day_of_month(match: re.Match[str]) -> str:
    article = f"{match['article']} " if match["article"] else ""
    return f"{article}the {_ordinal(match['day'])}"


_Replacement = str | Callable[[re.Match[str]], str]
# Rewrites that need the words around them, made before the phrases.
_CUED: tuple[tuple[str, _Replacement], ...] = (
    (rf"\b(?:8|huit|ocho|otto|oito)\s(?:{_ROMANCE_DAYS})\b", "1 week"),
    (rf"\b(?:15|quinze|quince|quindici)\s(?:{_ROMANCE_DAYS})\b", "2 weeks"),
    (rf"\b({_NUMBER})\stag\b", r"\1 day"),
    (rf"\b({_NUMBER})\san\b", r"\1 year"),
    (r"\bl\san\b", "l year"),  # "l'an prochain"
    (r"\b(avant|pour|apres|d ici|jusqu a|a|vers|pendant)\snoel\b", r"\1 christmas"),
    (r"\b(antes d[eo]|ate|ate ao|ate o|depois d[eo]|no|pelo|para o|pro)\snatal\b", r"\1 christmas"),
    (r"\b(an|zu|bis|vor|nach|seit)\ssilvester\b", r"\1 new years eve"),
    (r"\b(en|de|para|del|hasta|desde|antes de|finales de|principios de)\sjulio\b", r"\1 july"),
    (
        r"\b(na|ate|ate a|nesta|esta|proxima|prox\.?|antes da|depois da)"
        r"\s(segunda|terca|quarta|quinta|sexta)\b",
        lambda m: f"{m[1]} {_PT_WEEKDAYS[m[2]]}",
    ),
    (r"\b(segunda|terca|quarta|quinta|sexta)(?=\sq(?:ue)?\svem\b)", lambda m: _PT_WEEKDAYS[m[1]]),
    # Seasons that are also other words: "été" (been), Italian "estate" (English estate),
    # "Sommer" and "Herbst" (names).
    (r"\b(cet|l|en)\sete\b", r"\1 summer"),
    (
        r"\b(nell|quest|questa|l|dell|all|prossima|scorsa|fine|inizio|meta|entro)\sestate\b",
        r"\1 summer",
    ),
    # "in estate" ends the message or goes on in Italian ("in estate road" is an address)
    (
        r"\bin\sestate\b(?!\s(?!(?:e|o|ma|forse|magari|probabilmente|credo|penso|spero)\b)[a-z])",
        "in summer",
    ),
    (r"\bestate\s(?=(?:prossima|scorsa)\b)", "summer "),
    (
        r"\b(im|zum|vom|dem|den|der|des|diesen|diesem|dieser|dieses|nachsten|naechsten|kommenden"
        r"|letzten|vergangenen|ab|anfang|ende|mitte)\s(sommer|herbst|winter|fruhling|fruehling"
        r"|fruhjahr|fruehjahr)(?:e?s)?\b",
        lambda m: f"{m[1]} {_DE_SEASONS[m[2]]}",
    ),
    # As texted: French "ce we" (week-end), German "nä. Woche" (nächste), and in Portugal
    # "para a semana", "para o mês", "para o ano" are next week, month and year.
    (r"\b(ce|le|du|au|un|les|cet|tout le|tous les)\s(?:we|w e|w\.e)\b\.?", r"\1 week end"),
    (r"\b(am|an|ubers|uebers|zum|dieses|nachstes|naechstes|kommendes)\swe\b", r"\1 wochenende"),
    (r"\bna(?:\.|xte[nrsm]?)?\s(?=(?:woche|wochenende|monat|jahr)\b)", "nachste "),
    (
        r"\b(?:para (?:a|o)|pra|pro)\s(semana|mes|ano)\b"
        r"(?!\s(?:q(?:ue)?\svem|passad[oa]|seguinte|inteir[oa]|tod[oa]|novo|de|do|da)\b)",
        r"next \1",
    ),
    # The weekend ahead, unless "next" follows ("le week-end prochain").
    (r"\b(?:am|an)\swochenende\b", "this weekend"),
    (r"\b(?:le|au|du)\sweek\send\b(?!\s(?:prochain|suivant|d apres|pro|proch)\b)", "this weekend"),
    (
        r"\bel\s(?:fin\sde\ssemana|finde)\b(?!\s(?:q(?:ue)?\sviene|proximo|prox|siguiente)\b)",
        "this weekend",
    ),
    (
        r"\b(?:il|nel|al)\s(?:fine\ssettimana|weekend)\b(?!\s(?:prossimo|prox|pross)\b)",
        "this weekend",
    ),
    (
        r"\b(?:no|o|ao)\s(?:fim\sde\ssemana|fds)\b(?!\s(?:q(?:ue)?\svem|seguinte|prox)\b)",
        "this weekend",
    ),
    # A day of the month after an article ("le 15", "am 15.", "el 15", "il 15", "dia 15")
    # is "the 15th"; "dia" and "giorno" go, the article stays for a preposition before it.
    (
        r"(?:\b(?P<article>le|el|il|zum|vom|dem|al|au|del|dal|du|(?<!\bi )am)\s"
        rf"|\b(?:dia|giorno)\s)(?P<day>3[01]|[12]\d|0?[1-9])(?:er|e|o|\.)?(?!{_NOT_A_DAY})",
        _day_of_month,
    ),
    # "now" alone: "ya" (Spanish), "subito" (Italian, also "suffered": "ho subito"); after
    # "I want" or "I need" "ya" and "já" are "right away" ("lo quiero ya", "preciso já").
    (r"^(?:ya|subito)(?:\s(?:ya|subito))*(?=[^a-z0-9]*$)", "now"),
    (
        r"\b(quiero|necesito|quero|preciso)\s(?:(?:lo|la|los|las|o|a|isso|eso)\s)?(?:ya|ja)\b"
        r"(?!\smismo)",
        r"\1 right away",
    ),
    (
        r"\b(?:(?P<had>ho|ha|hai|hanno|abbiamo|avete)\s)?subito\b",
        lambda m: m.group(0) if m["had"] else "right away",
    ),
)

_SEASON_EN = "spring|summer|autumn|winter"
_TIME_NOUN = "week|weekend|month|year|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_TIME_NOUN += f"|{_SEASON_EN}"
_MONTH_EN = "january|february|march|april|may|june|july|august|september|october|november"
_MONTH_EN += "|december"
_ARTICLE = r"(?:(?:la|le|l|el|il|lo|o|a|der|die|das|den|dem|des|na|no|nel|nella|al|im|am|ao)\s)?"
_NEXT_BEFORE = (
    "prochaine?|proxim[oa]|prossim[oa]|nachste[nrsm]?|naechste[nrsm]?|kommende[nrsm]?"
    r"|siguiente|seguinte|prox\.?|pross\.?"
)
_NEXT_AFTER = (
    "prochaine?|suivante?|d apres|proxim[oa]|q(?:ue)? viene|q(?:ue)? vem|siguiente|seguinte"
    "|prossim[oa]|entrante|qui vient|proch|pro|prox|pross"
)
_COMING = (
    "prochains|prochaines|proximos|proximas|nachsten|naechsten|kommenden|prossimi|prossime"
    "|siguientes|seguintes"
)
_THIS = (
    "cette|ce|cet|diese[nrsm]?|in diesem|in dieser|esta|este|esse|essa|nesta|neste|nessa|nesse"
    "|questa|questo|quest"
)
_LAST_BEFORE = "letzte[nrsm]?|vergangene[nrsm]?"
_LAST_AFTER = "derniere?|passee?|pasad[oa]|scors[oa]|passad[oa]"
_UNITS_EN = r"(?:days?|weeks?|months?|years?|fortnights?)"
_MOD_WORDS = {
    **dict.fromkeys(("fin", "finales", "final", "fines", "fine", "fim", "ende"), "end of "),
    **dict.fromkeys(("debut", "anfang", "principios", "principio", "inicio"), "start of "),
    **dict.fromkeys(("comienzos", "comienzo", "inizio", "comeco"), "start of "),
    **dict.fromkeys(("mitte", "mediados", "meta", "meados"), "middle of "),
}
_MOD = "|".join(_MOD_WORDS)
_MOD_LEAD = r"(?:(?:a|au|a la|en|al|alla|all|no|na|ao|zum|zur|am|em|in|por|pelo|verso)\s)?"
_OF = r"(?:du|de la|de|des|del|do|da|di|della|dello|dell|dem|der)\s"
# The English holiday names the phrases above rewrite to.
_HOLIDAY_EN = (
    "christmas|new year|easter|valentines|halloween|black friday|holy week|ascension day"
    "|back to school|fathers day|mothers day|st josephs day"
)
_TIME_AHEAD = (
    rf"(?=(?:the\s|this\s|next\s|end of\s|start of\s|middle of\s|coming\s)?(?:{_TIME_NOUN}"
    rf"|{_MONTH_EN}|today|tonight|tomorrow|{_HOLIDAY_EN}|\d+(?:st|nd|rd|th)?)\b"
    rf"|(?:{_NUMBER}|a|an)\s{_UNITS_EN}\b)"
)
_PREPOSITIONS = {
    **dict.fromkeys(("dans", "en", "im", "tra", "fra", "nel", "nei", "em", "dentro de"), "in"),
    **dict.fromkeys(("daqui a", "daqui", "innerhalb von", "innerhalb", "binnen"), "in"),
    **dict.fromkeys(("am", "au", "ao"), "on"),
    **dict.fromkeys(("d ici", "jusqu a", "jusqu au", "bis", "bis zum", "bis zur", "hasta"), "by"),
    **dict.fromkeys(("entro", "ate", "ate ao", "ate o", "ate a", "spatestens"), "by"),
    **dict.fromkeys(("avant", "vor", "antes de", "antes del", "antes do", "antes da"), "before"),
    **dict.fromkeys(
        ("prima di", "prima del", "prima della", "prima dello", "prima dell"), "before"
    ),
    **dict.fromkeys(("apres", "nach", "despues de", "despues del", "dopo"), "after"),
    **dict.fromkeys(("depois de", "depois do", "depois da"), "after"),
    **dict.fromkeys(("pour", "fur", "zu", "zum", "para", "per", "para el", "para la"), "for"),
    **dict.fromkeys(("para o", "para a", "pro", "pra"), "for"),
    # "around May": "vers mai", "so gegen Mai", "hacia mayo", "verso maggio", "lá pra maio"
    **dict.fromkeys(("vers", "aux alentours de", "autour de", "gegen", "so gegen"), "around"),
    **dict.fromkeys(
        ("hacia", "sobre", "alrededor de", "verso", "intorno a", "attorno a"), "around"
    ),
    **dict.fromkeys(("la pra", "la para", "la pro", "por volta de"), "around"),
}
_PREPOSITION = "|".join(sorted(_PREPOSITIONS, key=len, reverse=True))


def _mod(match: re.Match[str]) -> str:
    # "fine" and "final" are English words too: "fine next week" keeps its meaning.
    if match["mod"] in ("fine", "final") and not match["of"] and match["which"]:
        return match.group(0)
    return _MOD_WORDS[match["mod"]]


# Applied in order, after the phrases.
_STRUCTURE: tuple[tuple[str, _Replacement], ...] = (
    # "vor 2 Wochen", "il y a 3 jours", "hace un mes", "2 settimane fa"
    (rf"\b(?:il y a|hace|ha|vor)\s({_NUMBER})\s({_UNITS_EN})\b", r"\1 \2 ago"),
    (rf"\b({_NUMBER})\s({_UNITS_EN})\sfa\b", r"\1 \2 ago"),
    # "2 à 3 semaines", "zwei bis drei Wochen", "une semaine ou deux"
    (
        rf"\b({_NUMBER})\s?(?:bis|a|ou|oder|o|e|et|y|und)\s?({_NUMBER})\s({_UNITS_EN})\b",
        r"\1 to \2 \3",
    ),
    (
        r"\b(?:un|une|uno|una|um|uma|ein|eine|einer)\s(day|week|month|year)\s(?:ou|oder|o)"
        r"\s(?:deux|zwei|dos|due|dois|duas|2)\b",
        r"a \1 or 2",
    ),
    # "les prochains jours", "in den kommenden Wochen", "nei prossimi mesi"
    (
        rf"\b(?:(?:dans|en|in|nei|nelle|nos|nas)\s)?(?:(?:les|los|las|den|i|le|os|as)\s)?"
        rf"(?:{_COMING})\s(days|weeks|months)\b",
        r"coming \1",
    ),
    # "dans les jours qui viennent", "nei giorni a venire"
    (
        r"\b(?:(?:dans|en|in|nei|nelle|nos|nas)\s)?(?:(?:les|los|las|i|le|os|as|den)\s)?"
        r"(days|weeks|months)\s(?:qui viennent|a venir|a venire|que vienen|que vem|que veem)\b",
        r"coming \1",
    ),
    # "dans le mois qui vient", "innerhalb des nächsten Monats": within a month from today
    (
        r"\b(?:dans|en)\s(?:le|la|l)\s(week|month|year)\s(?:qui vient|a venir)\b",
        r"within the next \1",
    ),
    (rf"\binnerhalb\s{_ARTICLE}(?:{_NEXT_BEFORE})\s(week|month|year)\b", r"within the next \1"),
    (rf"\b{_ARTICLE}(?:{_NEXT_BEFORE})\s({_TIME_NOUN})\b", r"next \1"),
    (rf"\b{_ARTICLE}({_TIME_NOUN})\s(?:{_NEXT_AFTER})\b", r"next \1"),
    (rf"\b(?:{_THIS})\s({_TIME_NOUN})(?:\sci)?\b", r"this \1"),
    (rf"\b{_ARTICLE}(?:{_LAST_BEFORE})\s({_TIME_NOUN})\b", r"last \1"),
    (rf"\b{_ARTICLE}({_TIME_NOUN})\s(?:{_LAST_AFTER})\b", r"last \1"),
    # "fin du mois", "Ende des Monats", "a finales de mes", "début avril", "mi-avril"
    (
        rf"\b{_MOD_LEAD}{_ARTICLE}(?P<mod>{_MOD})\s(?P<of>{_OF})?{_ARTICLE}"
        rf"(?=(?P<which>this\s|next\s)?(?:week|weekend|month|year|{_MONTH_EN}|{_SEASON_EN})\b)",
        _mod,
    ),
    (rf"\bmi\s(?=(?:{_MONTH_EN})\b)", "middle of "),
    (rf"(?<!\bintorno\s)(?<!\battorno\s)\b(?:ad|a)\s(?=(?:{_MONTH_EN})\b)", "in "),
    # "d'ici", "bis", "prima di", "dans" before a time word
    (
        rf"\b(?P<prep>{_PREPOSITION})\s(?:(?:le|la|l|el|il|lo|o|a|der|die|das|den|dem)\s)?"
        rf"{_TIME_AHEAD}",
        lambda m: _PREPOSITIONS[m["prep"]] + " ",
    ),
)


def _compile(
    rules: tuple[tuple[str, _Replacement], ...],
) -> tuple[tuple[re.Pattern[str], _Replacement], ...]:
    return tuple((re.compile(pattern), replacement) for pattern, replacement in rules)


_CUED_RULES = _compile(_CUED)
_STRUCTURE_RULES = _compile(_STRUCTURE)


# Words that only their accent tells apart from another language's word, read before
# ``fold`` drops it: Portuguese "já" alone is "now" (German "ja" is "yes"), French "pê"
# is "peut-être" (Portuguese "pé" is "foot").
_ACCENTED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\W*já(?:\W+já)?(?=\W*$)"), "agora"),
    (re.compile(r"(?<!\w)p-?ê(?!\w)"), "peut-être"),
)


def before_folding(text: str) -> str:
    """Rewrite in lower-case ``text`` the words whose accent says what they mean ("já")."""
    text = unicodedata.normalize("NFC", text)
    for pattern, replacement in _ACCENTED:
        text = pattern.sub(replacement, text)
    return text


def to_english(text: str) -> str:
    """Rewrite the time phrases of the other five languages in ``text`` in English."""
    for pattern, replacement in _CUED_RULES:
        text = pattern.sub(replacement, text)
    text = _PHRASE.sub(lambda m: _PHRASES[m.group(0)], text)
    for pattern, replacement in _STRUCTURE_RULES:
        text = pattern.sub(replacement, text)
    return text
