"""Agent passwords, stored only as scrypt hashes: ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64 parts).

The cost (n = 2**15, r = 8: 32 MiB and about a tenth of a second per check) is stored with each hash, so it can be
raised later without invalidating existing passwords.
"""

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

SCHEME = "scrypt"
COST_N, BLOCK_SIZE_R, PARALLEL_P = 2**15, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * n * r * p + 2**20, dklen=KEY_BYTES)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, COST_N, BLOCK_SIZE_R, PARALLEL_P)
    return f"{SCHEME}${COST_N}${BLOCK_SIZE_R}${PARALLEL_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``, compared in constant time; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, base64.b64decode(key))
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=1)
def unusable_hash() -> str:
    """Checked when nobody has the user name, so an unknown name takes as long to refuse as a wrong password."""
    return hash_password(secrets.token_urlsafe(32))


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or ``None``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"use at most {MAX_PASSWORD_LENGTH} characters"
    return None
