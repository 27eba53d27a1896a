"""Find and redact personal data and secrets in free text.

The detector runs one regular expression per kind of personal data (email, phone, payment
card, IBAN, IPv4, IPv6, secret, national id) and then validates each candidate with the
check that the format defines: the Luhn checksum for card numbers, ISO 13616 mod-97 for
IBANs, octet ranges for IPv4, the :mod:`ipaddress` parser for IPv6 and the allocation
rules for US social security numbers. Candidates that fail validation are dropped, which
keeps order numbers, dates and version strings out of the results.

Candidates of different kinds may overlap (a card number also looks like a run of phone
digits). The longest candidate wins; between candidates of equal length the more specific
kind wins (secret, email, iban, card, national_id, ipv6, ipv4, phone).

Every pattern is anchored by a negative look-behind, so a match can only start where a
token starts, and every repetition is bounded; private key blocks are paired with a
single forward scan. Matching therefore runs in time linear in the length of the text,
whatever the text is.

Examples
--------
>>> find_pii("mail jane.doe@example.com or call +44 20 7946 0958")
[PiiMatch(kind='email', start=5, end=25), PiiMatch(kind='phone', start=34, end=50)]
>>> redact("card 4111 1111 1111 1111, not 4111 1111 1111 1112")
'card [REDACTED:card], not 4111 1111 1111 1112'
>>> sorted(pii_kinds("GB82WEST12345698765432 from 10.0.0.1"))
['iban', 'ipv4']

"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["PiiMatch", "find_pii", "pii_kinds", "redact"]


@dataclass(frozen=True)
class PiiMatch:
    """One span of personal data: ``text[start:end]`` is of kind ``kind``.

    Parameters
    ----------
    kind
        One of ``email``, ``phone``, ``card``, ``iban``, ``ipv4``, ``ipv6``, ``secret``,
        ``national_id``.
    start
        Offset of the first character.
    end
        Offset one past the last character.

    """

    kind: str
    start: int
    end: int


# Lower rank = more specific; used to break ties between candidates of equal length.
_RANK = {
    "secret": 0,
    "email": 1,
    "iban": 2,
    "card": 3,
    "national_id": 4,
    "ipv6": 5,
    "ipv4": 6,
    "phone": 7,
}

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@"
    r"(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)

_PHONE = re.compile(
    r"(?<![\w+.-])(?:"
    # E.164 without separators: +14155552671
    r"\+\d{7,15}(?![\d.-])"
    # international with separators: +44 20 7946 0958, +44 (0)20 7946 0958, +1-415-555-2671
    r"|\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d{1,5}(?:[ .-]\d{1,5}){0,5}(?!\d|[.-]\d)"
    # North American: (415) 555-2671, 415-555-2671, 415.555.2671, 1-415-555-2671
    r"|(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d|[.-]\d)"
    # national with trunk prefix: 020 7946 0958, 07700 900123
    r"|0\d{2,4}[ -]\d{3,4}(?:[ -]\d{3,4})?(?!\d|[.-]\d)"
    r")"
)

_CARD = re.compile(r"(?<![\d.-])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?!\d|[ -]\d)")

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")

_IPV6 = re.compile(r"(?<![0-9A-Za-z:.])[0-9A-Fa-f:.]{2,45}(?![0-9A-Za-z:])")

_SECRET = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,255}"
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,255}"
    r"|sk-[A-Za-z0-9_-]{20,255}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|eyJ[A-Za-z0-9_-]{5,8000}\.eyJ[A-Za-z0-9_-]{5,8000}\.[A-Za-z0-9_-]{10,4000}"
    r")(?![A-Za-z0-9_-])"
)

_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----")
_KEY_BODY = re.compile(r"(?:\r?\n[A-Za-z0-9+/=]{1,128}(?=\r?\n|$))*")

_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")

_NINO = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-TW-Z][A-CEGHJ-TW-Z]"
    r"(?: ?\d{2}){3} ?[A-D](?![A-Za-z0-9])"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_ok(candidate: str) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or not _luhn_ok(digits):
        return False
    seps = {c for c in candidate if c in " -"}
    if not seps:
        return True
    if len(seps) > 1:
        return False
    groups = [len(g) for g in candidate.split(seps.pop())]
    if groups in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4


def _iban_ok(compact: str) -> bool:
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _phone_ok(candidate: str) -> bool:
    n_digits = sum(c.isdigit() for c in candidate)
    if candidate.startswith("+"):
        return 8 <= n_digits <= 15
    return 10 <= n_digits <= 11


def _ipv4_ok(candidate: str) -> bool:
    octets = candidate.split(".")
    return all(int(o) <= 255 and (len(o) == 1 or o[0] != "0") for o in octets)


def _ipv6_span(match: re.Match[str]) -> tuple[int, int] | None:
    start, end = match.span()
    candidate = match.group()
    while candidate.endswith(".") or (candidate.endswith(":") and not candidate.endswith("::")):
        candidate = candidate[:-1]
        end -= 1
    if candidate.count(":") < 2 or sum(c not in ":." for c in candidate) < 4:
        return None
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    return start, end


def _iban_span(match: re.Match[str]) -> tuple[int, int] | None:
    # A spaced IBAN may be followed by an unrelated word; drop trailing groups until valid.
    candidate = match.group()
    while True:
        if _iban_ok(candidate.replace(" ", "")):
            return match.start(), match.start() + len(candidate)
        cut = candidate.rfind(" ")
        if cut < 0:
            return None
        candidate = candidate[:cut]


def _simple(
    pattern: re.Pattern[str], check: Callable[[str], bool] | None = None
) -> Callable[[str], Iterator[tuple[int, int]]]:
    def spans(text: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(text):
            if check is None or check(m.group()):
                yield m.span()

    return spans


def _from_match(
    pattern: re.Pattern[str], span: Callable[[re.Match[str]], tuple[int, int] | None]
) -> Callable[[str], Iterator[tuple[int, int]]]:
    def spans(text: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(text):
            s = span(m)
            if s is not None:
                yield s

    return spans


def _private_keys(text: str) -> Iterator[tuple[int, int]]:
    # Pair each BEGIN header with the first END footer after it, in one forward pass, so
    # the cost stays linear even with many headers and no footer.
    ends = [m.span() for m in _KEY_END.finditer(text)]
    j = 0
    last_end = 0
    for begin in _KEY_BEGIN.finditer(text):
        if begin.start() < last_end:
            continue
        while j < len(ends) and ends[j][0] < begin.end():
            j += 1
        next_begin = text.find("-----BEGIN ", begin.end())
        if j < len(ends) and (next_begin < 0 or ends[j][0] < next_begin):
            last_end = ends[j][1]
        else:
            # No footer: a truncated key. Take the header and the base64 body after it.
            body = _KEY_BODY.match(text, begin.end())
            last_end = body.end() if body else begin.end()
        yield begin.start(), last_end


_DETECTORS: list[tuple[str, Callable[[str], Iterator[tuple[int, int]]]]] = [
    ("secret", _simple(_SECRET)),
    ("secret", _private_keys),
    ("email", _simple(_EMAIL)),
    ("iban", _from_match(_IBAN, _iban_span)),
    ("card", _simple(_CARD, _card_ok)),
    ("national_id", _simple(_SSN)),
    ("national_id", _simple(_NINO, lambda s: s.count(" ") in (0, 4))),
    ("ipv6", _from_match(_IPV6, _ipv6_span)),
    ("ipv4", _simple(_IPV4, _ipv4_ok)),
    ("phone", _simple(_PHONE, _phone_ok)),
]


def find_pii(text: str) -> list[PiiMatch]:
    """Return the non-overlapping spans of personal data in ``text``, in text order.

    Parameters
    ----------
    text
        Any string; runs in time linear in its length.

    Examples
    --------
    >>> find_pii("SSN 123-45-6789, but not 000-12-3456")
    [PiiMatch(kind='national_id', start=4, end=15)]
    >>> find_pii("v1.2.3 shipped 2024-01-15, order 12345678")
    []

    """
    candidates: list[tuple[int, int, int, str]] = []
    for kind, spans in _DETECTORS:
        for start, end in spans(text):
            candidates.append((start - end, _RANK[kind], start, kind))
    candidates.sort()
    taken = bytearray(len(text))
    chosen: list[PiiMatch] = []
    for neg_len, _, start, kind in candidates:
        end = start - neg_len
        if taken.find(1, start, end) != -1:
            continue
        taken[start:end] = b"\x01" * (end - start)
        chosen.append(PiiMatch(kind, start, end))
    chosen.sort(key=lambda m: m.start)
    return chosen


_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def scrub(text: str) -> tuple[frozenset[str], str]:
    """One pass for both uses: the kinds of personal data in ``text`` and its redacted form.
    Zero-width characters (and soft hyphens) are removed first, so they cannot hide a match.

    >>> scrub("mail a\u200b@b.example now")
    (frozenset({'email'}), 'mail [REDACTED:email] now')

    """
    clean = text.translate(_ZERO_WIDTH)
    matches = find_pii(clean)
    parts: list[str] = []
    pos = 0
    for m in matches:
        parts.append(clean[pos : m.start])
        parts.append(f"[REDACTED:{m.kind}]")
        pos = m.end
    parts.append(clean[pos:])
    return frozenset(m.kind for m in matches), "".join(parts)


def redact(text: str) -> str:
    """Replace every span found by :func:`find_pii` with ``[REDACTED:<kind>]`` (after
    removing zero-width characters, see :func:`scrub`).

    Parameters
    ----------
    text
        Any string.

    Examples
    --------
    >>> redact("key AKIAIOSFODNN7EXAMPLE from 2001:db8::1")
    'key [REDACTED:secret] from [REDACTED:ipv6]'

    """
    return scrub(text)[1]


def pii_kinds(text: str) -> frozenset[str]:
    """Return the set of kinds of personal data present in ``text``.

    Parameters
    ----------
    text
        Any string.

    Examples
    --------
    >>> sorted(pii_kinds("write to a@b.io, or (415) 555-2671"))
    ['email', 'phone']

    """
    return frozenset(m.kind for m in find_pii(text.translate(_ZERO_WIDTH)))
