"""A seeded corpus for the PII detector: Faker positives in many locales, tricky negatives.

:func:`build_corpus` returns :class:`Sample` objects, each a short text with the exact
spans of personal data it holds and their kind. Positive values come from Faker (e-mail,
phone numbers, card numbers of every provider, IBANs, IP addresses, national ids) or are
generated here in the shape real providers use (API keys with provider prefixes, JWTs,
PEM/PGP private key blocks, ``password=`` assignments, UK NINOs and Indian Aadhaar numbers,
see below), and are embedded in carrier sentences. The negatives are hand-written shapes
that look like personal data and are not: order and tracking numbers, dates and times,
version strings (including four-part ones that would be valid IPv4 addresses), ISBNs,
UUIDs, Luhn-invalid card-like ids, hashes and git SHAs, base64 blobs, prices, year ranges,
coordinates, MAC addresses, placeholder keys, and so on; some positive sentences carry a
negative too ("Order 4471-2210: call ...").

Two template sets exist: ``"main"`` and ``"heldback"``. The held-back set is worded
differently and includes structured carriers (JSON, log lines, CSV rows, e-mail
signatures, chat transcripts) so that a detector tuned on one set can be checked on the
other; use it with a different seed.

Decisions about what counts as personal data (a person reading the sentence decides):

* Phone numbers. A number written with a ``+`` or ``00`` country code, an area code in
  brackets, North American 3-3-4 grouping, or a leading trunk ``0`` with separators
  (``04 15 39 15 00``, ``0837 783533``) is a phone number in any sentence. Any other
  digit run (Faker's ``3420837783``, ``609 141 777``, ``91 41 77 76``, ``msisdn``) is only
  recognisable as a phone number when the sentence says so, so those values are only put
  in templates with a phone word ("call me on ...", "Mobile: ..."). Faker values with
  fewer than 7 or more than 15 digits (without the extension) are not used.
* National ids. Formats with a check digit, letter or date that make them recognisable on
  their own (US SSN ``123-45-6789``, UK NINO, codice fiscale, DNI/NIE, NIR, AHV,
  personnummer, HETU, formatted CPF, Chinese resident id, Korean RRN, spaced Aadhaar) go
  into any id template; bare digit runs (Dutch BSN, Polish PESEL, Norwegian
  fødselsnummer, bare CPF, Canadian SIN ``123 456 789``, bare SSN) only into templates
  that name the id. Faker's ``en_GB`` ``ssn`` is not used (it yields ``ZZ 123456 T``, a
  prefix and suffix that are never issued): NINOs are generated here. Faker's ``en_IN``
  ``aadhaar_id`` is not used (it computes a Luhn check digit; Aadhaar uses Verhoeff):
  Aadhaar numbers are generated here with the Verhoeff check digit.
* Secrets are labelled on the key itself; for ``password=...`` assignments on the value.

Examples
--------
>>> corpus = build_corpus(seed=1, n_per_kind=3)
>>> sorted({s.kind for sample in corpus for s in sample.spans})
['card', 'email', 'iban', 'ipv4', 'ipv6', 'national_id', 'phone', 'secret']
>>> sample = corpus[0]
>>> [sample.text[s.start : s.end] == s.value for s in sample.spans]
[True]

"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import re
import string
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from faker import Faker

__all__ = [
    "DEFAULT_LOCALES",
    "KINDS",
    "Sample",
    "Span",
    "build_corpus",
    "score",
]

KINDS = ("email", "phone", "card", "iban", "ipv4", "ipv6", "secret", "national_id")

DEFAULT_LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "ja_JP",
    "en_IN", "pl_PL", "sv_SE", "en_AU", "en_CA", "ru_RU", "de_CH", "zh_CN", "ko_KR",
    "fi_FI", "no_NO",
)  # fmt: skip


@dataclass(frozen=True)
class Span:
    """One expected span: ``text[start:end] == value`` is of kind ``kind``.

    ``source`` says where the value came from, e.g. ``phone:fr_FR`` or ``secret:jwt``.
    """

    kind: str
    start: int
    end: int
    value: str
    source: str


@dataclass(frozen=True)
class Sample:
    """A text and every span of personal data in it (none for a negative)."""

    text: str
    spans: tuple[Span, ...]
    label: str


# ---------------------------------------------------------------------------------------
# Templates. ``{v}`` is the value; ``{name}``, ``{city}``, ``{company}``, ``{date}``,
# ``{order}`` and ``{version}`` are filler (the last three are tricky negatives).
# A template whose value is context-dependent must say what the value is.

_POSITIVE_TEMPLATES: dict[str, dict[str, dict[str, list[str]]]] = {
    "main": {
        "email": {
            "any": [
                "Please write to {v} if you have questions.",
                "My email is {v}",
                "Send the invoice to {v}, thanks!",
                "{name} <{v}> wrote on {date}:",
                "Contact: {v}",
                "cc {v} on order {order}",
                "Ich bin unter {v} erreichbar.",
                "Vous pouvez m'écrire à {v}.",
                "Mi correo es {v}.",
                "連絡先は{v}です。",
                "Reply-To: {v}",
                "[mail me](mailto:{v})",
            ]
        },
        "phone": {
            "any": [
                "You can reach {name} at {v}.",
                "Contact {company}: {v}",
                "{name} — {v} — {city}",
                "Our office in {city} ({v}) opens at 9.",
                "Emergency contact {v}",
            ],
            "cue": [
                "Call me at {v} after 6pm.",
                "My phone number is {v}",
                "Phone: {v}",
                "Tel. {v}",
                "Mobile {v} (WhatsApp too)",
                "Please ring {v} to confirm order {order}.",
                "Meine Telefonnummer ist {v}.",
                "Mon numéro de téléphone : {v}",
                "Llámame al {v}, por favor.",
                "Il mio cellulare è {v}.",
                "電話番号は{v}です。",
                "text me on {v} when you land",
            ],
        },
        "card": {
            "any": [
                "My card number is {v}",
                "Charge {v} for order {order}.",
                "card: {v} exp 09/28",
                "Please refund to {v}.",
                "Paid with {v} on {date}.",
                "Kartennummer {v}",
                "Numéro de carte : {v}",
                "the customer typed {v} into the chat",
            ]
        },
        "iban": {
            "any": [
                "Please transfer the amount to IBAN {v}.",
                "Bank details: {v} ({company})",
                "IBAN: {v} BIC: DEUTDEFF",
                "Überweisung an {v} bis {date}.",
                "Virement sur le compte {v}",
                "My account is {v}",
                "Send it to {v} with reference {order}",
            ]
        },
        "ipv4": {
            "any": [
                "Connection refused from {v}",
                "The server is at {v} and runs {version}.",
                "Login from IP {v} at {date}",
                "ssh admin@{v}",
                "allow {v} in the firewall",
                "my router's address is {v}",
                "GET http://{v}/admin returned 403",
            ]
        },
        "ipv6": {
            "any": [
                "Connection refused from {v}",
                "The host resolves to {v}.",
                "Login from IP {v} at {date}",
                "ping6 {v}",
                "listen on [{v}]:8443",
                "My IPv6 address is {v}",
            ]
        },
        "secret": {
            "any": [
                "Here is my key: {v}",
                "export TOKEN={v}",
                "I accidentally committed {v} to the repo",
                "Authorization header was {v}",
                "The config has api_key = \"{v}\"",
                "why does {v} return 401?",
                "use this one {v} for the build",
            ]
        },
        "national_id": {
            "any": [
                "My national id number is {v}.",
                "ID number: {v}",
                "Please update my record, my id is {v}",
                "{name}, {v}, born in {city}",
                "Identification: {v} (expires {date})",
            ],
            "cue": [
                "My {idname} is {v}.",
                "{idname}: {v}",
                "Here is my {idname} {v} for the form",
            ],
        },
    },
    "heldback": {
        "email": {
            "any": [
                '{{"user": "{name}", "email": "{v}"}}',
                "{date} INFO login ok user={v}",
                "{name},{v},{city}",
                "--\n{name}\n{company}\n{v}",
                "[{date}] <{name}> ping me at {v}",
                "| {name} | {v} |",
                "E-Mail-Adresse: {v}",
                "Forward everything to {v} please",
            ]
        },
        "phone": {
            "any": [
                '{{"name": "{name}", "tel": "{v}"}}',
                "--\n{name}\n{company}\n{v}",
                "| {name} | {v} | {city} |",
                "{name} ({city}) {v}",
            ],
            "cue": [
                "{date} WARN sms delivery failed to={v}",
                "Telefon: {v}",
                "[{date}] <{name}> you can call {v} anytime",
                "{name},phone,{v}",
                "Fax {v}",
                "numero di telefono {v}",
                "Celular: {v}",
                "whatsapp me: {v}",
                "bel me op {v}",
                "携帯 {v}",
            ],
        },
        "card": {
            "any": [
                '{{"card_number": "{v}", "cvv": "123"}}',
                "{date} ERROR payment declined pan={v}",
                "{name},{v},{city}",
                "| {name} | {v} |",
                "Tarjeta {v} caducada",
                "The number on the card is {v}, can you check it?",
            ]
        },
        "iban": {
            "any": [
                '{{"iban": "{v}", "holder": "{name}"}}',
                "{date} INFO payout to {v} queued",
                "{name};{v};{city}",
                "Kontoinhaber {name}\nIBAN {v}",
                "Bonifico su {v}",
                "| {company} | {v} |",
            ]
        },
        "ipv4": {
            "any": [
                '{{"client_ip": "{v}", "status": 200}}',
                '{v} - - [{date}] "GET /index.html HTTP/1.1" 200 512',
                "{date} sshd: Failed password for root from {v} port 22",
                "| {name} | {v} |",
                "Adresse IP : {v}",
                "nmap -sV {v}",
            ]
        },
        "ipv6": {
            "any": [
                '{{"client_ip": "{v}", "status": 200}}',
                "{date} sshd: Failed password for root from {v} port 22",
                "| {name} | {v} |",
                "IPv6-Adresse: {v}",
                "curl -g http://[{v}]/",
            ]
        },
        "secret": {
            "any": [
                '{{"token": "{v}"}}',
                "{date} DEBUG using credentials {v}",
                "  - name: DEPLOY\n    value: {v}",
                "| prod | {v} |",
                "requests.get(url, headers={{'X-Api-Key': '{v}'}})",
                "Mein Schlüssel: {v}",
            ]
        },
        "national_id": {
            "any": [
                '{{"name": "{name}", "national_id": "{v}"}}',
                "{name};{v};{city}",
                "| {name} | {v} |",
                "Documento de identidad {v}",
            ],
            "cue": [
                '{{"{idname}": "{v}"}}',
                "{idname} {v}",
                "{name}, {idname} {v}",
            ],
        },
    },
}

# Negative templates: ``{v}`` is the tricky value, which is not personal data.
_NEGATIVE_TEMPLATES: dict[str, list[str]] = {
    "main": [
        "{lead} {v}.",
        "{lead} {v}, see the notes.",
        "As discussed, {lead} {v}",
        "{lead}: {v}",
    ],
    "heldback": [
        '{{"field": "{lead}", "value": "{v}"}}',
        "{date} INFO {lead} {v}",
        "| {lead} | {v} |",
        "{lead}\n{v}",
    ],
}


# ---------------------------------------------------------------------------------------
# Value generators. Each returns (value, source, needs_context, idname).


def _phone_needs_context(value: str) -> bool:
    """The human rule of the module docstring: is the way it is written enough?"""
    main = re.split(r"\s?(?:x|ext\.?)\s?\d+$", value)[0]
    digits = sum(c.isdigit() for c in main)
    if main.startswith(("+", "(+")) or re.match(r"00[1-9]", main):
        return False
    if "(" in main:
        return False
    if re.fullmatch(r"(?:1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}", main):
        return False
    seps = sum(c in " .-/" for c in main)
    trunk = re.match(r"0[1-9]", main) is not None
    return not (trunk and ((seps >= 2 and digits >= 9) or (seps == 1 and digits >= 10)))


def _phone(fk: Faker, rng: random.Random, locale: str) -> tuple[str, str, bool, str] | None:
    if rng.random() < 0.12:
        value = fk.msisdn()
        return value, f"phone:{locale}:msisdn", True, ""
    value = fk.phone_number()
    main = re.split(r"\s?(?:x|ext\.?)\s?\d+$", value)[0]
    digits = sum(c.isdigit() for c in main)
    if not 7 <= digits <= 15:
        return None
    return value, f"phone:{locale}", _phone_needs_context(value), ""


_CARD_TYPES = (
    "visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners", "jcb15",
    "jcb16", "maestro",
)  # fmt: skip


def _group(digits: str, sizes: Sequence[int], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        if i >= len(digits):
            break
        parts.append(digits[i : i + size])
        i += size
    if i < len(digits):
        parts.append(digits[i:])
    return sep.join(parts)


def _card(fk: Faker, rng: random.Random, locale: str) -> tuple[str, str, bool, str]:
    kind = rng.choice(_CARD_TYPES)
    digits = fk.credit_card_number(card_type=kind)
    style = rng.random()
    if style < 0.45:
        value = digits
    else:
        sep = " " if style < 0.8 else "-"
        if len(digits) == 15 and digits[:2] in ("34", "37"):
            value = _group(digits, (4, 6, 5), sep)
        elif len(digits) == 14:
            value = _group(digits, (4, 6, 4), sep)
        else:
            value = _group(digits, (4,) * 5, sep)
    return value, f"card:{kind}", False, ""


_IBAN_LOCALES = {
    "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "en_GB", "ru_RU",
    "de_AT", "de_CH", "nl_BE", "cs_CZ", "ro_RO", "el_GR", "tr_TR", "da_DK", "fi_FI",
    "no_NO", "pt_PT", "uk_UA", "en_IE", "az_AZ", "sk_SK",
}  # fmt: skip
_EXTRA_IBAN_LOCALES = ("de_AT", "nl_BE", "cs_CZ", "ro_RO", "el_GR", "tr_TR", "da_DK", "pt_PT",
                       "uk_UA", "en_IE", "sk_SK")  # fmt: skip


def _iban(fk: Faker, rng: random.Random, locale: str) -> tuple[str, str, bool, str]:
    compact = fk.iban()
    value = compact if rng.random() < 0.5 else _group(compact, (4,) * 9, " ")
    return value, f"iban:{compact[:2]}", False, ""


def _ipv4(fk: Faker, rng: random.Random, locale: str) -> tuple[str, str, bool, str]:
    r = rng.random()
    if r < 0.5:
        return fk.ipv4_public(), "ipv4:public", False, ""
    return fk.ipv4_private(), "ipv4:private", False, ""


def _ipv6(fk: Faker, rng: random.Random, locale: str) -> tuple[str, str, bool, str]:
    full = fk.ipv6()
    r = rng.random()
    if r < 0.35:
        return full, "ipv6:full", False, ""
    if r < 0.7:
        # Typical allocated addresses have zero runs: compress them.
        groups = full.split(":")
        k = rng.randint(1, 4)
        at = rng.randint(1, 8 - k - 1)
        groups[at : at + k] = ["0"] * k
        return str(ipaddress.IPv6Address(":".join(groups))), "ipv6:compressed", False, ""
    if r < 0.85:
        tail = ":".join(f"{rng.randrange(65536):x}" for _ in range(4))
        return f"fe80::{tail}", "ipv6:link-local", False, ""
    return f"::ffff:{fk.ipv4_public()}", "ipv6:mapped", False, ""


_B62 = string.ascii_letters + string.digits


def _rand(rng: random.Random, n: int, alphabet: str = _B62) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(fk: Faker, rng: random.Random) -> str:
    header = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {"sub": str(rng.randrange(10**9)), "name": fk.name(), "iat": rng.randrange(10**9)}
    sig = bytes(rng.randrange(256) for _ in range(rng.choice([32, 64, 256])))
    parts = (json.dumps(header).encode(), json.dumps(payload, ensure_ascii=False).encode(), sig)
    return ".".join(_b64url(p) for p in parts)


def _pem(rng: random.Random) -> str:
    label = rng.choice(
        ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
         "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"]
    )  # fmt: skip
    body = base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.randint(60, 400))))
    lines = [body[i : i + 64].decode() for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


_SECRET_MAKERS: dict[str, Callable[[Faker, random.Random], str]] = {
    "openai": lambda fk, r: "sk-" + _rand(r, 48),
    "openai_proj": lambda fk, r: "sk-proj-" + _rand(r, 120, _B62 + "_-"),
    "anthropic": lambda fk, r: "sk-ant-api03-" + _rand(r, 93, _B62 + "_-") + "AA",
    "stripe": lambda fk, r: r.choice(["sk_live_", "sk_test_", "rk_live_"]) + _rand(r, 24),
    "github": lambda fk, r: r.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + _rand(r, 36),
    "github_pat": lambda fk, r: "github_pat_" + _rand(r, 22) + "_" + _rand(r, 59),
    "gitlab": lambda fk, r: "glpat-" + _rand(r, 20, _B62 + "_-"),
    "slack": lambda fk, r: (
        r.choice(["xoxb-", "xoxp-"]) + _rand(r, 12, string.digits) + "-"
        + _rand(r, 13, string.digits) + "-" + _rand(r, 24)
    ),
    "aws": lambda fk, r: "AKIA" + _rand(r, 16, string.ascii_uppercase + "234567"),
    "google": lambda fk, r: "AIza" + _rand(r, 35, _B62 + "_-"),
    "huggingface": lambda fk, r: "hf_" + _rand(r, 34, string.ascii_letters),
    "npm": lambda fk, r: "npm_" + _rand(r, 36),
    "sendgrid": lambda fk, r: "SG." + _rand(r, 22, _B62 + "_-") + "." + _rand(r, 43, _B62 + "_-"),
    "jwt": _jwt,
    "private_key": lambda fk, r: _pem(r),
}
_ASSIGNMENT_KEYS = ("password", "DB_PASSWORD", "api_key", "client_secret", "SECRET_KEY",
                    "aws_secret_access_key", "auth_token")  # fmt: skip


def _secret(fk: Faker, rng: random.Random, locale: str) -> tuple[str, str, bool, str]:
    name = rng.choice([*_SECRET_MAKERS, "assignment"])
    if name == "assignment":
        value = _rand(rng, 1) + _rand(rng, rng.randint(11, 39), _B62 + "!#%+-_/")
        return value, "secret:assignment", False, ""
    return _SECRET_MAKERS[name](fk, rng), f"secret:{name}", False, ""


def _nino(rng: random.Random) -> str:
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    while first + second in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
        second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    digits = "".join(rng.choice(string.digits) for _ in range(6))
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{first}{second}{digits}{suffix}"
    return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"


_VD = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)  # fmt: skip
_VP = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)  # fmt: skip
_VINV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def _aadhaar(rng: random.Random) -> str:
    body = str(rng.randint(2, 9)) + "".join(rng.choice(string.digits) for _ in range(10))
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = _VD[c][_VP[(i + 1) % 8][int(ch)]]
    digits = body + str(_VINV[c])
    return f"{digits[:4]} {digits[4:8]} {digits[8:]}"


# locale -> list of (maker, source, needs_context, idname)
_NATIONAL_IDS: dict[str, list[tuple[Callable[[Faker, random.Random], str], str, bool, str]]] = {
    "en_US": [
        (lambda fk, r: fk.ssn(), "ssn_us", False, "SSN"),
        (lambda fk, r: fk.ssn().replace("-", ""), "ssn_us_bare", True, "SSN"),
    ],
    "en_GB": [(lambda fk, r: _nino(r), "nino_gb", False, "National Insurance number")],
    "it_IT": [(lambda fk, r: fk.ssn(), "codice_fiscale_it", False, "codice fiscale")],
    "es_ES": [
        (lambda fk, r: fk.nif(), "dni_es", False, "DNI"),
        (lambda fk, r: fk.nie(), "nie_es", False, "NIE"),
    ],
    "fr_FR": [
        (lambda fk, r: fk.ssn(), "nir_fr", False, "numéro de sécurité sociale"),
        (
            lambda fk, r: (lambda s: f"{s[0]} {s[1:3]} {s[3:5]} {s[5:7]} {s[7:10]} {s[10:13]} "
                           f"{s[13:]}")(fk.ssn()),
            "nir_fr_spaced", False, "NIR",
        ),
    ],
    "de_CH": [(lambda fk, r: fk.ssn(), "ahv_ch", False, "AHV-Nummer")],
    "sv_SE": [(lambda fk, r: fk.ssn(), "personnummer_se", False, "personnummer")],
    "fi_FI": [(lambda fk, r: fk.ssn(), "hetu_fi", False, "henkilötunnus")],
    "pt_BR": [
        (lambda fk, r: fk.cpf(), "cpf_br", False, "CPF"),
        (lambda fk, r: fk.ssn(), "cpf_br_bare", True, "CPF"),
    ],
    "pl_PL": [(lambda fk, r: fk.pesel(), "pesel_pl", True, "PESEL")],
    "nl_NL": [(lambda fk, r: fk.ssn(), "bsn_nl", True, "BSN")],
    "zh_CN": [(lambda fk, r: fk.ssn(), "resident_id_cn", False, "身份证号")],
    "ko_KR": [(lambda fk, r: fk.ssn(), "rrn_kr", False, "주민등록번호")],
    "en_CA": [(lambda fk, r: fk.ssn(), "sin_ca", True, "SIN")],
    "no_NO": [(lambda fk, r: fk.ssn(), "fodselsnummer_no", True, "fødselsnummer")],
    "en_IN": [(lambda fk, r: _aadhaar(r), "aadhaar_in", False, "Aadhaar number")],
}


def _national_id(fk: Faker, rng: random.Random, locale: str) -> tuple[str, str, bool, str]:
    maker, source, needs, idname = rng.choice(_NATIONAL_IDS[locale])
    return maker(fk, rng), f"national_id:{source}", needs, idname


def _email(fk: Faker, rng: random.Random, locale: str) -> tuple[str, str, bool, str]:
    r = rng.random()
    if r < 0.4:
        value = fk.email()
    elif r < 0.6:
        value = fk.free_email()
    elif r < 0.8:
        value = fk.company_email()
    else:
        user, domain = fk.email().split("@")
        value = f"{user}+{rng.choice(['news', 'work', 'x1'])}@{rng.choice(['mail.', ''])}{domain}"
    if rng.random() < 0.1:
        value = value.upper()
    return value, f"email:{locale}", False, ""


_MAKERS = {
    "email": _email,
    "phone": _phone,
    "card": _card,
    "iban": _iban,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "secret": _secret,
    "national_id": _national_id,
}


# ---------------------------------------------------------------------------------------
# Tricky negatives: (lead-in words, value maker).


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choice(string.digits) for _ in range(n - 1))


def _luhn_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _luhn_invalid(rng: random.Random) -> str:
    body = rng.choice("3456") + "".join(rng.choice(string.digits) for _ in range(14))
    good = int(_luhn_check_digit(body))
    digits = body + str((good + rng.randint(1, 9)) % 10)
    return digits if rng.random() < 0.5 else _group(digits, (4, 4, 4, 4), rng.choice(" -"))


def _isbn13(rng: random.Random) -> str:
    body = "978" + "".join(rng.choice(string.digits) for _ in range(9))
    check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
    digits = body + str(check)
    if rng.random() < 0.5:
        return digits
    return f"{digits[:3]}-{digits[3]}-{digits[4:7]}-{digits[7:12]}-{digits[12]}"


def _isbn10(rng: random.Random) -> str:
    body = "".join(rng.choice(string.digits) for _ in range(9))
    check = sum((10 - i) * int(c) for i, c in enumerate(body)) % 11
    c = (11 - check) % 11
    digits = body + ("X" if c == 10 else str(c))
    if rng.random() < 0.5:
        return digits
    return f"{digits[0]}-{digits[1:4]}-{digits[4:9]}-{digits[9]}"


def _date(rng: random.Random) -> str:
    y, m, d = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
    hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice([
        f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{m:02d}/{d:02d}/{y}",
        f"{d}/{m}/{y % 100:02d}", f"{y}/{m:02d}/{d:02d}", f"{y}{m:02d}{d:02d}",
        f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z",
        f"{y}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}",
        f"{d:02d}-{m:02d}-{y} {hh:02d}:{mm:02d}:{ss:02d}", f"{hh:02d}:{mm:02d}:{ss:02d}.{d:03d}",
        f"{d:02d}.{m:02d}.{y % 100:02d} {hh:02d}:{mm:02d}",
    ])  # fmt: skip


def _version(rng: random.Random) -> tuple[str, str]:
    a, b, c, d = (rng.randint(0, 20) for _ in range(4))
    return rng.choice([
        ("version", f"{a}.{b}.{c}"), ("upgrade to v", f"{a}.{b}.{c}.{d}"),
        ("Version", f"{a}.{b}.{c}.{d}"), ("firmware", f"{a}.{b}.{c}.{rng.randint(0, 255)}"),
        ("build", f"{a}.{b}.{c}.{rng.randint(1000, 30000)}"),
        ("user agent Chrome/", f"{rng.randint(90, 130)}.0.{rng.randint(1000, 6999)}.{d}"),
        ("Chrome/", f"{rng.randint(90, 130)}.0.0.{d}"),
        ("released", f"{a}.{b}.{c}-rc.{d}+build.{rng.randint(1, 99)}"),
        ("see section", f"{a + 1}.{b}.{c}.{d}"), ("requires Python", f"3.{b}.{c}"),
    ])  # fmt: skip


def _version_text(rng: random.Random) -> str:
    lead, value = _version(rng)
    return lead + value if lead.endswith(("/", "v")) else f"{lead} {value}"


_HEX = "0123456789abcdef"


def _order(r: random.Random) -> str:
    return r.choice([
        _digits(r, r.randint(6, 12)), f"ORD-{_digits(r, 8)}", f"#{_digits(r, 7)}",
        f"{_digits(r, 3)}-{_digits(r, 7)}-{_digits(r, 7)}", f"{_digits(r, 4)}-{_digits(r, 4)}",
        f"INV-{r.randint(2015, 2030)}-{_digits(r, 5)}",
    ])  # fmt: skip


def _tracking(r: random.Random) -> str:
    return r.choice([
        "1Z" + _rand(r, 6, string.ascii_uppercase + string.digits) + _digits(r, 10),
        _group("94" + _digits(r, 20), (4,) * 6, " "),
        _digits(r, 12),
    ])  # fmt: skip


def _hash(r: random.Random) -> str:
    return _rand(r, r.choice([7, 32, 40, 64]), _HEX)


def _math(r: random.Random) -> str:
    a, b, c = r.randint(1, 99), r.randint(1, 99), r.randint(1, 9)
    return r.choice([
        f"{a} * ({b} + {c}) = {a * (b + c)}",
        f"{a * 10} - {b} - {c} = {a * 10 - b - c}",
        f"2^{b} = {2 ** b}",
        f"{c}/{c + 1} + 1/3",
        f"{r.random() * 1000:.10f}",
        f"{c}.{_digits(r, 12)}e-{b}",
    ])  # fmt: skip


def _price(r: random.Random) -> str:
    a, b, c = r.randint(1, 99), r.randint(100, 999), r.randint(100, 999)
    return r.choice([
        f"${a},{b}.{r.randint(10, 99)}",
        f"€{a}.{b},00",
        f"{c % 9 + 1} {b} {c},00 €",
        f"USD {a},{b},{c}.00",
        f"{a},{b},{c} views",
    ])  # fmt: skip


def _year_range(r: random.Random) -> str:
    a = r.randint(1950, 2020)
    return f"{a}{r.choice(['-', '–', ' - ', '/'])}{a + r.randint(1, 12)}"


def _coordinates(r: random.Random) -> str:
    lat, lon = r.uniform(-90, 90), r.uniform(-180, 180)
    d = [r.randint(0, 59) for _ in range(6)]
    return r.choice([
        f"{lat:.4f}, {lon:.4f}",
        f"{lat:.6f},{lon:.6f}",
        f"{d[0]}°{d[1]}′{d[2]}″N {d[3] + 100}°{d[4]}′{d[5]}″W",
    ])  # fmt: skip


def _base64_blob(r: random.Random) -> str:
    raw = bytes(r.randrange(256) for _ in range(r.randint(20, 90)))
    blob = base64.b64encode(raw).decode()
    return r.choice([blob, "data:image/png;base64,iVBORw0KGgo" + blob])


def _mac_and_code(r: random.Random) -> str:
    h, m, sec = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
    return r.choice([
        ":".join(f"{r.randrange(256):02X}" for _ in range(6)),
        "std::vector<int>",
        f"arr[{r.randint(1, 9)}::{r.randint(2, 9)}]",
        "a[::-1]",
        f"{h:02d}:{m:02d}:{sec:02d}",
        f"{h:02d}:{m:02d}-{(h + 8) % 24:02d}:{sec:02d}",
        "Vec::new()",
        f"ratio {h % 9 + 1}:{m % 9 + 1}:{sec % 9 + 1}",
    ])  # fmt: skip


def _postal_and_counts(r: random.Random) -> str:
    a, b, c = r.randint(10, 99), r.randint(100, 999), r.randint(100, 999)
    return r.choice([
        f"{_digits(r, 5)}-{_digits(r, 4)}",
        f"0{_digits(r, 4)}-{_digits(r, 4)}",
        f"{a} {a + 1} {a - 1}",
        f"{a % 9 + 1} {b} {c}",
        f"{r.randint(640, 3840)}x{r.randint(480, 2160)}",
        f"{a}.{b}.{c}",
    ])  # fmt: skip


def _placeholder_key(r: random.Random) -> str:
    return r.choice([
        "sk-" + "X" * 48, "ghp_" + "x" * 36, "AKIA" + "X" * 16, "api_key=<YOUR_API_KEY>",
        "token=${GITHUB_TOKEN}", "password: ********", "sk-learn-compatible-estimator-wrapper",
        "max_tokens=4096", "password = os.environ['DB_PASSWORD']", "secret_key=None",
    ])  # fmt: skip


def _not_an_email(r: random.Random) -> str:
    return r.choice([
        f"icon@{r.randint(2, 3)}x.png",
        f"@{_rand(r, 8, string.ascii_lowercase)}_{r.randint(1, 99)}",
        f"react@{r.randint(16, 19)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
        "user@localhost",
        f"logo@{r.randint(2, 3)}x.jpg",
    ])  # fmt: skip


def _invalid_checksum_id(r: random.Random) -> str:
    return r.choice([
        "DE" + f"{r.randint(0, 1):02d}" + _digits(r, 18),  # check digits 00/01 never occur
        f"000-{_digits(r, 2)}-{_digits(r, 4)}",
        f"{r.randint(100, 665)}-00-{_digits(r, 4)}",
        f"666-{_digits(r, 2)}-{_digits(r, 4)}",
        "GB00" + _rand(r, 4, string.ascii_uppercase) + _digits(r, 14),
    ])  # fmt: skip


_NEGATIVES: dict[str, tuple[tuple[str, ...], Callable[[random.Random], str]]] = {
    "order_number": (
        ("Order", "order number", "Invoice", "Ticket #", "Your order", "Bestellnummer"),
        _order,
    ),
    "date": (("on", "Date", "since", "updated", "due by", "timestamp"), _date),
    "isbn": (("ISBN", "ISBN-13", "book", "ISBN:"), lambda r: r.choice([_isbn13(r), _isbn10(r)])),
    "uuid": (
        ("request id", "uuid", "trace", "session"),
        lambda r: str(uuid.UUID(int=r.getrandbits(128))),
    ),
    "luhn_invalid_card_like": (("customer id", "ref", "member no", "id"), _luhn_invalid),
    "tracking": (("tracking number", "UPS", "parcel", "shipment"), _tracking),
    "hash": (("sha256", "commit", "checksum", "md5", "git rev", "digest"), _hash),
    "math": (("compute", "the answer to", "solve", "result:"), _math),
    "price": (("price", "total", "it costs", "budget"), _price),
    "year_range": (("the years", "from", "between", "period"), _year_range),
    "coordinates": (("coordinates", "located at", "GPS", "lat/lon"), _coordinates),
    "version": (("",), _version_text),
    "base64_blob": (("attachment", "data", "payload", "image"), _base64_blob),
    "mac_and_code": (("MAC", "code", "snippet", "see"), _mac_and_code),
    "postal_and_counts": (
        ("ZIP", "postcode", "qty", "room", "population", "resolution"),
        _postal_and_counts,
    ),
    "placeholder_key": (("set", "replace", "example:", "your key looks like"), _placeholder_key),
    "not_an_email": (("use", "asset", "follow", "install"), _not_an_email),
    "invalid_checksum_ids": (("IBAN", "SSN", "account", "IBAN:"), _invalid_checksum_id),
}


# ---------------------------------------------------------------------------------------


class _Renderer:
    """Fill a template, keeping the offsets of ``{v}``."""

    _FIELD = re.compile(r"\{\{|\}\}|\{(\w+)\}")

    def __init__(self, fk: Faker, rng: random.Random) -> None:
        self.fk = fk
        self.rng = rng

    def filler(self, name: str) -> str:
        fk, rng = self.fk, self.rng
        if name == "name":
            return fk.name()
        if name == "city":
            return fk.city()
        if name == "company":
            return fk.company()
        if name == "date":
            return _date(rng)
        if name == "order":
            return _NEGATIVES["order_number"][1](rng)
        if name == "version":
            return _version_text(rng)
        raise KeyError(name)

    def render(self, template: str, values: dict[str, str]) -> tuple[str, dict[str, int]]:
        out: list[str] = []
        offsets: dict[str, int] = {}
        pos = 0
        length = 0
        for m in self._FIELD.finditer(template):
            out.append(template[pos : m.start()])
            length += m.start() - pos
            token = m.group()
            if token in ("{{", "}}"):
                piece = token[0]
            elif m.group(1) in values:
                offsets[m.group(1)] = length
                piece = values[m.group(1)]
            else:
                piece = self.filler(m.group(1))
            out.append(piece)
            length += len(piece)
            pos = m.end()
        out.append(template[pos:])
        return "".join(out), offsets


def _positive(
    kind: str, split: str, fk: Faker, rng: random.Random, locale: str
) -> Sample | None:
    made = _MAKERS[kind](fk, rng, locale)
    if made is None:
        return None
    value, source, needs_context, idname = made
    templates = _POSITIVE_TEMPLATES[split][kind]
    cue = templates.get("cue", [])
    pool = cue if needs_context else templates["any"] + cue
    template = rng.choice(pool)
    renderer = _Renderer(fk, rng)
    if source == "secret:assignment":
        key = rng.choice(_ASSIGNMENT_KEYS)
        template = rng.choice([f"{key}={{v}}", f'{key}: "{{v}}"', f"{key} = '{{v}}'"])
        if split == "heldback":
            template = rng.choice([f'{{{{"{key}": "{{v}}"}}}}', f"{{date}} DEBUG {key}={{v}}"])
    text, offsets = renderer.render(template, {"v": value, "idname": idname})
    start = offsets["v"]
    span = Span(kind, start, start + len(value), value, source)
    return Sample(text, (span,), source)


def _mixed(
    split: str, fk: Faker, rng: random.Random, locale: str, card_fk: Faker
) -> Sample | None:
    """Two or three kinds in one text, and a tricky negative between them."""
    kinds = rng.sample([k for k in KINDS if k != "national_id" or locale in _NATIONAL_IDS], 2)
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for kind in kinds:
        made = _MAKERS[kind](card_fk if kind == "card" else fk, rng, locale)
        if made is None or made[2] or made[1] == "secret:assignment":
            return None
        values[kind], sources[kind] = made[0], made[1]
    neg_name = rng.choice(sorted(_NEGATIVES))
    lead, make = _NEGATIVES[neg_name]
    negative = f"{rng.choice(lead)} {make(rng)}".strip()
    a, b = kinds
    if split == "main":
        template = rng.choice([
            f"Hi, it's {{name}}. {{{a}}} or {{{b}}}. (re: {{neg}})",
            f"{{{a}}}; {{neg}}; {{{b}}}",
            f"Details — {{{a}}}, {{neg}}, and also {{{b}}}.",
        ])  # fmt: skip
    else:
        template = rng.choice([
            f'{{{{"a": "{{{a}}}", "note": "{{neg}}", "b": "{{{b}}}"}}}}',
            f"{{date}} INFO {{{a}}} | {{neg}} | {{{b}}}",
        ])  # fmt: skip
    values["neg"] = negative
    text, offsets = _Renderer(fk, rng).render(template, values)
    spans = tuple(
        sorted(
            (Span(k, offsets[k], offsets[k] + len(values[k]), values[k], sources[k])
             for k in kinds),
            key=lambda s: s.start,
        )
    )
    return Sample(text, spans, f"mixed:{a}+{b}+negative:{neg_name}")


def _negative(split: str, name: str, fk: Faker, rng: random.Random) -> Sample:
    leads, make = _NEGATIVES[name]
    value = make(rng)
    lead = rng.choice(leads)
    template = rng.choice(_NEGATIVE_TEMPLATES[split])
    text, _ = _Renderer(fk, rng).render(template, {"v": value, "lead": lead})
    return Sample(text.strip(), (), f"negative:{name}")


def _seed_for(seed: int, *parts: str) -> int:
    return zlib.crc32("/".join((str(seed), *parts)).encode())


def build_corpus(
    seed: int,
    n_per_kind: int,
    locales: Iterable[str] = DEFAULT_LOCALES,
    split: str = "main",
) -> list[Sample]:
    """Build a seeded, deterministic corpus.

    Parameters
    ----------
    seed
        Seeds every Faker instance and the template choices.
    n_per_kind
        Positive samples per kind (one span each); the corpus also holds ``n_per_kind // 2``
        samples with two kinds and ``max(10, n_per_kind // 4)`` negatives per negative type.
    locales
        Faker locales for e-mail, phone numbers and national ids (ids only for locales
        with a checkable format, see the module docstring). IBANs use these locales and a
        fixed list of further IBAN countries.
    split
        ``"main"`` or ``"heldback"``: the set of carrier templates.

    """
    if split not in _POSITIVE_TEMPLATES:
        raise ValueError(f"unknown split {split!r}")
    locales = tuple(locales)
    fakers = {}
    for loc in (*locales, *_EXTRA_IBAN_LOCALES):
        if loc not in fakers:
            fk = Faker(loc)
            fk.seed_instance(_seed_for(seed, loc))
            fakers[loc] = fk
    fakers["cards"] = Faker("en_US")  # card providers of every scheme
    fakers["cards"].seed_instance(_seed_for(seed, "cards"))
    rng = random.Random(_seed_for(seed, split))
    id_locales = [loc for loc in locales if loc in _NATIONAL_IDS]
    iban_locales = [loc for loc in (*locales, *_EXTRA_IBAN_LOCALES) if loc in _IBAN_LOCALES]
    samples: list[Sample] = []
    for kind in KINDS:
        pool = {"national_id": id_locales, "iban": iban_locales}.get(kind, list(locales))
        if not pool:
            continue
        made = 0
        while made < n_per_kind:
            loc = pool[made % len(pool)] if kind != "card" else "cards"
            sample = _positive(kind, split, fakers[loc], rng, loc)
            if sample is not None:
                samples.append(sample)
                made += 1
    made = 0
    while made < n_per_kind // 2:
        loc = rng.choice(id_locales or locales)
        sample = _mixed(split, fakers[loc], rng, loc, fakers["cards"])
        if sample is not None:
            samples.append(sample)
            made += 1
    fk = fakers[locales[0]]
    for name in sorted(_NEGATIVES):
        for _ in range(max(10, n_per_kind // 4)):
            samples.append(_negative(split, name, fk, rng))
    return samples


def score(
    samples: Sequence[Sample], find: Callable[[str], Iterable[tuple[str, int, int]]]
) -> dict[str, dict[str, float]]:
    """Span-level precision and recall per kind.

    A found span is correct when it overlaps an expected span of the same kind; an
    expected span is recalled when a found span of its kind overlaps it.

    Parameters
    ----------
    samples
        From :func:`build_corpus`.
    find
        ``text -> iterable of (kind, start, end)``.

    Returns
    -------
    dict
        ``kind -> {"expected", "found", "correct", "recalled", "precision", "recall"}``;
        precision is 1.0 when nothing was found and recall 1.0 when nothing was expected.

    """
    counts = {k: {"expected": 0, "found": 0, "correct": 0, "recalled": 0} for k in KINDS}
    for sample in samples:
        found = list(find(sample.text))
        for kind, start, end in found:
            c = counts.setdefault(kind, {"expected": 0, "found": 0, "correct": 0, "recalled": 0})
            c["found"] += 1
            if any(s.kind == kind and s.start < end and start < s.end for s in sample.spans):
                c["correct"] += 1
        for s in sample.spans:
            counts[s.kind]["expected"] += 1
            if any(k == s.kind and st < s.end and s.start < en for k, st, en in found):
                counts[s.kind]["recalled"] += 1
    result: dict[str, dict[str, float]] = {}
    for kind, c in counts.items():
        result[kind] = {
            **c,
            "precision": c["correct"] / c["found"] if c["found"] else 1.0,
            "recall": c["recalled"] / c["expected"] if c["expected"] else 1.0,
        }
    return result
