"""Deterministic guards: each names one way two close questions can need different answers.

A guard takes two normalised questions (``textnorm.Parsed``: the cached one ``a`` and the new
one ``b``, typos already aligned) and returns ``None`` when it sees no conflict, or a short
reason ("numbers 14 != 40") when the cached answer must not be served. Guards are symmetric
and conservative: each one looks for a specific, visible change (a number, a date, a negation,
an antonym, a swapped name, a reversed direction, a changed audience or product kind, another
question word) and lets everything else through; the learned pair model judges the rest.
They must not reject paraphrases: "NYC" = "New York City", "2" = "two", "14 days" = "two weeks",
"3pm" = "3 o'clock in the afternoon", "kids" = "children", "On my phone, how do I ..." = "How do I
... on my phone". Each guard's docstring has examples; tests/unit/test_semantic_verifier.py runs them.
"""

from __future__ import annotations

from collections.abc import Callable

from .lexicon import (
    ANTONYM_INDEX,
    ANTONYMS,
    DEGREES,
    DIRECTIONAL,
    FREE_TIER_NEXT,
    HOW_TYPES,
    MODALS,
    NEGATING_PREFIXES,
    OPPOSITE_PREFIXES,
    OPPOSITE_SUFFIXES,
    PHRASAL_OPPOSITES,
    PHRASAL_VERBS,
    QUESTION_TYPES,
    SCOPE,
    SCOPE_CONTEXT,
    SUPERLATIVE_MARKERS,
)
from .textnorm import (
    Parsed,
    acronym_letters,
    default_vocab,  # noqa: F401 - the docstring examples use it
    known,
    negations,
    parse,  # noqa: F401 - the docstring examples use it
    singular,
    stem,
)
from .words import ALIASES, MONTHS, NUMBER_WORDS, RELATIVE_DAYS, STOPWORDS, WEEKDAYS

Guard = Callable[[Parsed, Parsed], "str | None"]

# -- helpers ------------------------------------------------------------------------------------


def _only(x: Parsed, y: Parsed) -> set[str]:
    """Keys of x that y lacks."""
    return set(x.keys) - set(y.keys)


def _quantities(p: Parsed) -> dict[float, str]:
    """value -> unit, without a bare 1 ("one egg" = "a single egg" = "an egg")."""
    out: dict[float, str] = {}
    for v, u in p.numbers:
        if (v, u) == (1.0, ""):
            continue
        out[v] = out.get(v) or u
    return out


def _values(q: dict[float, str]) -> str:
    return ",".join(f"{v:g}" for v in sorted(q)) or "-"


# -- the guards ----------------------------------------------------------------------------------


def numbers_guard(a: Parsed, b: Parsed) -> str | None:
    """Different quantities: values compared after units are unified (weeks -> days, "fifty
    pounds" = "£50", "fifteen percent" = "15%"); a bare 1 is ignored ("one egg" = "a single egg").

    >>> numbers_guard(parse("Can I return it after 14 days?"), parse("Can I return it after 40 days?"))
    'numbers 14 != 40'
    >>> numbers_guard(parse("Can I return it after 14 days?"), parse("Can I still send it back after two weeks?"))
    >>> numbers_guard(parse("How many calories are in one egg?"), parse("How many calories are in three eggs?"))
    'numbers - != 3'
    """
    qa, qb = _quantities(a), _quantities(b)
    if set(qa) == set(qb):
        for v in qa:
            if qa[v] and qb[v] and qa[v] != qb[v]:
                return f"units {v:g} {qa[v]} != {qb[v]}"
        return None
    return f"numbers {_values(qa)} != {_values(qb)}"


def time_of_day_guard(a: Parsed, b: Parsed) -> str | None:
    """am vs pm (7am vs 7pm; "this morning" vs "this evening"); one side without a marker passes.

    >>> time_of_day_guard(parse("Remind me at 7am"), parse("Remind me at 7pm"))
    'am/pm am != pm'
    >>> time_of_day_guard(parse("Can I book for 3pm tomorrow?"), parse("Is 3 o'clock tomorrow afternoon free?"))
    """
    if a.meridiem and b.meridiem and not (a.meridiem & b.meridiem):
        return f"am/pm {','.join(sorted(a.meridiem))} != {','.join(sorted(b.meridiem))}"
    return None


def dates_guard(a: Parsed, b: Parsed) -> str | None:
    """Different days, months or relative days (both sides must name one): "January" vs "June",
    "tomorrow" vs "Friday", "this year" vs "last year"; "Monday to Friday" = "weekdays".

    >>> dates_guard(parse("What was my bill in January?"), parse("What was my bill in June?"))
    'dates january != june'
    >>> dates_guard(parse("When does the pharmacy shut Monday to Friday?"), parse("Pharmacy closing time on weekdays?"))
    """
    if a.dates and b.dates and a.dates != b.dates:
        return f"dates {','.join(sorted(a.dates))} != {','.join(sorted(b.dates))}"
    return None


def polarity_guard(a: Parsed, b: Parsed) -> str | None:
    """One side negated, the other not (not / no / never / without / avoid / non-): the parity of
    negations differs. "can't" = "cannot" = "can not".

    >>> polarity_guard(parse("Cancel my subscription"), parse("Don't cancel my subscription"))
    'negation 0 != 1'
    >>> polarity_guard(parse("I can't log in"), parse("I cannot log in"))
    """
    na, nb = negations(a), negations(b)
    if na % 2 != nb % 2:
        return f"negation {na} != {nb}"
    return None


def antonym_guard(a: Parsed, b: Parsed) -> str | None:
    """Opposite words: open/closed, add/remove, include/exclude, before/after, cheaper/more
    expensive, men's/women's, check in/check out; a word against its negated form (safe/unsafe,
    refundable/non-refundable, archive/unarchive, legal/illegal); and words made opposite by a
    prefix or suffix pair on the same stem (overpaid/underpaid, upstream/downstream, pre-tax/
    post-tax, inbound/outbound, import/export, useful/useless).

    >>> antonym_guard(parse("Is the clinic open on Sundays?"), parse("Is the clinic closed on Sundays?"))
    'opposites open / closed'
    >>> antonym_guard(parse("How do I archive a project?"), parse("How do I unarchive a project?"))
    'opposites archive / unarchive'
    >>> antonym_guard(parse("Was I overcharged for delivery?"), parse("Was I undercharged for delivery?"))
    'opposites overcharged / undercharged'
    >>> antonym_guard(parse("When does the pharmacy close?"), parse("When does the pharmacy shut?"))
    """
    oa, ob = _only(a, b), _only(b, a)
    if not oa or not ob:
        return None
    for wa in sorted(oa):
        for i, side in ANTONYM_INDEX.get(wa, ()):
            other = ANTONYMS[i][1 - side]
            hit = ob & other
            if hit:
                return f"opposites {wa} / {min(hit)}"
    for wa in oa:
        for wb in ob:
            for pre in NEGATING_PREFIXES:
                if (wb == pre + wa or wa == pre + wb) and len(min(wa, wb, key=len)) >= 4:
                    return f"opposites {wa} / {wb}"
            if _affix_opposites(wa, wb):
                return f"opposites {wa} / {wb}"
    for pa, pb in ((a, b), (b, a)):
        for x, y in PHRASAL_OPPOSITES:
            for i, k in enumerate(pa.keys[:-1]):
                if k in PHRASAL_VERBS and pa.keys[i + 1] == x:
                    for j, kb in enumerate(pb.keys[:-1]):
                        if kb == k and pb.keys[j + 1] == y:
                            return f"opposites {k} {x} / {k} {y}"
    return None


def _affix_opposites(x: str, y: str) -> bool:
    """x and y are one stem (3+ letters) with opposite prefixes or suffixes (over-/under-, -ful/-less)."""
    for p, q in OPPOSITE_PREFIXES:
        for u, v in ((x, y), (y, x)):
            if u.startswith(p) and v.startswith(q) and len(u) - len(p) >= 3 and u[len(p) :] == v[len(q) :]:
                return True
    for p, q in OPPOSITE_SUFFIXES:
        for u, v in ((x, y), (y, x)):
            if u.endswith(p) and v.endswith(q) and len(u) - len(p) >= 3 and u[: -len(p)] == v[: -len(q)]:
                return True
    return False


def comparative_guard(a: Parsed, b: Parsed) -> str | None:
    """Another degree of the same quality: cheap / cheaper / cheapest, good / better / best, more /
    most expensive, and a superlative one side adds ("the most popular plan" vs "a popular plan").

    >>> comparative_guard(parse("Which is the cheapest flight to Rome?"), parse("Which flight to Rome is cheaper?"))
    'comparative cheapest / cheaper'
    >>> comparative_guard(parse("What's a good laptop for students?"), parse("What's the best laptop for students?"))
    'comparative good / best'
    >>> comparative_guard(parse("Which is the most popular plan?"), parse("Which plan is popular?"))
    'comparative most popular / popular'
    >>> comparative_guard(parse("What is the quickest way to town?"), parse("What is the fastest way to town?"))
    """
    oa, ob = _only(a, b), _only(b, a)
    for wa in sorted(oa):
        if (da := DEGREES.get(wa)) is None:
            continue
        for wb in sorted(ob):
            if (db := DEGREES.get(wb)) is not None and db[0] == da[0] and db[1] != da[1]:
                return f"comparative {wa} / {wb}"
    for x, y in ((a, b), (b, a)):
        if any(m in y.key_set for m in SUPERLATIVE_MARKERS):
            continue
        for i, k in enumerate(x.keys[:-1]):
            word = x.keys[i + 1]
            if k in SUPERLATIVE_MARKERS and word in y.key_set and word not in STOPWORDS:
                return f"comparative {k} {word} / {word}" if x is a else f"comparative {word} / {k} {word}"
    return None


def entities(p: Parsed) -> set[str]:
    """Capitalised names, acronyms and codes of p (dates, numbers and stopwords excluded), aliased."""
    keys = set(p.keys)
    out = set()
    for e in p.caps | p.acronyms | p.codes:
        e = singular(e)
        canon = ALIASES.get((e,), e)
        if e == "us" and "us" not in p.acronyms:
            continue
        if canon in keys or e in p.keys or canon in p.codes or e in p.codes:
            if e in WEEKDAYS or e in MONTHS or e in RELATIVE_DAYS or e in STOPWORDS or e in NUMBER_WORDS:
                continue
            out.add(canon)
    return out


def name_matched(e: str, other: Parsed, other_keys: tuple[str, ...]) -> bool:
    """Whether name e of one question appears in the other: same word (any case), an alias, or
    an acronym of consecutive words there (2FA = two-factor authentication, PR = pull request)."""
    if e in other_keys or e in other.keys or e in other.tokens:
        return True
    letters = acronym_letters(e)
    if 2 <= len(letters) <= 6:
        words = [k for k in other.keys if k not in {"of", "and", "the", "for", "&"}]
        for i in range(len(words) - len(letters) + 1):
            if "".join(w[0] for w in words[i : i + len(letters)]) == letters:
                return True
    return False


def _covered_by_acronym(e: str, x: Parsed, other_entities: set[str]) -> bool:
    """Whether name e of x is part of a run of x's words that an acronym of the other side spells."""
    words = [k for k in x.keys if k not in {"of", "and", "the", "for", "&"}]
    for acr in other_entities:
        letters = acronym_letters(acr)
        if len(letters) < 2:
            continue
        for i in range(len(words) - len(letters) + 1):
            run = words[i : i + len(letters)]
            if "".join(w[0] for w in run) == letters and e in run:
                return True
    return False


def entity_guard(a: Parsed, b: Parsed) -> str | None:
    """Swapped names: each side names something (a capitalised word, an acronym, a code) that the
    other does not: "Salesforce" vs "HubSpot", "Mary" vs "Mark", "Heathrow" vs "Gatwick". Case,
    aliases ("US" = "America", "NYC" = "New York City") and acronyms ("2FA" = "two-factor
    authentication") match. A name only one side has is left to the model (e.g. "Who runs
    Microsoft?" vs "Who is the CEO of Microsoft?").

    >>> entity_guard(parse("How do I export my data from Salesforce?"), parse("How do I export my data from HubSpot?"))
    'names salesforce != hubspot'
    >>> entity_guard(parse("How do I reset my Gmail password?"), parse("how do i reset my outlook password"))
    'names gmail != outlook'
    >>> entity_guard(parse("What's the legal drinking age in the US?"), parse("How old to drink in America?"))
    >>> entity_guard(parse("How do I turn off two-factor authentication?"), parse("How can I disable 2FA?"))
    """
    ea, eb = entities(a), entities(b)
    ka, kb = a.keys, b.keys
    ua = {e for e in ea if not name_matched(e, b, kb) and not _covered_by_acronym(e, a, eb)}
    ub = {e for e in eb if not name_matched(e, a, ka) and not _covered_by_acronym(e, b, ea)}
    if ua and ub:
        return f"names {','.join(sorted(ua))} != {','.join(sorted(ub))}"
    # a name swapped for a word written in lower case ("reset my Gmail password" vs "reset my
    # outlook password"): the name is the only content word one side lacks, and the other side
    # lacks exactly one word too
    for u, x, y in ((ua, a, b), (ub, b, a)):
        if len(u) == 1:
            only_x = {stem(k) for k in x.content} - {stem(k) for k in y.content}
            only_y = {stem(k) for k in y.content} - {stem(k) for k in x.content}
            if only_x == {stem(next(iter(u)))} and len(only_y) == 1:
                return f"names {next(iter(u))} != {next(iter(only_y))}"
    return None


def rare_word_guard(a: Parsed, b: Parsed, vocab: frozenset[str] | None = None) -> str | None:
    """Swapped rare words: each side has a word the other lacks that MiniLM's vocabulary does not
    know as a whole word (drug names, brands, places written in lower case): "amoxicillin" vs
    "atorvastatin"; only where little else changed (at most two content words each side). Typos
    were aligned before, so "vegitarian" vs "vegetarian" never gets here.

    >>> rare_word_guard(parse("Side effects of amoxicillin?"), parse("Side effects of atorvastatin?"), default_vocab())
    'rare words amoxicillin != atorvastatin'
    """
    if not vocab:
        return None
    oa = {k for k in _only(a, b) if k.isalpha() and k not in STOPWORDS}
    ob = {k for k in _only(b, a) if k.isalpha() and k not in STOPWORDS}
    if len(oa) > 2 or len(ob) > 2:
        return None  # reworded: the model judges
    ra = {k for k in oa if len(k) >= 4 and not known(k, vocab)}
    rb = {k for k in ob if len(k) >= 4 and not known(k, vocab)}
    if ra and rb:
        return f"rare words {','.join(sorted(ra))} != {','.join(sorted(rb))}"
    return None


def _roles(p: Parsed) -> dict[str, set[str]]:
    """content key -> the directional words right before it ("from", "to", ...; "into" = "to")."""
    keys = [k for k in p.keys if k not in {"the", "a", "an", "my", "your", "our", "their", "its", "this", "that"}]
    out: dict[str, set[str]] = {}
    for i, k in enumerate(keys[:-1]):
        if k in DIRECTIONAL and keys[i + 1] not in STOPWORDS:
            out.setdefault(keys[i + 1], set()).add("to" if k == "into" else k)
    return out


def order_guard(a: Parsed, b: Parsed) -> str | None:
    """Reversed direction: a word that both questions have follows "from"/"to"/"into"/"than"/"vs"
    in one and not in the other, while another shared word takes that place: "Word to PDF" vs
    "PDF to Word", "savings to current" vs "current to savings". Moving a phrase ("On my phone, how
    do I ..." vs "How do I ... on my phone") or adding one ("need to give" vs "must give") passes.

    >>> order_guard(parse("Convert a Word document to PDF"), parse("Convert a PDF to a Word document"))
    'direction to: pdf -> word'
    >>> order_guard(parse("How do I set up voicemail on my phone?"), parse("On my phone, how do I set up voicemail?"))
    """
    shared = set(a.keys) & set(b.keys)
    ra, rb = _roles(a), _roles(b)
    for d in DIRECTIONAL:
        fa = {k for k in shared if d in ra.get(k, ())}
        fb = {k for k in shared if d in rb.get(k, ())}
        if fa - fb and fb - fa:
            return f"direction {d}: {','.join(sorted(fa - fb))} -> {','.join(sorted(fb - fa))}"
    return None


def scope_words(p: Parsed, only: set[str] | None = None, context: set[str] | None = None) -> dict[str, set[str]]:
    """class -> canonical scope words of p (of its keys in ``only`` when given). ``context``: the
    words of both questions, for the classes that need their subject named (SCOPE_CONTEXT)."""
    out: dict[str, set[str]] = {}
    keys = p.keys
    ctx = set(keys) if context is None else context
    for i, k in enumerate(keys):
        if only is not None and k not in only:
            continue
        if k == "free" and (i + 1 >= len(keys) or keys[i + 1] not in FREE_TIER_NEXT):
            continue  # "gluten free", "for free": not the free tier
        for cls, canon in SCOPE.get(k, ()):
            need = SCOPE_CONTEXT.get(cls)
            if need is not None and not (need & ctx):
                continue
            out.setdefault(cls, set()).add(canon)
    return out


def scope_guard(a: Parsed, b: Parsed) -> str | None:
    """Another audience, variant or channel. Either both sides name a word of one class and the
    words differ (who: adults/children/students/members/landlords/self-employed; which: home/car/
    travel insurance, savings/current/joint account, free/pro plan, hand/checked luggage, vegan/
    vegetarian; how: online/in-store; platform: iPhone/Android), or one side adds a word of a class
    the other does not mention at all while everything else stays the same (at most one other
    content word changed). Synonyms in a class match ("kids" = "children", "shipping" = "delivery").

    >>> scope_guard(parse("What's the dose for adults?"), parse("What's the dose for children?"))
    'scope audience: adult != child'
    >>> scope_guard(parse("What's my account balance?"), parse("What's my joint account balance?"))
    'scope account: - != joint'
    >>> scope_guard(parse("Is breakfast included for kids?"), parse("Do children get breakfast included?"))
    """
    sta, stb = {stem(k) for k in a.keys}, {stem(k) for k in b.keys}
    oa = {k for k in a.keys if stem(k) not in stb}
    ob = {k for k in b.keys if stem(k) not in sta}
    if not oa and not ob:
        return None
    ctx = set(a.keys) | set(b.keys)
    sa, sb = scope_words(a, oa, ctx), scope_words(b, ob, ctx)
    alla, allb = scope_words(a, None, ctx), scope_words(b, None, ctx)
    ca = {k for k in oa if k not in STOPWORDS and k.isalpha()}
    cb = {k for k in ob if k not in STOPWORDS and k.isalpha()}
    for cls in sorted(set(sa) | set(sb)):
        xa, xb = alla.get(cls, set()), allb.get(cls, set())
        if xa == xb:
            continue
        two_sided = bool(sa.get(cls)) and bool(sb.get(cls))
        added_b = bool(sb.get(cls)) and not xa and len(ca) <= 1
        added_a = bool(sa.get(cls)) and not xb and len(cb) <= 1
        if two_sided or added_a or added_b:
            return f"scope {cls}: {','.join(sorted(xa)) or '-'} != {','.join(sorted(xb)) or '-'}"
    return None


def question_type(p: Parsed) -> str | None:
    keys = p.keys
    for i, k in enumerate(keys):
        if k == "what" and i + 1 < len(keys) and keys[i + 1] in {"time", "day", "date"}:
            return "when"
        if k == "how" and i + 1 < len(keys) and keys[i + 1] in HOW_TYPES:
            return HOW_TYPES[keys[i + 1]]
        if k in QUESTION_TYPES:
            return QUESTION_TYPES[k]
        if k in {"what", "how", "which", "whose"}:
            return None
    return None


def question_guard(a: Parsed, b: Parsed) -> str | None:
    """Another kind of question about the same thing: where vs when vs who vs why, and "how much"
    vs "how many" vs "how long" vs "how big" ("what time" = "how soon" = "when", "how come" = "why");
    "what", "which" and a bare "how" are left open.

    >>> question_guard(parse("Where is the lost property office?"), parse("When is the lost property office open?"))
    'question where != when'
    >>> question_guard(parse("What time does the kitchen close?"), parse("When does the kitchen close?"))
    >>> question_guard(parse("How big is the large pizza?"), parse("How much is the large pizza?"))
    'question size != amount'
    """
    qa, qb = question_type(a), question_type(b)
    if qa and qb and qa != qb:
        return f"question {qa} != {qb}"
    return None


def _modality(p: Parsed) -> set[str]:
    out = {MODALS[k] for k in p.keys if k in MODALS}
    keys = p.keys
    for i, k in enumerate(keys[:-1]):
        if k in {"have", "has", "had"} and keys[i + 1] == "to":
            out.add("obligation")
    return out


def modality_guard(a: Parsed, b: Parsed) -> str | None:
    """May vs must: "Can I work from home?" vs "Do I have to work from home?". Both sides must
    express a modality and share none of it (permission: "can" = "is it possible to" = "am I
    allowed to"; necessity: "need to" = "must" = "have to" = "should").

    >>> modality_guard(parse("Can I book a table?"), parse("Do I need to book a table?"))
    'modality permission != obligation'
    >>> modality_guard(parse("How much notice do I need to give?"), parse("How much notice must I give?"))
    >>> modality_guard(parse("How do I report a missed bin?"), parse("How can I report a missed bin?"))
    """
    ma, mb = _modality(a), _modality(b)
    if ma and mb and not (ma & mb):
        return f"modality {','.join(sorted(ma))} != {','.join(sorted(mb))}"
    return None


GUARDS: tuple[Guard, ...] = (
    numbers_guard,
    time_of_day_guard,
    dates_guard,
    polarity_guard,
    antonym_guard,
    comparative_guard,
    entity_guard,
    order_guard,
    scope_guard,
    question_guard,
    modality_guard,
)
# rare_word_guard needs the vocabulary: the Verifier binds it.
