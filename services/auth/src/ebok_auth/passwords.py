"""Passwords: the policy (terms I.3 and more), argon2id hashing off the event loop, generation.

Passwords are NFKC-normalised before checking and hashing (NIST SP 800-63B 5.1.1.2), so the
same password typed on another keyboard layout or device verifies.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import string
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from .settings import AuthSettings

MIN_LENGTH = 8
MAX_LENGTH = 256  # "up to at least 128": we take 256 characters


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def _common() -> frozenset[str]:
    # zxcvbn ships the 30 000 most common leaked passwords; we add Polish favourites.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    polish = {
        "haslo",
        "haslo1",
        "haslo123",
        "haslo1234",
        "polska",
        "polska1",
        "polska123",
        "warszawa",
        "warszawa1",
        "warszawa123",
        "zaq12wsx",
        "qwerty123",
        "kochanie",
        "kochanie1",
        "mpwik",
        "mpwik123",
        "ebok",
        "ebok123",
        "woda123",
        "wodociagi",
    }
    return frozenset(FREQUENCY_LISTS["passwords"]) | polish


# Words of e-BOK's own context (NIST SP 800-63B 5.1.1.2: "context-specific words"): the
# utility's name and its abbreviation, the city, the service, and water words; folded as
# `_fold` folds (lower case, no diacritics). Listed as stems: "wodociag" covers wodociągi,
# wodociągów; "warszaw" covers Warszawa, Warszawie.
CONTEXT_WORDS = (
    "miejskie",
    "przedsiebiorstwo",
    "przedsiebiorstwa",
    "wodociag",
    "kanalizac",
    "mpwik",
    "warszaw",
    "starynkiewicza",
    "ebok",
    "biuroobslugi",
    "wodomierz",
    "sciek",
    "woda",
    "wody",
    "kran",
    "hydrant",
)
# A password is refused when, with context words, digits and punctuation taken out, fewer
# letters than this remain: "Wodociagi1" and "Mpwik2024!" are refused; a phrase that merely
# mentions water ("Moja-Woda-Jest-Czysta-7") is not.
CONTEXT_REMAINDER = 4


def _fold(text: str) -> str:
    """Lower case without diacritics ("Wodociągów" → "wodociagow"; ł has no decomposition)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ł", "l"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def built_on_context_words(password: str) -> bool:
    letters = "".join(ch for ch in _fold(normalise(password)) if ch.isalpha())
    found = False
    for word in sorted(CONTEXT_WORDS, key=len, reverse=True):
        if word in letters:
            found = True
            letters = letters.replace(word, "")
    return found and len(letters) < CONTEXT_REMAINDER


def policy_violations(password: str, login: str) -> list[str]:
    """Each rule the password breaks, in Polish; empty when it is acceptable."""
    pw = normalise(password)
    broken = []
    if len(pw) < MIN_LENGTH:
        broken.append(f"hasło musi mieć co najmniej {MIN_LENGTH} znaków")
    if len(pw) > MAX_LENGTH:
        broken.append(f"hasło może mieć najwyżej {MAX_LENGTH} znaków")
    if not any(ch.isupper() for ch in pw):
        broken.append("hasło musi zawierać co najmniej jedną wielką literę")
    if not any(unicodedata.category(ch) == "Nd" for ch in pw):
        broken.append("hasło musi zawierać co najmniej jedną cyfrę")
    low = pw.casefold()
    if login and login.casefold() in low:
        broken.append("hasło nie może być równe loginowi ani go zawierać")
    if low in _common() or low.rstrip(string.punctuation) in _common():
        broken.append("hasło jest zbyt popularne (znajduje się na liście często używanych haseł)")
    elif built_on_context_words(pw):
        broken.append(
            "hasło nie może opierać się na nazwie Spółki, miasta, e-BOK ani słowach związanych "
            "z wodą i kanalizacją"
        )
    return broken


# Characters people confuse when they copy a password by hand (0/O/o, 1/l/I) are left out.
GENERATED_ALPHABET = (
    "".join(c for c in string.ascii_letters + string.digits if c not in "0Oo1lI") + "!@#$%&*-_=+?"
)


def generate(length: int = 16) -> str:
    """A random password that passes the policy (for activation and new operators)."""
    alphabet = GENERATED_ALPHABET
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.isupper() for c in pw)
            and any(c.islower() for c in pw)
            and any(c.isdigit() for c in pw)
            and any(c in "!@#$%&*-_=+?" for c in pw)
        ):
            return pw


class Hasher:
    """argon2id in a small thread pool: hashing takes tens of milliseconds of CPU on purpose,
    and the event loop must keep serving meanwhile. argon2-cffi releases the GIL."""

    def __init__(self, settings: AuthSettings) -> None:
        self._ph = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=argon2.Type.ID,
        )
        threads = settings.hashing_threads or os.cpu_count() or 2
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        # Verified against when the login is unknown, so every answer costs the same.
        self._dummy = self._ph.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._ph.hash, normalise(password))

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if ``password`` matches ``stored``; with no stored hash, the same work is done
        against a dummy hash and False returned."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, self._verify_sync, stored, normalise(password)
        )

    def _verify_sync(self, stored: str | None, password: str) -> bool:
        try:
            return self._ph.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._ph.check_needs_rehash(stored)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
