"""Find and redact personal data and secrets in free text.

The detector runs one regular expression per format of personal data (e-mail, phone,
payment card, IBAN, IPv4, IPv6, secret, national id) and then validates each candidate
with the check its format defines: the Luhn checksum and the issuer's prefix and length
for card numbers, ISO 13616 mod-97 and the country's length for IBANs, octet ranges for
IPv4, the :mod:`ipaddress` parser for IPv6, and for national ids the check digit, letter
or date of each country's format (US SSN, UK NINO, Italian codice fiscale, Spanish
DNI/NIE, French NIR, Swiss AHV, Swedish personnummer, Finnish HETU, Brazilian CPF, Polish
PESEL, Dutch BSN, Norwegian fødselsnummer, Chinese resident id, Korean RRN, Canadian SIN,
Indian Aadhaar). Candidates that fail validation are dropped, which keeps order numbers,
dates, ISBNs and version strings out of the results.

Some formats can only be told apart by the words around them, as a person would: a bare
``3420837783`` is a phone number in "call me at 3420837783" and an order number in "order
3420837783". Phone numbers written in a self-evident way (a ``+`` or ``00`` country code,
an area code in brackets, North American 3-3-4 grouping, a trunk ``0`` and groups) are
found anywhere; other digit runs count as a phone number only when a phone word (call,
phone, tel, mobile, WhatsApp, Telefon, téléphone, 電話, ...) is within 60 characters
before or 30 after, and bare national-id digits only when an id word (SSN, BSN, PESEL,
CPF, ...) is. A reference word just before a number (order, invoice, ISBN, tracking,
ticket, ...) overrides a phone word, and a version word (``v``, version, release, build,
section, ``Chrome/``) just before a dotted quad means it is not an IPv4 address. Secrets
are provider-prefixed keys (AWS, GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic,
Google, Hugging Face, npm, SendGrid, ...), JWTs, PEM/PGP private key blocks and the values
of ``password=`` / ``api_key:`` / ``Bearer`` assignments; keys made of one repeated
placeholder character (``sk-XXXX...``) are not secrets.

Candidates of different kinds may overlap (a card number also looks like a run of phone
digits). The longest candidate wins; between candidates of equal length the more specific
kind wins (secret, email, iban, national_id, card, ipv6, ipv4, phone).

Every pattern is anchored by a negative look-behind, so a match can only start where a
token starts, every repetition is bounded, no two adjacent repetitions can share a
character, and the context words are searched in a bounded window around a candidate;
private key blocks are paired with a single forward scan. Matching therefore runs in time
linear in the length of the text, whatever the text is (``tests/detectors/
test_linear_time.py`` checks the growth of CPU time on adversarial inputs).

Examples
--------
>>> find_pii("mail jane.doe@example.com or call +44 20 7946 0958")
[PiiMatch(kind='email', start=5, end=25), PiiMatch(kind='phone', start=34, end=50)]
>>> redact("card 4111 1111 1111 1111, not 4111 1111 1111 1112")
'card [REDACTED:card], not 4111 1111 1111 1112'
>>> sorted(pii_kinds("GB82WEST12345698765432 from 10.0.0.1"))
['iban', 'ipv4']
>>> redact("call me at 3420837783 about order 3420837784")
'call me at [REDACTED:phone] about order 3420837784'

"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["KINDS", "PiiMatch", "find_pii", "pii_kinds", "redact", "scrub"]

KINDS = ("email", "phone", "card", "iban", "ipv4", "ipv6", "secret", "national_id")


@dataclass(frozen=True)
class PiiMatch:
    """One span of personal data: ``text[start:end]`` is of kind ``kind``.

    Parameters
    ----------
    kind
        One of :data:`KINDS`: ``email``, ``phone``, ``card``, ``iban``, ``ipv4``, ``ipv6``,
        ``secret``, ``national_id``.
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
    "national_id": 3,
    "card": 4,
    "ipv6": 5,
    "ipv4": 6,
    "phone": 7,
}

def _scan(pattern: str) -> re.Pattern[str]:
    r"""Compile ``pattern`` so that the engine can skip ahead to candidate first characters.

    Leading look-behinds stop CPython's ``re`` from scanning ahead for the first character
    of a match. ``_scan(r"(?<!a)(?<!b )\d{3}x")`` compiles the equivalent
    ``\d(?<!a\d)(?<!b \d)\d{2}x``: the same matches, several times faster on prose. The
    look-behinds must not contain parentheses inside character classes.
    """
    behinds = []
    while pattern.startswith("(?<!"):
        depth = 0
        for i, ch in enumerate(pattern):
            if ch in "()" and pattern[i - 1 : i] != "\\":
                depth += 1 if ch == "(" else -1
                if depth == 0:
                    break
        behinds.append(pattern[4:i])
        pattern = pattern[i + 1 :]
    first = re.match(r"(\[[^\]]+\]|\\d|[A-Za-z0-9])(?:\{(\d+)(?:,(\d+))?\})?", pattern)
    if first is None or pattern[first.end() : first.end() + 1] in ("?", "*", "+"):
        raise ValueError(pattern)
    head, low, high = first.groups()
    head = "[0-9]" if head == "\\d" else head  # a character set lets the engine skip ahead
    rest = pattern[first.end() :]
    if low is not None:
        if int(low) < 1:
            raise ValueError(pattern)
        count = f"{int(low) - 1}" + (f",{int(high) - 1}" if high else "")
        rest = f"{head}{{{count}}}{rest}"
    return re.compile(head + "".join(f"(?<!{b}{head})" for b in behinds) + rest)


# ---------------------------------------------------------------------------------------
# Context words. Each is searched only in a bounded window next to a candidate.

_BEFORE = 60
_AFTER = 30

_PHONE_CUE = re.compile(
    r"(?i:\b(?:phone|phones|tel|tele|telephone|telefon|telefonnummer|telefono|teléfono|"
    r"telefone|telefoon|téléphone|tél|mobile|mobil|mobiel|móvil|movil|cellulare|celular|"
    r"cell|cellphone|handy|portable|call|called|calling|ring|text (?:me|us)|sms|whatsapp|"
    r"signal|telegram|viber|fax|dial|hotline|helpline|landline|rufnummer|anrufen|ruf|"
    r"appelez|appeler|appelle|joindre|llámame|llamar|llama|chiama|chiamami|bellen|bel|"
    r"ligue|ligar|contato|contact|reach|reachable|(?:my|his|her|your|our|their) number)\b)"
    r"|電話|携帯|番号|телефон|тел\.|звоните|फ़ोन|फोन|मोबाइल|电话|手机|전화|휴대폰"
)

_ID_CUE = re.compile(
    r"(?i:\b(?:ssn|social security|social insurance|sin|national insurance|nino|"
    r"national id|national identity|national identification|identity|id number|id no|"
    r"id card|identification|personal number|personal code|personal id|citizen|bsn|"
    r"burgerservicenummer|sofinummer|pesel|cpf|nif|nie|dni|nir|insee|sécurité sociale|"
    r"securite sociale|codice fiscale|ahv|avs|personnummer|fødselsnummer|fodselsnummer|"
    r"personnummer|henkilötunnus|hetu|aadhaar|aadhar|uidai|tax id|taxpayer|tin|"
    r"steuer-id|steuernummer|ausweis|resident id|registration number|rrn)\b)"
    r"|身份证|身分証|マイナンバー|주민등록번호|主民"
)

# A reference word right before a number: it is that reference, not a phone number.
_REFERENCE_BEFORE = re.compile(
    r"(?i:\b(?:order|orders|invoice|inv|isbn|issn|tracking|shipment|parcel|ticket|case|"
    r"ref|reference|account|acct|serial|sku|part|model|batch|lot|item|policy|claim|"
    r"booking|confirmation|transaction|txn|receipt|customer|member|patient|employee|"
    r"id|no|nr|qty|quantity|page|pages|room|zip|postcode|postal)\b)"
    r"[\s:#.|,;=\"']{0,4}(?:(?:number|num|no|nr|id|code)\b[\s:#.|,;=\"']{0,4})?#?\s{0,2}$"
)

# A version word right before a dotted quad: a version or section number, not an address.
_VERSION_BEFORE = re.compile(
    r"(?:(?i:\b(?:v|ver|version|versions|release|rel|build|firmware|fw|patch|update|"
    r"upgrade|sdk|kernel|section|sec|chapter|clause|step|figure|fig|table|item|paragraph|"
    r"para|rule|oid|article|art|appendix|annex|level)\b)[\s:.]{0,3}|[A-Za-z]/|§\s{0,2})$"
)


_CARD_CUE = re.compile(
    r"(?i:\b(?:card|cards|pan|visa|mastercard|amex|maestro|credit|debit|cc|karte|"
    r"kartennummer|kreditkarte|carte|tarjeta|cartão|cartao|carta|kaart|payment|paid|pay|"
    r"charge|charged|refund)\b)|カード|卡"
)


def _cue_near(cue: re.Pattern[str], text: str, start: int, end: int) -> bool:
    return (
        cue.search(text, max(0, start - _BEFORE), start) is not None
        or cue.search(text, end, min(len(text), end + _AFTER)) is not None
    )


def _follows(pattern: re.Pattern[str], text: str, start: int, width: int = 28) -> bool:
    return pattern.search(text, max(0, start - width), start) is not None


# ---------------------------------------------------------------------------------------
# Checksums.


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)  # fmt: skip
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)  # fmt: skip


def _verhoeff_ok(digits: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][ord(ch) - 48]]
    return c == 0


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum((ord(c) - 48) * w for c, w in zip(digits, weights, strict=False))


def _date_ok(yy: str, mm: str, dd: str) -> bool:
    m, d = int(mm), int(dd)
    return 1 <= m <= 12 and 1 <= d <= 31 and yy.isdigit()


def _only_digits(s: str) -> str:
    return "".join(c for c in s if "0" <= c <= "9")


# ---------------------------------------------------------------------------------------
# E-mail.

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@"
    r"(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_FILE_TLDS = frozenset({
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "pdf", "js",
    "mjs", "ts", "css", "scss", "txt", "json", "yaml", "yml", "zip", "gz", "tgz", "tar",
    "html", "htm", "php", "exe", "dll", "so", "jar", "mp3", "mp4", "wav", "mov",
})  # fmt: skip


def _email_ok(candidate: str) -> bool:
    # "icon@2x.png" is an image at twice the resolution, not an address.
    domain = candidate.rsplit("@", 1)[1]
    tld = domain.rsplit(".", 1)[1].lower()
    first = domain.split(".", 1)[0]
    return tld not in _FILE_TLDS and not (first[:-1].isdigit() and first[-1:] in "xX")


# ---------------------------------------------------------------------------------------
# Phone numbers: one candidate pattern, then a decision on its shape and its context.

_PHONE = re.compile(
    # The first character comes first and the look-behinds after it, so that the engine
    # can skip ahead to a "+", "(" or digit (see _scan).
    r"(?P<num>[+(0-9](?<![A-Za-z0-9_+@/.#-][+(0-9])(?<!\d[ ./-][+(0-9])(?<!\d:[+(0-9])"
    r"(?:(?<=\+)(?:\(\+?\d{1,5}\)[ .\-/]{0,2})?\d{1,15}"
    r"|(?<=\()\+?\d{1,5}\)[ .\-/]{0,2}\d{1,15}"
    r"|(?<=\d)\d{0,14})"
    r"(?:(?:[ .\-/]{1,2}|[ .\-/]?\(\d{1,5}\)[ .\-/]{0,2})\d{1,12}){0,7})"
    r"(?:[ ,]{0,2}(?:x|ext\.?|extension|доб\.?)[ .:]{0,2}\d{1,6})?"
    r"(?![A-Za-z0-9_]|[ .\-/]?\(?\d)"
)
_NANP = re.compile(r"(?:1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
_COMPACT_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_DATE_LIKE = re.compile(
    r"(?:\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d{2}|(?:19|20)\d{2}[./-]\d{1,2}[./-]\d{1,2}"
    r"|(?:19|20)\d{2}\s?[-–/]\s?(?:19|20)\d{2})(?!\d)"
)


def _phone_strong(num: str, n_digits: int) -> bool:
    """A phone number that needs no context: the way it is written says so."""
    if num.startswith(("+", "(+")):
        return 8 <= n_digits <= 15
    if num.startswith("00") and num[2:3] not in ("0", ""):
        return 11 <= n_digits <= 17
    if _NANP.fullmatch(num):
        return True
    if "(" in num:
        return 9 <= n_digits <= 13
    if num[0] == "0" and "1" <= num[1:2] <= "9" and not _SSN_SHAPE.fullmatch(num):
        seps = sum(1 for c in num if c in " .-/")
        if seps >= 2:
            return 9 <= n_digits <= 12
        return seps == 1 and 10 <= n_digits <= 12
    return False


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for m in _PHONE.finditer(text):
        num = m.group("num")
        n_digits = sum(1 for c in num if "0" <= c <= "9")
        if not 7 <= n_digits <= 17 or _DATE_LIKE.match(num) or _COMPACT_DATE.fullmatch(num):
            continue
        start, end = m.span()
        if _follows(_REFERENCE_BEFORE, text, start):
            continue
        if _phone_strong(num, n_digits) or (
            n_digits <= 15 and _cue_near(_PHONE_CUE, text, start, end)
        ):
            yield start, end


# ---------------------------------------------------------------------------------------
# Payment cards.

_CARD = _scan(
    r"(?<![A-Za-z0-9_/-])(?<!\d[ .,-])\d(?:[ -]?\d){11,18}(?![A-Za-z0-9_]|[ -]\d|[.,]\d)"
)

# (first digits, allowed lengths) of the card schemes in use, longest prefixes first.
_CARD_SCHEMES: tuple[tuple[tuple[str, ...], range | tuple[int, ...]], ...] = (
    (("34", "37"), (15,)),  # American Express
    (tuple(str(p) for p in range(51, 56)), (16,)),  # Mastercard
    (tuple(str(p) for p in range(2221, 2721)), (16,)),  # Mastercard 2-series
    (("2200", "2201", "2202", "2203", "2204"), (16,)),  # Mir
    (("4",), (13, 16, 19)),  # Visa
    (("6011", "644", "645", "646", "647", "648", "649", "65"), range(16, 20)),  # Discover
    (("300", "301", "302", "303", "304", "305", "309", "36", "38", "39"), range(14, 20)),
    (("35",), range(16, 20)),  # JCB
    (("2131", "1800"), (15,)),  # JCB, older 15-digit numbers
    (("62", "81"), range(16, 20)),  # UnionPay
    (("50", "56", "57", "58", "6", "0604"), range(12, 20)),  # Maestro
)


def _card_scheme_ok(digits: str) -> bool:
    return any(
        digits.startswith(prefixes) and len(digits) in lengths
        for prefixes, lengths in _CARD_SCHEMES
    )


def _card_ok(candidate: str) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    if not _card_scheme_ok(digits) or not _luhn_ok(digits):
        return False
    seps = {c for c in candidate if c in " -"}
    if not seps:
        return True
    if len(seps) > 1:
        return False
    groups = [len(g) for g in candidate.split(seps.pop())]
    if groups in ([4, 6, 5], [4, 6, 4]):
        return True
    return len(groups) >= 3 and all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        candidate = m.group()
        if not _card_ok(candidate):
            continue
        if len(candidate) <= 14 and _follows(_REFERENCE_BEFORE, text, m.start()):
            continue  # short Maestro-like numbers are also order and tracking numbers
        if (
            len(candidate) <= 13
            and _cue_near(_PHONE_CUE, text, m.start(), m.end())
            and not _cue_near(_CARD_CUE, text, m.start(), m.end())
        ):
            continue  # "call me on 4225267014776": a phone number that passes Luhn
        yield m.span()


# ---------------------------------------------------------------------------------------
# IBAN.

_IBAN = _scan(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")

def _iban_ok(compact: str) -> bool:
    if compact[2:4] in ("00", "01", "99"):  # check digits are 02..98
        return False
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


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


# ---------------------------------------------------------------------------------------
# IP addresses.

_IPV4 = _scan(r"(?<![\d.])\d{1,3}\.(?:\d{1,3}\.){2}\d{1,3}(?!\d|\.\d)")

_IPV6 = re.compile(r"(?<![0-9A-Za-z:.])[0-9A-Fa-f:.]{2,45}(?![0-9A-Za-z:])")


def _ipv4s(text: str) -> Iterator[tuple[int, int]]:
    for m in _IPV4.finditer(text):
        octets = m.group().split(".")
        if not all(int(o) <= 255 and (len(o) == 1 or o[0] != "0") for o in octets):
            continue
        if _follows(_VERSION_BEFORE, text, m.start(), 14):
            continue
        yield m.span()


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


# ---------------------------------------------------------------------------------------
# Secrets.

_SECRET = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)(?P<aws>[0-9A-Z]{16})"
    r"|gh[pousr]_(?P<gh>[A-Za-z0-9]{36,255})"
    r"|github_pat_(?P<ghpat>[A-Za-z0-9_]{22,255})"
    r"|glpat-(?P<gl>[A-Za-z0-9_-]{20,64})"
    r"|xox[abposr]-(?P<slack>[A-Za-z0-9-]{10,255})"
    r"|xapp-\d-(?P<slackapp>[A-Za-z0-9-]{10,255})"
    r"|(?:sk|rk)_(?:live|test)_(?P<stripe>[A-Za-z0-9]{10,255})"
    r"|whsec_(?P<whsec>[A-Za-z0-9+/=]{20,100})"
    r"|sk-(?:proj-|ant-(?:api|admin)\d\d-|svcacct-|admin-|or-v1-)?(?P<sk>[A-Za-z0-9_-]{20,255})"
    r"|AIza(?P<google>[0-9A-Za-z_-]{35})"
    r"|hf_(?P<hf>[A-Za-z0-9]{30,40})"
    r"|npm_(?P<npm>[A-Za-z0-9]{36})"
    r"|pypi-(?P<pypi>AgE[A-Za-z0-9_-]{50,255})"
    r"|SG\.(?P<sendgrid>[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})"
    r"|dop_v1_(?P<do>[a-f0-9]{64})"
    r"|shp(?:at|ss|ca|pa)_(?P<shopify>[a-fA-F0-9]{32})"
    r"|sq0(?:atp|csp)-(?P<square>[0-9A-Za-z_-]{22,43})"
    r"|eyJ[A-Za-z0-9_-]{5,8000}\.eyJ[A-Za-z0-9_-]{5,8000}\.(?P<jwt>[A-Za-z0-9_-]{10,4000})"
    r"|https://hooks\.slack\.com/services/(?P<hook>T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/"
    r"[A-Za-z0-9]{20,32})"
    r")(?![A-Za-z0-9_-])"
)


def _random_looking(body: str, min_distinct: int = 6) -> bool:
    """Placeholders repeat one character (``sk-XXXX``, ``ghp_xxxx``); keys do not."""
    return len(set(body)) >= min_distinct and "xxxx" not in body.lower() and "...." not in body


def _secret_ok(m: re.Match[str]) -> bool:
    group = m.lastgroup
    body = m.group(group) if group else m.group()
    if not _random_looking(body):
        return False
    if group == "sk":
        # Hyphenated words ("sk-learn-compatible-...") are not keys: keys mix cases and digits.
        return (
            any(c.isdigit() for c in body)
            and any(c.isupper() for c in body)
            and any(c.islower() for c in body)
        )
    return True


_ASSIGNED = re.compile(
    r"(?i:api[_-]?key|apikey|secret|access[_-]?key|private[_-]?key|auth[_-]?token|"
    r"access[_-]?token|refresh[_-]?token|token|password|passwd|passphrase|pwd|credential)"
    r"s?(?:[_-][A-Za-z0-9_-]{0,30}?)?[\"']?[ \t]{0,3}(?::=|=>|[:=])[ \t]{0,3}[\"'`]?"
    r"(?P<value>[^\s\"'`<>(){}\[\],;]{6,200})"
)
_BEARER = re.compile(r"(?i:\bbearer)[ \t]{1,3}(?P<value>[A-Za-z0-9._~+/-]{20,2000}=*)")


_CODE_NAME = re.compile(r"[A-Za-z_][A-Za-z_]{0,99}(?:\.[A-Za-z_][A-Za-z0-9_]{0,99}){0,10}")


def _assigned_ok(value: str) -> bool:
    if value[0] in "$%*#@&." or value.lower().startswith(("os.", "process.", "env", "none")):
        return False
    if _CODE_NAME.fullmatch(value):  # a variable or attribute (newPassword, cfg.api_key)
        return False
    classes = (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )
    low = value.lower()
    return (
        classes >= 2
        and _random_looking(value, 5)
        and not any(w in low for w in ("your", "example", "placeholder", "changeme", "redacted"))
    )


_ASSIGNED_WORDS = ("key", "secret", "token", "pass", "pwd", "credential")


def _assigned(text: str) -> Iterator[tuple[int, int]]:
    low = text.lower()
    patterns = []
    if any(w in low for w in _ASSIGNED_WORDS):
        patterns.append(_ASSIGNED)
    if "bearer" in low:
        patterns.append(_BEARER)
    for pattern in patterns:
        for m in pattern.finditer(text):
            value = m.group("value")
            if _assigned_ok(value):
                yield m.span("value")


_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_KEY_END = re.compile(r"-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_KEY_BODY = re.compile(r"(?:\r?\n[A-Za-z0-9+/=]{1,128}(?=\r?\n|$))*")


def _private_keys(text: str) -> Iterator[tuple[int, int]]:
    # Pair each BEGIN header with the first END footer after it, in one forward pass, so
    # the cost stays linear even with many headers and no footer.
    if "PRIVATE KEY" not in text:
        return
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


# ---------------------------------------------------------------------------------------
# National ids. Each format: a pattern, a validator, and whether it needs an id word.


def _ssn_ok(s: str) -> bool:
    d = _only_digits(s)
    return (
        len(d) == 9 and d[:3] not in ("000", "666") and d[0] != "9"
        and d[3:5] != "00" and d[5:] != "0000"
    )  # fmt: skip


_CF_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20,
         11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23),
        strict=True,
    )
)  # fmt: skip


def _codice_fiscale_ok(s: str) -> bool:
    total = 0
    for i, c in enumerate(s[:15]):
        if i % 2 == 0:
            total += _CF_ODD[c]
        else:
            total += ord(c) - 48 if c.isdigit() else ord(c) - 65
    return chr(65 + total % 26) == s[15]


def _dni_ok(s: str) -> bool:
    s = s.replace("-", "")
    number = {"X": "0", "Y": "1", "Z": "2"}.get(s[0], s[0]) + s[1:-1]
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(number) % 23] == s[-1]


def _nir_ok(s: str) -> bool:
    s = s.replace(" ", "")
    body = s[:13].replace("2A", "19").replace("2B", "18")
    return _date_ok("00", s[3:5], "01") and 97 - int(body) % 97 == int(s[13:])


def _ahv_ok(s: str) -> bool:
    d = _only_digits(s)
    total = _weighted(d[:12], (1, 3) * 6)
    return (10 - total % 10) % 10 == int(d[12])


def _personnummer_ok(s: str) -> bool:
    if s[6] not in "-+" and s[:2] not in ("19", "20"):
        return False  # twelve digits: the century comes first
    d = _only_digits(s)[-10:]
    day = int(d[4:6])
    return _date_ok(d[:2], d[2:4], str(day - 60 if day > 60 else day)) and _luhn_ok(d)


def _hetu_ok(s: str) -> bool:
    return _date_ok(s[4:6], s[2:4], s[:2]) and (
        "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(s[:6] + s[7:10]) % 31] == s[10]
    )


def _cpf_ok(s: str) -> bool:
    d = _only_digits(s)
    if len(d) != 11 or len(set(d)) == 1:
        return False
    for k in (9, 10):
        check = sum((ord(d[i]) - 48) * (k + 1 - i) for i in range(k)) * 10 % 11 % 10
        if check != ord(d[k]) - 48:
            return False
    return True


def _pesel_ok(s: str) -> bool:
    check = (10 - _weighted(s, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)) % 10) % 10
    return _date_ok(s[:2], str(int(s[2:4]) % 20), s[4:6]) and check == int(s[10])


def _bsn_ok(s: str) -> bool:
    return s[0] != "0" and (_weighted(s, (9, 8, 7, 6, 5, 4, 3, 2)) - int(s[8])) % 11 == 0


def _fodselsnummer_ok(s: str) -> bool:
    k1 = 11 - _weighted(s, (3, 7, 6, 1, 8, 9, 4, 5, 2)) % 11
    k2 = 11 - _weighted(s, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)) % 11
    day = int(s[:2])
    return (
        _date_ok(s[4:6], s[2:4], str(day - 40 if day > 40 else day))
        and k1 % 11 == int(s[9]) and k2 % 11 == int(s[10])
    )  # fmt: skip


def _china_id_ok(s: str) -> bool:
    s = s.upper()
    r = _weighted(s, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)) % 11
    return s[6:8] in ("19", "20") and _date_ok(s[8:10], s[10:12], s[12:14]) and (
        "10X98765432"[r] == s[17]
    )


def _rrn_ok(s: str) -> bool:
    # Korean numbers issued since 2020 have no check digit: the birth date must be plausible.
    return int(s[2:4]) <= 12 and int(s[4:6]) <= 31


def _sin_ok(s: str) -> bool:
    d = _only_digits(s)
    return d[0] not in "08" and _luhn_ok(d)


def _aadhaar_ok(s: str) -> bool:
    d = _only_digits(s)
    return d[0] not in "01" and _verhoeff_ok(d)


_NINO_NEVER = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})

_ID_FORMATS: tuple[tuple[re.Pattern[str], Callable[[str], bool], bool], ...] = (
    # (pattern, validator, needs an id word nearby)
    (_scan(r"(?<![A-Za-z0-9_-])\d{3}-\d{2}-\d{4}(?![A-Za-z0-9_]|-\d)"), _ssn_ok, False),
    (
        _scan(r"(?<![A-Za-z0-9_-])(?<!\d )\d{3} \d{2} \d{4}(?![A-Za-z0-9_]|[ -]\d)"),
        _ssn_ok,
        True,
    ),
    (
        _scan(
            r"(?<![A-Za-z0-9])[A-CEGHJ-TW-Z][A-CEGHJ-TW-Z](?: ?\d{2}){3} ?[A-D](?![A-Za-z0-9])"
        ),
        lambda s: s.count(" ") in (0, 4) and s[:2] not in _NINO_NEVER,
        False,
    ),
    (
        _scan(r"(?<![A-Za-z0-9])[A-Z]{6}\d{2}[ABCDEHLMPRST]\d{2}[A-Z]\d{3}[A-Z](?![A-Za-z0-9])"),
        _codice_fiscale_ok,
        False,
    ),
    (_scan(r"(?<![A-Za-z0-9_-])\d{8}-?[A-Z](?![A-Za-z0-9_])"), _dni_ok, False),
    (_scan(r"(?<![A-Za-z0-9_-])[XYZ]-?\d{7}-?[A-Z](?![A-Za-z0-9_])"), _dni_ok, False),
    (
        _scan(
            r"(?<![A-Za-z0-9_-])(?<!\d )[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}"
            r"(?![A-Za-z0-9_]|[ -]\d)"
        ),
        lambda s: s.count(" ") in (0, 6) and _nir_ok(s),
        False,
    ),
    (_scan(r"(?<![\d.])756(?:\.\d{4}\.\d{4}\.\d{2}|\d{10})(?![\d]|\.\d)"), _ahv_ok, False),
    (
        _scan(r"(?<![A-Za-z0-9_-])\d{6}(?:\d\d)?[-+]\d{4}(?![A-Za-z0-9_]|-\d)"),
        _personnummer_ok,
        False,
    ),
    (
        _scan(r"(?<![A-Za-z0-9_-])\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y](?![A-Za-z0-9_])"),
        _hetu_ok,
        False,
    ),
    (
        _scan(r"(?<![A-Za-z0-9_.-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![A-Za-z0-9_]|[.-]\d)"),
        _cpf_ok,
        False,
    ),
    (_scan(r"(?<![A-Za-z0-9_.-])\d{17}[\dXx](?![A-Za-z0-9_])"), _china_id_ok, False),
    (_scan(r"(?<![A-Za-z0-9_-])\d{6}-[1-8]\d{6}(?![A-Za-z0-9_]|-\d)"), _rrn_ok, False),
    (
        _scan(r"(?<![A-Za-z0-9_-])(?<!\d )[2-9]\d{3} \d{4} \d{4}(?![A-Za-z0-9_]|[ -]\d)"),
        _aadhaar_ok,
        False,  # unless it is also a valid card number next to a card word, see below
    ),
    (
        _scan(r"(?<![A-Za-z0-9_.-])\d{4}-\d{4}-\d{4}(?![A-Za-z0-9_]|-\d)"),
        _aadhaar_ok,
        True,
    ),
    (
        _scan(r"(?<![A-Za-z0-9_.-])(?<!\d )\d{3}([ -])\d{3}\1\d{3}(?![A-Za-z0-9_]|[ -]\d)"),
        _sin_ok,
        True,
    ),
)

_BARE_ID = _scan(r"(?<![A-Za-z0-9_/-])(?<!\d[.,])\d{9,12}(?![A-Za-z0-9_]|[.,/-]\d)")
_BARE_ID_CHECKS: dict[int, tuple[Callable[[str], bool], ...]] = {
    9: (_ssn_ok, _bsn_ok, _sin_ok),
    11: (_cpf_ok, _pesel_ok, _fodselsnummer_ok),
    12: (_aadhaar_ok,),
}


def _national_ids(text: str) -> Iterator[tuple[int, int]]:
    for pattern, check, needs_cue in _ID_FORMATS:
        for m in pattern.finditer(text):
            if not check(m.group()):
                continue
            if needs_cue and not _cue_near(_ID_CUE, text, m.start(), m.end()):
                continue
            if (
                check is _aadhaar_ok
                and _card_ok(m.group())
                and _cue_near(_CARD_CUE, text, m.start(), m.end())
            ):
                continue  # a 12-digit Maestro number written 4-4-4 on a card
            yield m.span()
    for m in _BARE_ID.finditer(text):
        checks = _BARE_ID_CHECKS.get(len(m.group()), ())
        if any(check(m.group()) for check in checks) and _cue_near(
            _ID_CUE, text, m.start(), m.end()
        ):
            yield m.span()


# ---------------------------------------------------------------------------------------


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


def _secrets(text: str) -> Iterator[tuple[int, int]]:
    for m in _SECRET.finditer(text):
        if _secret_ok(m):
            yield m.span()


def _emails(text: str) -> Iterator[tuple[int, int]]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        if _email_ok(m.group()):
            yield m.span()


_DETECTORS: list[tuple[str, Callable[[str], Iterator[tuple[int, int]]]]] = [
    ("secret", _secrets),
    ("secret", _private_keys),
    ("secret", _assigned),
    ("email", _emails),
    ("iban", _from_match(_IBAN, _iban_span)),
    ("card", _cards),
    ("national_id", _national_ids),
    ("ipv6", _from_match(_IPV6, _ipv6_span)),
    ("ipv4", _ipv4s),
    ("phone", _phones),
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
    >>> find_pii("v1.2.3.4 shipped 2024-01-15, order 12345678, ISBN 978-3-16-148410-0")
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
    >>> redact("DB_PASSWORD=s3cr3t-Pa55 and NIF 12345678Z")
    'DB_PASSWORD=[REDACTED:secret] and NIF [REDACTED:national_id]'

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
