"""Check digits and masking for Chinese identifiers (data-standards §1), in plain Python.

python-stdnum's `cn.uscc` rejects valid codes that start with A, N or Y, so the USCC rules are
implemented here from GB 32100-2015 and tested against the reference examples.
"""

from __future__ import annotations

import hashlib
import hmac
import re

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
USCC_PLACEHOLDER = "00000000000000000X"  # 个体工商户 without a USCC (data-standards §1)

ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
ORG_CODE_RE = re.compile(r"^[0-9A-Z]{8}-?[0-9X]$")

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
ID18_RE = re.compile(r"^\d{17}[\dX]$")
ID15_RE = re.compile(r"^\d{15}$")
MASKED_ID_RE = re.compile(r"^[\dX]{2,6}\*{4,}[\dX]{0,6}$")


def uscc_format_ok(code: str | None) -> bool:
    """True when code has the USCC shape (alphabet and positions); says nothing of the check digit."""
    return bool(code) and USCC_RE.match(code) is not None


def uscc_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a USCC."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_check_digit_ok(code: str | None) -> bool:
    """True when a well-formed USCC carries the right check character (position 18)."""
    return uscc_format_ok(code) and uscc_check_char(code[:17]) == code[17]  # type: ignore[index]


def is_uscc_placeholder(code: str | None) -> bool:
    """True for the 个体工商户 placeholder that stands for "no code"."""
    return code == USCC_PLACEHOLDER


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character for an 8-character organisation code body."""
    total = sum(int(ch, 36) * w for ch, w in zip(body8, ORG_CODE_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def org_code_ok(code: str | None) -> bool:
    """True when a GB 11714 organisation code (with or without its hyphen) has the right check char."""
    if not code or not ORG_CODE_RE.match(code):
        return False
    plain = code.replace("-", "")
    return org_code_check_char(plain[:8]) == plain[8]


def uscc_org_code_ok(code: str) -> bool:
    """Secondary USCC check: characters 9-17 form a valid GB 11714 organisation code."""
    return uscc_format_ok(code) and org_code_ok(code[8:17])


def make_uscc(prefix2: str, region6: str, org_body8: str) -> str:
    """Build a valid USCC from its parts (used by the stand-ins and tests)."""
    org = org_body8 + org_code_check_char(org_body8)
    first17 = prefix2 + region6 + org
    return first17 + uscc_check_char(first17)


def id_number_check_char(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of a citizen ID number."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_number_ok(number: str | None) -> bool:
    """True for an 18-character ID with the right check char, or a 15-digit legacy number."""
    if not number:
        return False
    number = number.upper()
    if ID15_RE.match(number):
        return True
    return bool(ID18_RE.match(number)) and id_number_check_char(number[:17]) == number[17]


def is_masked_id(number: str | None) -> bool:
    """True for an already-masked number as published lists carry them (e.g. 3301**********1234)."""
    return bool(number) and MASKED_ID_RE.match(number) is not None


def mask_id_number(number: str | None) -> str | None:
    """Mask a personal ID number for display: keep the first 4 and last 4 characters."""
    if not number:
        return number
    if is_masked_id(number) or len(number) <= 8:
        return number if is_masked_id(number) else "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def personal_id_cipher(key: bytes):
    """The Fernet cipher that keeps personal ID numbers in protected.personal_id (derived from the hub secret)."""
    import base64

    from cryptography.fernet import Fernet

    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"ggzy-personal-id:" + key).digest()))


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of an identifier, so records can be matched without storing the number."""
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
