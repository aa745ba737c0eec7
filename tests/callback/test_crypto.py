"""The callback crypto (§7.2) against the official vectors, and every way a push can be bad."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dingkit import (
    CallbackDecryptError,
    CallbackError,
    CallbackKeyError,
    CallbackReceiverError,
    CallbackSignatureError,
    ConfigurationError,
)
from dingkit.callback.crypto import CallbackCrypto, new_aes_key, new_nonce, signature

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures" / "vectors.json").read_text())
CALLBACK = {vector["id"]: vector for vector in VECTORS["callback"]}


def crypto_of(vector: dict[str, Any]) -> CallbackCrypto:
    return CallbackCrypto(vector["token"], vector["aes_key"], vector["receiver_id"])


@pytest.mark.parametrize("vector", VECTORS["callback"], ids=lambda v: v["id"])
def test_every_official_vector_decrypts_to_its_plaintext(vector: dict[str, Any]) -> None:
    crypto = crypto_of(vector)
    message = crypto.open(
        vector["signature"], vector["timestamp"], vector["nonce"], vector["encrypt"]
    )
    assert message == vector["plaintext"].encode()


@pytest.mark.parametrize("vector", VECTORS["callback"], ids=lambda v: v["id"])
def test_every_official_vector_reencrypts_byte_for_byte_with_its_random16(
    vector: dict[str, Any],
) -> None:
    crypto = crypto_of(vector)
    random16 = vector["random16"].encode()
    assert crypto.encrypt(vector["plaintext"], random16=random16) == vector["encrypt"]
    envelope = crypto.seal(
        vector["plaintext"], timestamp=vector["timestamp"], nonce=vector["nonce"], random16=random16
    )
    assert (envelope.encrypt, envelope.signature) == (vector["encrypt"], vector["signature"])


@pytest.mark.parametrize("vector", VECTORS["callback"], ids=lambda v: v["id"])
def test_every_official_signature_matches(vector: dict[str, Any]) -> None:
    args = (vector["timestamp"], vector["nonce"], vector["encrypt"])
    assert signature(vector["token"], *args) == vector["signature"]
    crypto_of(vector).verify(vector["signature"], *args)
    crypto_of(vector).verify(vector["signature"].upper(), *args)  # hex is hex


@pytest.mark.parametrize("case", VECTORS["callback_negative"], ids=lambda c: c["id"])
def test_the_negative_vectors_fail_the_signature_check(case: dict[str, Any]) -> None:
    vector = {**CALLBACK[case["base"]], **{k: v for k, v in case.items() if k in CALLBACK["V1"]}}
    with pytest.raises(CallbackSignatureError) as caught:
        crypto_of(vector).open(
            vector["signature"], vector["timestamp"], vector["nonce"], vector["encrypt"]
        )
    assert caught.value.errcode == 900005
    assert caught.value.reason == "signature"


def test_the_raw_aes_block_vector_v6() -> None:
    # V6: the cipher itself (key, iv = key[:16], PKCS#7 to 32) on a bare string.
    key = base64.b64decode("4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij" + "=")
    plain = b"5p7b4jXMWUshiBCosucc111esssuite4xxxxxxxxxxxxxxx221"
    pad = 32 - len(plain) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    cipher = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
    assert base64.b64encode(cipher).decode() == (
        "DwCJ9BMxu4r+VTe9TD+AWc1yfxqs7d2YgepFe4XruMgh1+6pTjCCq4nqAM6StRcafOx5a1OfwmX3ckSBifatlA=="
    )


@pytest.mark.parametrize(
    "message",
    [
        "",
        "success",
        '{"EventType":"user_add_org","userId":["张三"],"title":"请假 ✈️"}',
        "x" * 31,
        "y" * 32,
        "z" * 1000,
    ],
    ids=["empty", "success", "non-ascii", "31", "32", "1000"],
)
def test_round_trip_on_bytes_counts_bytes_not_characters(message: str) -> None:
    crypto = CallbackCrypto("token", new_aes_key(), "dingcorp")
    envelope = crypto.seal(message)
    assert crypto.open(
        envelope.signature, envelope.timestamp, envelope.nonce, envelope.encrypt
    ) == (message.encode())
    plain = _raw_plain(crypto, envelope.encrypt)
    (length,) = struct.unpack(">I", plain[16:20])
    assert length == len(message.encode())
    assert len(plain) % 32 == 0


def _raw_plain(crypto: CallbackCrypto, encrypt: str) -> bytes:
    decryptor = crypto._cipher.decryptor()
    return decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()


def test_the_success_reply_decrypts_to_success_and_is_signed() -> None:
    crypto = CallbackCrypto("token", new_aes_key(), "dingcorp")
    reply = crypto.success("1445827045067", "nEXhMP4r")
    assert set(reply) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert (reply["timeStamp"], reply["nonce"]) == ("1445827045067", "nEXhMP4r")
    assert crypto.open(reply["msg_signature"], "1445827045067", "nEXhMP4r", reply["encrypt"]) == (
        b"success"
    )


def test_go_demo_padding_to_16_is_accepted() -> None:
    crypto = CallbackCrypto("token", new_aes_key(), "dingcorp")
    body = b'{"EventType":"check_url"}'
    plain = b"a" * 16 + struct.pack(">I", len(body)) + body + b"dingcorp"
    pad = 16 - len(plain) % 16
    encryptor = crypto._cipher.encryptor()
    cipher = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
    assert crypto.decrypt(base64.b64encode(cipher).decode()) == body


@pytest.mark.parametrize(
    "aes_key",
    [
        "short",
        "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ijX",
        "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3i+",
    ],
    ids=["too short", "44 characters", "bad alphabet"],
)
def test_a_bad_aes_key_is_a_key_error_and_a_configuration_error(aes_key: str) -> None:
    with pytest.raises(CallbackKeyError, match="43 letters and digits") as caught:
        CallbackCrypto("token", aes_key, "dingcorp")
    assert isinstance(caught.value, ConfigurationError)
    assert caught.value.errcode == 900004
    assert aes_key not in str(caught.value)


def test_a_payload_for_another_receiver_is_refused() -> None:
    key = new_aes_key()
    sealed = CallbackCrypto("token", key, "dingother").seal("{}")
    with pytest.raises(CallbackReceiverError, match="another receiver id") as caught:
        CallbackCrypto("token", key, "dingcorp").open(
            sealed.signature, sealed.timestamp, sealed.nonce, sealed.encrypt
        )
    assert caught.value.errcode == 900010


@pytest.mark.parametrize(
    ("encrypt", "match"),
    [
        ("not base64 at all!", "not base64"),
        ("", "not a whole number"),
        (base64.b64encode(b"x" * 20).decode(), "not a whole number"),
        (base64.b64encode(b"x" * 64).decode(), "bad padding"),
    ],
    ids=["garbage", "empty", "not blocks", "random blocks"],
)
def test_undecryptable_payloads_are_decrypt_errors(encrypt: str, match: str) -> None:
    crypto = CallbackCrypto("token", new_aes_key(), "dingcorp")
    with pytest.raises(CallbackDecryptError, match=match):
        crypto.decrypt(encrypt)


def test_a_payload_under_another_key_is_a_decrypt_or_receiver_error() -> None:
    sealed = CallbackCrypto("token", new_aes_key(), "dingcorp").seal("hello")
    with pytest.raises((CallbackDecryptError, CallbackReceiverError)):
        CallbackCrypto("token", new_aes_key(), "dingcorp").decrypt(sealed.encrypt)


def test_a_length_field_longer_than_the_payload_is_refused() -> None:
    crypto = CallbackCrypto("token", new_aes_key(), "dingcorp")
    plain = b"a" * 16 + struct.pack(">I", 500) + b"short"
    pad = 32 - len(plain) % 32
    encryptor = crypto._cipher.encryptor()
    cipher = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
    with pytest.raises(CallbackDecryptError, match="length"):
        crypto.decrypt(base64.b64encode(cipher).decode())


def test_errors_and_repr_never_show_the_token_or_key() -> None:
    key = new_aes_key()
    crypto = CallbackCrypto("sekrit-token", key, "dingcorp")
    assert "sekrit" not in repr(crypto)
    assert key not in repr(crypto)
    sealed = crypto.seal("x")
    with pytest.raises(CallbackError) as caught:
        crypto.verify("0" * 40, sealed.timestamp, sealed.nonce, sealed.encrypt)
    assert "sekrit" not in str(caught.value)


def test_generated_keys_and_nonces_are_well_formed_and_fresh() -> None:
    keys = {new_aes_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        CallbackCrypto("t", key, "r")
    assert len(new_nonce()) == 16
    assert new_nonce().isalnum()
