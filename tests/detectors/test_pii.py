import pytest

from detectors.pii import PiiMatch, find_pii, pii_kinds, redact


def kinds_and_spans(text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_pii(text)]


@pytest.mark.parametrize(
    "text",
    [
        "reach me at jane.doe+news@mail.example.co.uk today",
        "EMAIL: J_SMITH99@EXAMPLE.ORG",
    ],
)
def test_email_is_detected_with_exact_span(text: str) -> None:
    found = kinds_and_spans(text)
    assert len(found) == 1
    assert found[0][0] == "email"
    assert "@" in found[0][1] and not found[0][1].endswith(" ")


def test_email_span_excludes_trailing_sentence_period() -> None:
    assert kinds_and_spans("Write to a@example.com.") == [("email", "a@example.com")]


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "(415) 555-2671",
        "415-555-2671",
        "+1 415 555 2671",
        "415.555.2671",
        "+14155552671",
        "+44 (0)20 7946 0958",
        "020 7946 0958",
    ],
)
def test_phone_formats_are_detected_whole(phone: str) -> None:
    assert kinds_and_spans(f"call {phone} now") == [("phone", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "released 2024-01-15 at 10:30",
        "upgrade to version 1.2.3 or 10.4.12",
        "order number 123456789012 shipped",
        "invoice 2023/11/05, qty 12 34",
        "the years 1999-2004 were good",
    ],
)
def test_dates_versions_and_order_numbers_are_not_phones(text: str) -> None:
    assert find_pii(text) == []


def test_luhn_valid_card_is_detected_and_redacted() -> None:
    text = "card 4111 1111 1111 1111 exp 12/27"
    assert kinds_and_spans(text) == [("card", "4111 1111 1111 1111")]
    assert redact(text) == "card [REDACTED:card] exp 12/27"


@pytest.mark.parametrize(
    "card", ["4111111111111111", "5555-5555-5555-4444", "378282246310005", "3782 822463 10005"]
)
def test_card_formats_with_valid_checksum_are_detected(card: str) -> None:
    assert kinds_and_spans(f"pay with {card}.") == [("card", card)]


def test_luhn_invalid_card_is_not_detected() -> None:
    assert find_pii("card 4111 1111 1111 1112") == []
    assert find_pii("card 4111111111111112") == []


def test_iban_with_valid_checksum_is_detected_compact_and_spaced() -> None:
    assert kinds_and_spans("IBAN GB82WEST12345698765432") == [("iban", "GB82WEST12345698765432")]
    spaced = "GB82 WEST 1234 5698 7654 32"
    assert kinds_and_spans(f"to {spaced} please") == [("iban", spaced)]


def test_iban_with_one_mutated_digit_is_not_detected() -> None:
    assert find_pii("IBAN GB82WEST12345698765433") == []
    assert find_pii("IBAN GB83WEST12345698765432") == []


def test_ipv4_requires_each_octet_at_most_255() -> None:
    assert kinds_and_spans("from 192.168.1.256 and 10.0.0.255") == [("ipv4", "10.0.0.255")]


@pytest.mark.parametrize("addr", ["2001:db8::1", "fe80::1ff:fe23:4567:890a", "::ffff:192.0.2.1"])
def test_ipv6_addresses_validated_by_ipaddress_are_detected(addr: str) -> None:
    assert kinds_and_spans(f"host {addr} is up") == [("ipv6", addr)]


@pytest.mark.parametrize("text", ["at 12:30:45 sharp", "std::vector<int>", "MAC 00:1A:2B:3C:4D:5E"])
def test_times_cpp_scopes_and_mac_addresses_are_not_ipv6(text: str) -> None:
    assert [m.kind for m in find_pii(text)] == []


@pytest.mark.parametrize(
    "secret",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2" * 9,
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
        "rk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
        "sk-proj-" + "abcDEF123" * 4,
        "AIza" + "SyD-abcdefghijklmnopqrstuvwxyz01234",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_api_keys_and_tokens_are_secrets(secret: str) -> None:
    assert kinds_and_spans(f"token={secret} end") == [("secret", secret)]


def test_private_key_block_is_one_secret_from_begin_to_end() -> None:
    block = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\nq1w==\n-----END RSA PRIVATE KEY-----"
    )
    text = f"key:\n{block}\nthanks"
    assert redact(text) == "key:\n[REDACTED:secret]\nthanks"


def test_truncated_private_key_is_redacted_up_to_its_body() -> None:
    text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ\nthat is all"
    assert redact(text) == "[REDACTED:secret]\nthat is all"


def test_valid_ssn_is_national_id_and_invalid_areas_groups_serials_are_not() -> None:
    assert kinds_and_spans("SSN 123-45-6789") == [("national_id", "123-45-6789")]
    for bad in ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"]:
        assert find_pii(f"SSN {bad}") == [], bad


@pytest.mark.parametrize("nino", ["QQ123456C", "AB 12 34 56 C", "JG103759A"])
def test_uk_national_insurance_numbers_are_detected(nino: str) -> None:
    assert kinds_and_spans(f"NI {nino}.") == [("national_id", nino)]


def test_nino_with_invalid_prefix_or_suffix_is_not_detected() -> None:
    assert find_pii("GB123456A") == []
    assert find_pii("AB123456E") == []


def test_overlapping_candidates_keep_longest_match_only() -> None:
    # The e-mail's local part is a valid SSN; the IPv6 address embeds an IPv4 address.
    text = "123-45-6789@example.com via ::ffff:192.0.2.1"
    assert kinds_and_spans(text) == [
        ("email", "123-45-6789@example.com"),
        ("ipv6", "::ffff:192.0.2.1"),
    ]


def test_matches_are_returned_in_text_order_with_offsets() -> None:
    text = "10.0.0.1 then a@b.io"
    assert find_pii(text) == [PiiMatch("ipv4", 0, 8), PiiMatch("email", 14, 20)]


def test_redact_replaces_every_kind_and_keeps_other_text() -> None:
    text = "a@b.io, 415-555-2671, 10.0.0.1, 123-45-6789"
    assert redact(text) == (
        "[REDACTED:email], [REDACTED:phone], [REDACTED:ipv4], [REDACTED:national_id]"
    )


def test_pii_kinds_returns_set_of_kinds() -> None:
    assert pii_kinds("a@b.io and c@d.io from 10.0.0.1") == frozenset({"email", "ipv4"})
    assert pii_kinds("nothing to see") == frozenset()


@pytest.mark.parametrize(
    "unit",
    ["a", "1", "@", ".", ":", "-", " 1", "1.", "a@", "+1 ", "eyJ", "1.1.1.1 ", "-----BEGIN "],
)
def test_a_quarter_megabyte_of_a_repeated_unit_completes(unit: str) -> None:
    text = unit * (250_000 // len(unit))  # growth with size: test_linear_time.py
    matches = find_pii(text)
    redacted = redact(text)
    assert isinstance(matches, list)
    assert len(redacted) >= len(text) - sum(m.end - m.start for m in matches)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("call me at 3420837783 tonight", "3420837783"),
        ("Mobile: 609 141 777", "609 141 777"),
        ("電話番号は080-9141-7776です。", "080-9141-7776"),
        ("Telefon +49 (0) 9141 777631", "+49 (0) 9141 777631"),
        ("my number is 91 41 77 76", "91 41 77 76"),
        ("office 206.269.0743x9150", "206.269.0743x9150"),
    ],
)
def test_phone_numbers_in_national_formats_are_found_with_a_phone_word(
    text: str, number: str
) -> None:
    assert kinds_and_spans(text) == [("phone", number)]


@pytest.mark.parametrize(
    "text",
    [
        "see 3420837783 for details",  # a bare digit run without a phone word
        "call us about order 3420837783",  # a reference word wins over the phone word
        "call me on 2024-01-15 or 15.01.2024",
        "ZIP 02134-1234",
        "tracking number 9400 1000 0000 0000 0000 00",
    ],
)
def test_digit_runs_without_phone_context_are_not_phones(text: str) -> None:
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "text", ["upgrade to v1.2.3.4 now", "Version 10.0.0.1", "Chrome/120.0.0.1", "section 4.2.1.3"]
)
def test_four_part_versions_and_sections_are_not_ipv4(text: str) -> None:
    assert find_pii(text) == []


def test_ipv4_after_a_plain_word_is_still_found() -> None:
    assert kinds_and_spans("server 1.2.3.4 is down") == [("ipv4", "1.2.3.4")]


@pytest.mark.parametrize(
    "nid",
    [
        "RSSMRA85T10A562S",  # codice fiscale
        "12345678Z",  # DNI
        "X1234567L",  # NIE
        "756.9217.0769.85",  # AHV
        "811218-9876",  # personnummer
        "131052-308T",  # HETU
        "111.444.777-35",  # CPF
        "11010519491231002X",  # Chinese resident id
        "2345 6789 0124",  # Aadhaar (Verhoeff)
    ],
)
def test_national_ids_with_a_check_are_found(nid: str) -> None:
    assert kinds_and_spans(f"id {nid} ok") == [("national_id", nid)]


def test_bare_national_id_digits_need_the_id_word() -> None:
    assert kinds_and_spans("BSN 111222333") == [("national_id", "111222333")]
    assert kinds_and_spans("PESEL 44051401359") == [("national_id", "44051401359")]
    assert find_pii("batch 111222333 and 44051401359") == []


def test_twelve_digits_valid_as_maestro_and_aadhaar_follow_the_card_word() -> None:
    # 6763 1817 9097 passes both the Luhn (Maestro) and the Verhoeff (Aadhaar) check.
    assert [m.kind for m in find_pii("card 6763 1817 9097 expires")] == ["card"]
    assert [m.kind for m in find_pii("id 6763 1817 9097 ok")] == ["national_id"]


@pytest.mark.parametrize(
    "text",
    [
        "sk-" + "X" * 48,
        "ghp_" + "x" * 36,
        "pip install sk-learn-compatible-estimator-wrapper",
        "api_key=<YOUR_API_KEY>",
        "password: ********",
        "max_tokens=4096",
        "token=${GITHUB_TOKEN}",
        "use icon@2x.png here",
        "card 4111 1111 1111 1111 1",  # 17 digits in these groups is no card
    ],
)
def test_placeholders_and_lookalikes_are_not_pii(text: str) -> None:
    assert find_pii(text) == []


def test_assigned_password_value_is_redacted_and_the_key_name_kept() -> None:
    assert redact('DB_PASSWORD="hunter2x!"') == 'DB_PASSWORD="[REDACTED:secret]"'
    assert redact("Authorization: Bearer abcDEF123456ghiJKL7890") == (
        "Authorization: Bearer [REDACTED:secret]"
    )


def test_pgp_private_key_block_is_a_secret() -> None:
    block = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----"
    assert redact(f"x\n{block}\ny") == "x\n[REDACTED:secret]\ny"


@pytest.mark.parametrize("text", [
    "tokenizer = AutoTokenizer.from_pretrained(model_name)",
    "function setPassword(string memory newPassword) external { s_password = newPassword; }",
    'ocr = [{"text":"91480041","coords":[[53,389],[124,372]]}]',
    "config.api_key = settings.openai_api_key",
])
def test_code_and_json_seen_in_real_prompts_are_not_pii(text: str) -> None:
    assert find_pii(text) == []
