"""Deterministic PII finders: a pattern proposes, a validator disposes (Luhn for cards,
mod-97 for IBANs, libphonenumber for phones, the issuing rules for national ids).
No model, so they are fast and their recall does not depend on how the text reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

Span = tuple[int, int, str, float]  # start, end, entity type, score

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b")
_NINO = re.compile(r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_PHONE_HINT = re.compile(r"(?:\d[\s().-]*){7,}")
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27, "GB": 22,
    "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "SE": 24,
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    iban = iban.replace(" ", "")
    want = _IBAN_LENGTHS.get(iban[:2])
    if (want and len(iban) != want) or not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def emails(text: str) -> Iterator[Span]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield m.start(), m.end(), "EMAIL_ADDRESS", 1.0


def _card_ok(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


def cards(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _card_ok(digits):
            yield m.start(), m.end(), "CREDIT_CARD", 1.0
            continue
        # a card next to other digit groups ("4111 1111 1111 1111 0"): the longest valid run of whole groups
        groups = [(g.start(), g.end()) for g in re.finditer(r"\d+", m.group())]
        runs = [(i, j) for i in range(len(groups)) for j in range(len(groups), i, -1)]
        for i, j in sorted(runs, key=lambda r: groups[r[0]][0] - groups[r[1] - 1][1]):
            if _card_ok("".join(m.group()[a:b] for a, b in groups[i:j])):
                yield m.start() + groups[i][0], m.start() + groups[j - 1][1], "CREDIT_CARD", 1.0
                break


def ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        cand = m.group()
        while cand:  # a trailing group may belong to the next word ("... 0130 00 0")
            if iban_ok(cand):
                yield m.start(), m.start() + len(cand), "IBAN_CODE", 1.0
                break
            cand = cand.rpartition(" ")[0]


def national_ids(text: str) -> Iterator[Span]:
    for m in _SSN.finditer(text):
        yield m.start(), m.end(), "US_SSN", 1.0
    for m in _NINO.finditer(text):
        yield m.start(), m.end(), "UK_NINO", 1.0


_PHONE_CONTEXT = re.compile(
    r"(?:call|phone|tel|mobile|cell|whatsapp|text|sms|fax|dial|ring|contact)\W*(?:\w+\W+){0,3}$", re.I
)


def phone_finder(regions: tuple[str, ...]) -> Callable[[str], Iterator[Span]]:
    """A number libphonenumber calls valid for a region; or merely possible (right length,
    fictional ranges included) when it is written like a phone number: "+", brackets,
    or a word like "call" just before it. Bare digit runs (barcodes, lots) need validity."""
    import phonenumbers

    possible, valid = phonenumbers.Leniency.POSSIBLE, phonenumbers.is_valid_number

    def phones(text: str) -> Iterator[Span]:
        if not _PHONE_HINT.search(text):
            return
        seen: set[tuple[int, int]] = set()
        for region in regions:
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=possible):
                if (m.start, m.end) in seen:
                    continue
                raw = m.raw_string
                styled = (
                    raw.startswith("+") or "(" in raw or _PHONE_CONTEXT.search(text[max(0, m.start - 40) : m.start])
                )
                groups = re.findall(r"\d+", raw)
                coded = len(groups) <= 2 and max(len(g) for g in groups) >= 7  # "20241103-17": a lot, a date, a code
                if styled or (valid(m.number) and not coded):
                    seen.add((m.start, m.end))
                    yield m.start, m.end, "PHONE_NUMBER", 1.0

    return phones


_SIX_DIGITS = re.compile(r"(?:\d[\s().-]*){6}")  # every number-shaped id has at least six digits


def finders(names: tuple[str, ...], phone_regions: tuple[str, ...]) -> list[Callable[[str], Iterator[Span]]]:
    table = {"email": emails, "credit_card": cards, "iban": ibans, "national_id": national_ids}
    return [table[n] for n in names if n in table] + ([phone_finder(phone_regions)] if "phone" in names else [])


def scanner(names: tuple[str, ...], phone_regions: tuple[str, ...]) -> Callable[[str], list[Span]]:
    """All validators as one function; texts without an "@" or six digits cost two searches."""
    email = emails if "email" in names else None
    numeric = [f for f in finders(tuple(n for n in names if n != "email"), phone_regions)]

    def scan(text: str) -> list[Span]:
        spans = list(email(text)) if email is not None and "@" in text else []
        if numeric and _SIX_DIGITS.search(text):
            for find in numeric:
                spans.extend(find(text))
        return spans

    return scan


def merge(spans: list[Span]) -> list[Span]:
    """Overlapping spans as one (the longer one names it, the higher score stays), in text order."""
    merged: list[list] = []
    for s, e, kind, score in sorted(spans, key=lambda x: (x[0], -x[1])):
        if merged and s < merged[-1][1]:
            last = merged[-1]
            if e - s > last[1] - last[0]:
                last[2] = kind
            last[1] = max(last[1], e)
            last[3] = max(last[3], score)
        else:
            merged.append([s, e, kind, score])
    return [(s, e, k, sc) for s, e, k, sc in merged]


def redact(text: str, spans: list[Span]) -> str:
    """Each span replaced by <TYPE>; overlapping spans merge (the longer one names it)."""
    if not spans:
        return text
    parts, at = [], 0
    for s, e, kind, _ in merge(spans):
        parts.append(text[at:s])
        parts.append(f"<{kind}>")
        at = e
    parts.append(text[at:])
    return "".join(parts)
