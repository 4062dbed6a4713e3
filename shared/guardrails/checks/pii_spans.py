"""PII that no checksum validates: people's names, street and military addresses, driver's
licences, IP addresses, phone numbers and card numbers written without their usual shape.

Each finder is a rule over the text with a lexicon built by ``ladle guardrails train``
(deploy/guardrails/models/pii_lexicon.json: given and family names of Faker's locales minus
words that ordinary text writes in lower case, and the words of the sample catalog's dishes).
A name is a run of capitalised words with a known name in it, or any capitalised run after
a title (Mr, Ms, Dr), a "Name:" label, or alone on the first line of a block (a signature or
a letterhead). Dish and store names are not people: a run next to a dish word, or followed
by "'s" and a dish or store word (Mom's Lasagna, Chef Marco's special, Luigi's Trattoria), is left.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from functools import cache

from shared.guardrails.checks.pii_rules import Span, luhn_ok
from shared.settings import REPO_ROOT

LEXICON = REPO_ROOT / "deploy" / "guardrails" / "models" / "pii_lexicon.json"

_UP = "A-ZÀ-ÖØ-ÞĀ-ſ"  # Latin capitals incl. Latin Extended-A (a lower-case letter there still passes: checked below)
_CAP = re.compile(rf"[{_UP}][\w'’-]*\.?|[{_UP}]\.")
_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*|\d[\d\w-]*|\n|[^\w\s]")
TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx", "mister", "dear"})
PARTICLES = frozenset({"van", "von", "de", "da", "di", "del", "della", "der", "den", "du", "la", "le", "bin", "al",
                       "ibn", "y", "dos", "das", "ter", "ten"})  # fmt: skip
CUE = re.compile(
    r"(?:(?<!scientific )(?<!brand )(?<!product )(?<!common )\bname\W{0,4}|\bname is|\bnamed|\bcalled|"
    r"\bcalls? me|\bi am|\bi'm|\b(?:directed|written|produced|created|photographed|signed|composed|presented) by\W*|"
    r"\b(?:signed|regards|sincerely|attn|attention|contact|ask for|speak to|customer|patient|client|employee|"
    r"account holder|cardholder)\b[:,]?)\s*$",
    re.I,
)
NOT_PERSON_BEFORE = re.compile(
    r"(?:manufacturer|brand|made by|maker|company|store|restaurant|shop|scientific name|species|genus)\W*$", re.I
)
ORG_WORDS = frozenset({"inc", "ltd", "llc", "corp", "corporation", "co", "company", "group", "plc", "gmbh", "foods",
                       "brands", "bank", "fund", "holdings", "partners", "technologies", "systems", "solutions",
                       "university", "school", "institute", "hotel", "restaurant", "street", "avenue", "road"})  # fmt: skip
STORE_WORDS = frozenset({"special", "specials", "trattoria", "kitchen", "cafe", "café", "diner", "bistro", "grill",
                         "pizzeria", "bakery", "deli", "bar", "pub", "restaurant", "house", "place", "famous",
                         "original", "recipe", "favourite", "favorite", "signature", "style", "own", "homemade",
                         "lasagna", "pie", "sauce", "cantina", "taqueria", "eatery", "shack", "market"})  # fmt: skip


@cache
def lexicon() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(names, dish words, common lower-case words), lower case; empty when the lexicon was never built."""
    if not LEXICON.exists():
        return frozenset(), frozenset(), frozenset()
    raw = json.loads(LEXICON.read_text(encoding="utf-8"))
    return frozenset(raw["names"]), frozenset(raw["food"]), frozenset(raw.get("common", ()))


def _clean(tok: str) -> str:
    return tok.lower().strip(".'’").removesuffix("'s").removesuffix("’s")


def _is_cap(tok: str) -> bool:
    """A capitalised word or an initial ("L.", "M"); not an all-capitals word (PIZZA HUT, an acronym)."""
    if not tok or not tok[0].isupper() or not tok[0].isalpha():
        return False
    return not tok.isupper() or len(tok.rstrip(".")) == 1


def _particles_then_cap(toks: list, j: int) -> bool:
    while j < len(toks) and toks[j][2].lower() in PARTICLES:
        j += 1
    return j < len(toks) and _is_cap(toks[j][2])


def people(text: str) -> Iterator[Span]:
    """Names, and every other place the text repeats a word of one ("Pomeroy Lemelin ... calls me Pomeroy")."""
    found = list(_people(text))
    yield from found
    if not found:
        return
    _, food, common = lexicon()
    seen = {s for s, _, _, _ in found}
    words = {w for s, e, _, _ in found for w in re.findall(r"[^\W\d_][\w'’-]+", text[s:e]) if len(w) > 2}
    words = {w for w in words if w.lower() not in common and w.lower() not in food and w.lower() not in TITLES}
    if words:
        pat = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b")
        for m in pat.finditer(text):
            if m.start() not in seen:
                yield m.start(), m.end(), "PERSON", 0.7


def _people(text: str) -> Iterator[Span]:
    names, food, common = lexicon()
    toks = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    i, n = 0, len(toks)
    while i < n:
        s, e, tok = toks[i]
        low = tok.lower().rstrip(".")
        titled = low in TITLES and i + 1 < n and toks[i + 1][2] != "\n"
        if not (_is_cap(tok) or titled):
            i += 1
            continue
        # a run of capitalised words (and particles, initials) on one line
        j = i + 1 if titled else i
        start = j
        while j < n and toks[j][2] != "\n" and (
            _is_cap(toks[j][2]) or (toks[j][2].lower() in PARTICLES and _particles_then_cap(toks, j))
            or (titled and j == start and toks[j][2][:1].isalpha())
        ):  # fmt: skip
            if toks[j][2].endswith(("'s", "’s")):
                j += 1
                break
            j += 1
        if j == start:
            i += 1
            continue
        run = toks[start:j]
        words = [_clean(t) for _, _, t in run]
        before = toks[i - 1][2].lower() if i > 0 else ""
        after = toks[j][2].lower().strip(".,") if j < n else ""
        possessive = run[-1][2].endswith(("'s", "’s"))
        dishy = (any((w in food and len(w) > 2) or w in ORG_WORDS for w in words) or before in food or after in food
                 or after in ORG_WORDS or (possessive and (after in STORE_WORDS or after in food)))  # fmt: skip
        known = any(w in names for w in words)
        line_start = text.rfind("\n", 0, run[0][0]) + 1
        line_end = text.find("\n", run[-1][1])
        alone = (
            not text[line_start : run[0][0]].strip(" \t}>*-:") and not text[run[-1][1] : line_end if line_end >= 0 else len(text)].strip()
            and 2 <= len(run) <= 4 and line_start == 0 and "\n" in text
        )  # fmt: skip
        cued = titled or bool(CUE.search(text[max(0, run[0][0] - 30) : run[0][0]]))
        if NOT_PERSON_BEFORE.search(text[max(0, run[0][0] - 30) : run[0][0]]):
            dishy = True
        # two or more capitalised words, none of them ordinary, inside a sentence: a name nobody listed
        inside = i > 0 and toks[i - 1][2] not in (".", "!", "?", "\n", ":", '"', "}") and not titled
        unknown_pair = (
            inside
            and len(run) >= 2
            and all(w not in common and len(w) > 1 and not t.isupper() for w, (_, _, t) in zip(words, run, strict=True))
        )
        if not dishy and (known or cued or alone or unknown_pair):
            # trim capitalised ordinary words at the edges ("Hello Maria" -> "Maria")
            a, b = 0, len(run)
            while a < b and words[a] not in names and (words[a] in common or words[a] in TITLES):
                a += 1
            while b > a and words[b - 1] not in names and words[b - 1] in common:
                b -= 1
            if a < b:
                end = run[b - 1][1]
                if run[b - 1][2].endswith(("'s", "’s")):
                    end -= 2
                yield run[a][0], end, "PERSON", 0.9 if known else 0.8
        i = j


# -- addresses ------------------------------------------------------------------------------

_STREET = (r"street|st|avenue|ave|road|rd|lane|ln|boulevard|blvd|drive|dr|court|ct|place|pl|square|sq|way|terrace|"
           r"crescent|close|parkway|pkwy|highway|hwy|circle|cir|alley|row|walk|rest|summit|greens|isle|curve|radial|"
           r"via|rue|ul|calle|rua|avenida|piazza|platz|strasse|straße|str|gasse|weg|plads|vägen|gatan|tie|tee|laan|"
           r"plein|straat|kade|allee|chemin|viale|corso|largo|camino|carrer|út|utca|u|λ|λεωφ|οδός")  # fmt: skip
_UNIT = r"(?i:apt|apartment|suite|ste|unit|box|floor|fl|room|rm|building|bldg|psc|cmr)\.?"
UNITS = frozenset({"apt", "apartment", "suite", "ste", "unit", "box", "floor", "fl", "room", "rm", "building", "bldg",
                   "psc", "cmr"})  # fmt: skip
_MILITARY = re.compile(
    r"\b(?:(?:Unit|PSC|CMR)\s+\d{3,5},?\s+Box\s+\d{3,5}|US[NSCG]{1,3}V?\s+[^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’.-]*)?)"
    r"\s*\n?\s*[AFD]PO\s+A[AEP]\s+\d{5}\b"
)
STREET_WORD = re.compile(
    rf"(?i:\b(?:{_STREET})\b\.?|\w+(?:straße|strasse|gasse|weg|vägen|gatan|plads|platz|laan|tie|tee|plein|straat)\b)"
)
_ADDR_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*|\d{1,6}[A-Za-z]?\b|[,\n]|[ \t]+")
_ADDRESS_CUE = re.compile(
    r"\b(?:address(?:es)?|located|lives?|lived|live in|moved|sent to|send (?:it )?to|deliver(?:ed)? to|ship(?:ped)? to|"
    r"at|on|to|in|of|is|with|here they are)\W{0,3}$",
    re.I,
)


def addresses(text: str) -> Iterator[Span]:
    for m in _MILITARY.finditer(text):
        yield m.start(), m.end(), "STREET_ADDRESS", 0.95
    if not any(c.isdigit() for c in text):
        return
    _, food, common = lexicon()
    for m in _STREET_CORE.finditer(text):
        s, e = m.start(), m.end()
        raw = re.findall(r"[^\W\d_]+", m.group())
        while (
            raw and not STREET_WORD.fullmatch(raw[0]) and raw[0].lower() not in UNITS
            and (raw[0].lower() in common or (len(raw) > 1 and raw[1].islower() and raw[1].lower() not in PARTICLES))
        ):  # fmt: skip
            s = m.start() + m.group().index(raw[0]) + len(raw[0])  # "Ship to Unit 12" starts at "Unit"
            s += len(m.group()[s - m.start() :]) - len(m.group()[s - m.start() :].lstrip())
            raw = raw[1:]
        words = [w.lower() for w in raw]
        has_suffix = any(
            w.group()[0].isupper() or w.group().lower().rstrip(".") in ("ul", "u") or len(w.group()) > 6
            for w in STREET_WORD.finditer(m.group())
        )
        proper = [
            w.lower()
            for w in raw
            if w.lower() not in common and w.lower() not in food and not w.isupper() and len(w) > 1
        ]
        if any(w in food and len(w) > 2 for w in words) or not (has_suffix or proper):
            continue
        line_head = text[text.rfind("\n", 0, s) + 1 : s]
        cue = (
            bool(_ADDRESS_CUE.search(text[max(0, s - 40) : s])) or not line_head.strip(" \t}>*-")
            or "address" in text[max(0, s - 80) : s].lower()
        )  # fmt: skip
        if not (has_suffix or cue):
            continue
        # the lines after it: unit, city, region, postcode, country (short capitalised or numeric lines)
        e = _tail(text, e)
        while e > s and text[e - 1] in ".,; \n":  # a sentence's full stop is not part of the address
            e -= 1
        yield s, e, "STREET_ADDRESS", 0.9 if has_suffix else 0.75


_W = r"[^\W\d_][\w'’.-]*"
# number + words, words + number, optionally "Suite 12", optionally "X and Y" (a corner)
_STREET_CORE = re.compile(
    rf"(?:\b\d{{1,6}}[A-Za-z]?(?:[ \t]+\d{{1,5}})?[ \t]+(?:{_W}[ \t]+){{0,4}}{_W}(?:[ \t]+\d{{1,5}}\b)?"
    rf"|(?<![\w.])(?:[{_UP}]{_W}[ \t]+(?:and[ \t]+)?){{0,4}}(?:{_W}[ \t]+)?[{_UP}]{_W}[ \t]+\d{{1,5}}[A-Za-z]?\b)"
    rf"(?:,?[ \t]+(?:(?!{_UNIT}\b)[{_UP}]{_W}[ \t]+){{0,3}}(?!{_UNIT}\b)[{_UP}]{_W})?"
    rf"(?:,?\s*{_UNIT}[ \t]*\d{{1,5}})?"
)


# What may follow an address on the same or the next short line: a unit, a short capitalised run (city,
# region, country), a postcode, a state code.
_TAIL = re.compile(rf"(?:,?[ \t]*\n?[ \t]*,?[ \t]*(?:{_UNIT}[ \t]*\d{{1,5}}|[{_UP}][\w'’.-]*(?:[ \t]+(?:[{_UP}(][\w'’.()-]*|\d[\w-]*)){{0,3}}|"
                   rf"\d{{4,5}}(?:[ -]\d{{2,4}})?|[A-Z]{{2,3}}|nan))")  # fmt: skip


def _tail(text: str, end: int) -> int:
    """Extend an address over following short lines (unit, city, region, postcode, country)."""
    for _ in range(6):
        m = _TAIL.match(text, end)
        if not m or not m.group().strip(" ,\n\t"):
            break
        end = m.end()
    return end


# -- numbers that need their context -------------------------------------------------------

_LICENCE = re.compile(
    r"(?i:driv(?:er'?s?|ing)[ -]?licen[cs]e|\bDL\b|licen[cs]e)(?:\s+(?:no\.?|number|num|#|id))?(?:\s+(?:is|was|:))?"
    r"\s*[:#]?\s*([A-Za-z0-9-]{5,20})\b"
)


def licences(text: str) -> Iterator[Span]:
    if "icen" not in text and "DL" not in text:
        return
    for m in _LICENCE.finditer(text):
        value = m.group(1)
        if any(c.isdigit() for c in value) or (len(value) >= 8 and value.lower() not in _STOP):
            yield m.start(1), m.end(1), "US_DRIVER_LICENSE", 0.85


_STOP = frozenset({"number", "details", "information", "renewal", "expired", "suspended", "required"})
_IPV4 = re.compile(r"(?<!\d)(?<!\d\.)(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\d|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def ips(text: str) -> Iterator[Span]:
    if "." in text:
        for m in _IPV4.finditer(text):
            yield m.start(), m.end(), "IP_ADDRESS", 0.95
    if text.count(":") >= 2:
        for m in _IPV6.finditer(text):
            try:
                ipaddress.IPv6Address(m.group())
            except ValueError:
                continue
            if m.group().count(":") >= 3:
                yield m.start(), m.end(), "IP_ADDRESS", 0.95


_PHONE_SHAPE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().\-]{3,}\d(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w])")
_PHONE_BEFORE = re.compile(
    r"(?:call|phone|tel|telephone|mobile|cell|whatsapp|text|sms|fax|desk|office|dial|ring|contact|reach|number|"
    r"registered|messages to|me at|me on)\b\W{0,6}(?:\w+\W+){0,2}$",
    re.I,
)
_PHONE_AFTER = re.compile(r"^\s*[-(]?\s*(?:office|fax|mobile|cell|home|work|desk|tel)\b", re.I)
_CARD_BEFORE = re.compile(r"(?:card|cc|credit|debit|visa|mastercard|amex)\b\W{0,4}(?:\w+\W+){0,3}$", re.I)
_DASHED_SSN = re.compile(r"(?<![\d-])(?!000|666)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_SSN_BEFORE = re.compile(r"(?:ssn|social security(?: number)?|social|ss#)\W{0,4}(?:\w+\W+){0,2}$", re.I)


def numbers(text: str) -> Iterator[Span]:
    """Cards, SSNs and phones that a context word vouches for (their validators need a checksum or a region)."""
    for m in _PHONE_SHAPE.finditer(text):
        raw = m.group().strip()
        digits = re.sub(r"\D", "", raw.split("x")[0])
        before = text[max(0, m.start() - 40) : m.start()]
        if 12 <= len(digits) <= 19 and " " not in raw.strip() and _CARD_BEFORE.search(before):
            yield m.start(), m.start() + len(m.group().rstrip()), "CREDIT_CARD", 0.9 if luhn_ok(digits) else 0.8
            continue
        if len(digits) == 9 and (_SSN_BEFORE.search(before) or _DASHED_SSN.fullmatch(raw)):
            yield m.start(), m.start() + len(m.group().rstrip()), "US_SSN", 0.85
            continue
        if 6 <= len(digits) <= 15 and (
            _PHONE_BEFORE.search(before) or _PHONE_AFTER.match(text[m.end() : m.end() + 12])
            or raw.startswith("+") or re.fullmatch(r"\(\d{3}\)\s?\d{3}-\d{4}.*|\d{3}-\d{3}-\d{4}.*", raw)
        ):  # fmt: skip
            yield m.start(), m.start() + len(m.group().rstrip()), "PHONE_NUMBER", 0.85


FINDERS: dict[str, Callable[[str], Iterator[Span]]] = {
    "person": people,
    "street_address": addresses,
    "driver_license": licences,
    "ip_address": ips,
    "context_numbers": numbers,
}
