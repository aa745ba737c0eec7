"""The callback crypto of §7.2, on bytes. No I/O.

DingTalk encrypts each event push with AES-256-CBC under a key derived from the 43-character
``aes_key`` and signs it with SHA-1 over the sorted ``token``, timestamp, nonce and
ciphertext. The plaintext inside is ``random16 + big-endian length + message + receiver id``,
padded PKCS#7-style to a multiple of 32 bytes. The receiver id is the corpId, appKey or
suiteKey the subscription belongs to (§7.1).

The official Python 3 demo measures and pads ``str``: non-ASCII events break it. Everything
here is bytes; lengths are byte lengths.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import string
import struct
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .._exceptions import (
    CallbackDecryptError,
    CallbackKeyError,
    CallbackReceiverError,
    CallbackSignatureError,
)

__all__ = [
    "CallbackCrypto",
    "Envelope",
    "new_aes_key",
    "new_nonce",
    "new_token",
    "signature",
]

AES_KEY_LENGTH = 43
#: The console takes 3-32 letters and digits, register_call_back 6-63 characters (§7.1):
#: 32 letters and digits suit both.
TOKEN_LENGTH = 32
BLOCK = 32  # DingTalk pads to 32 bytes; decrypting also accepts the Go demo's 16
_AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
_ALPHANUMERIC = string.ascii_letters + string.digits
SUCCESS = b"success"


def new_aes_key() -> str:
    """A fresh ``aes_key``: 43 random letters and digits, like the console's 自动生成."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(AES_KEY_LENGTH))


def new_token() -> str:
    """A fresh subscription ``token`` that both ways of registering take (§7.1)."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(TOKEN_LENGTH))


def new_nonce(length: int = 16) -> str:
    """Random letters and digits, as the official libraries make nonces and ``random16``.

    One ``urandom`` call rather than one per character (a receiver makes two per reply);
    the modulo's slight bias is harmless for a nonce, which needs to be unpredictable and
    unrepeated, not uniform. Keys come from :func:`new_aes_key`, which has no bias."""
    return "".join(_ALPHANUMERIC[byte % 62] for byte in os.urandom(length))


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``sha1_hex`` of the four strings sorted and joined (§7.2)."""
    joined = "".join(sorted((token, timestamp, nonce, encrypt)))
    return hashlib.sha1(joined.encode()).hexdigest()  # SHA-1: DingTalk's scheme, not ours


def _key(aes_key: str) -> bytes:
    if not isinstance(aes_key, str) or not _AES_KEY.fullmatch(aes_key):
        length = len(aes_key) if isinstance(aes_key, str) else 0
        detail = (
            f"it has {length} characters"
            if length != AES_KEY_LENGTH
            else "it has characters other than a-z, A-Z, 0-9"
        )
        raise CallbackKeyError(
            f"the callback aes_key must be {AES_KEY_LENGTH} letters and digits, but {detail}: "
            "copy it from the app's event subscription page (or register a new one)"
        )
    return base64.b64decode(aes_key + "=")


@dataclass(frozen=True, slots=True)
class Envelope:
    """What travels: the ciphertext and what signs it. As a reply it is JSON with DingTalk's
    names (:meth:`as_reply`); as a push its parts go in the query string and body."""

    encrypt: str
    signature: str
    timestamp: str
    nonce: str

    def as_reply(self) -> dict[str, str]:
        """The JSON body of a reply (§7.3)."""
        return {
            "msg_signature": self.signature,
            "timeStamp": self.timestamp,
            "nonce": self.nonce,
            "encrypt": self.encrypt,
        }


class CallbackCrypto:
    """Encrypts, decrypts, signs and verifies for one subscription.

    Args:
        token: the subscription's token.
        aes_key: its 43-character ``aes_key``.
        receiver_id: the corpId, appKey or suiteKey payloads must be addressed to.

    Raises:
        CallbackKeyError: the ``aes_key`` is malformed.
    """

    def __init__(self, token: str, aes_key: str, receiver_id: str) -> None:
        key = _key(aes_key)
        self.token = token
        self.receiver_id = receiver_id
        self._receiver = receiver_id.encode()
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def __repr__(self) -> str:
        return f"CallbackCrypto(receiver_id={self.receiver_id!r})"  # token and key stay out

    # ---- signatures ---------------------------------------------------------------

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    def verify(self, sig: str, timestamp: str, nonce: str, encrypt: str) -> None:
        """Raises :class:`CallbackSignatureError` unless ``sig`` signs the rest."""
        expected = self.sign(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), sig.strip().lower().encode("utf-8")):
            raise CallbackSignatureError(
                "the signature does not match: the push was not made with this token "
                "(check the token of the subscription), or it was altered"
            )

    # ---- the payload --------------------------------------------------------------

    def encrypt(self, message: bytes | str, *, random16: bytes | None = None) -> str:
        """``message`` encrypted for this receiver, base64 (§7.2 steps 1-6)."""
        body = message.encode() if isinstance(message, str) else message
        prefix = random16 if random16 is not None else new_nonce().encode()
        if len(prefix) != 16:
            raise ValueError("random16 must be 16 bytes")
        plain = prefix + struct.pack(">I", len(body)) + body + self._receiver
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes((pad,)) * pad
        encryptor = self._cipher.encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypt: str) -> bytes:
        """The message inside ``encrypt``, checked to be addressed to this receiver."""
        message, receiver = self.unwrap(encrypt)
        if not hmac.compare_digest(receiver, self._receiver):
            raise CallbackReceiverError(
                "the payload is addressed to another receiver id than "
                f"{self.receiver_id!r}: use the appKey for a subscription made in the "
                "developer console, the corpId for one registered with the API (§7.1)"
            )
        return message

    def unwrap(self, encrypt: str) -> tuple[bytes, bytes]:
        """The message and the receiver id inside ``encrypt``, unchecked."""
        try:
            cipher = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackDecryptError("the payload is not base64") from None
        if not cipher or len(cipher) % 16:
            raise CallbackDecryptError(
                f"the payload is {len(cipher)} bytes, not a whole number of AES blocks"
            )
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(cipher) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes((pad,)) * pad:
            raise CallbackDecryptError(
                "the payload does not decrypt with this aes_key (bad padding): check the key"
            )
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CallbackDecryptError("the decrypted payload is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CallbackDecryptError(
                "the decrypted length does not fit the payload (official 900009)"
            )
        return plain[20 : 20 + length], plain[20 + length :]

    # ---- both at once -------------------------------------------------------------

    def open(self, sig: str, timestamp: str, nonce: str, encrypt: str) -> bytes:
        """Verify, then decrypt: what a receiver does with each push."""
        self.verify(sig, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def seal(
        self,
        message: bytes | str,
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
        random16: bytes | None = None,
    ) -> Envelope:
        """Encrypt and sign: what DingTalk does with each push, and a receiver's reply."""
        timestamp = timestamp if timestamp is not None else str(int(time.time() * 1000))
        nonce = nonce if nonce is not None else new_nonce()
        encrypt = self.encrypt(message, random16=random16)
        return Envelope(encrypt, self.sign(timestamp, nonce, encrypt), timestamp, nonce)

    def success(self, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        """The reply that acknowledges a push: ``success``, encrypted and signed (§7.3)."""
        return self.seal(SUCCESS, timestamp=timestamp, nonce=nonce).as_reply()
