"""Callback codes: the crypto libraries' (raised rather than sent, protocol §7.2) and the old
API's callback registration answers (71006–71013, 900004 from ``register_call_back``, §7.1)."""

from __future__ import annotations

from .._exceptions import (
    BadRequestError,
    CallbackDecryptError,
    CallbackError,
    CallbackKeyError,
    CallbackPayloadError,
    CallbackReceiverError,
    CallbackSignatureError,
    NotFoundError,
    PermissionDeniedError,
)
from . import Api, ErrorCodeInfo, Retry

# Callback crypto library codes (raised by the official libraries, not sent), protocol §7.2.
_CRYPTO: tuple[ErrorCodeInfo, ...] = tuple(
    ErrorCodeInfo(
        code=str(code),
        api=Api.CALLBACK,
        raises=raises,
        meaning=meaning,
        retry=Retry.NO,
        action=action,
        errmsg_examples=(errmsg,),
        note=(
            "Raised by the callback crypto libraries (dingkit's included) rather than sent by "
            "DingTalk; also listed in DingTalk's global error table."
        ),
    )
    for code, raises, meaning, errmsg, action in (
        (
            900001,
            CallbackPayloadError,
            "The plaintext to encrypt is invalid.",
            "加密明文文本非法",
            "Pass the message to encrypt as a non-empty UTF-8 string.",
        ),
        (
            900002,
            CallbackError,
            "The timestamp parameter is invalid.",
            "加密时间戳参数非法",
            "Pass the timestamp from the request query (or a current one for replies).",
        ),
        (
            900003,
            CallbackError,
            "The nonce parameter is invalid.",
            "加密随机字符串参数非法",
            "Pass the nonce from the request query (or a fresh random one for replies).",
        ),
        (
            900004,
            CallbackKeyError,
            "The aes_key is invalid (it must be 43 characters).",
            "不合法的aes key",
            "Copy the 43-character aes_key from the app's event subscription settings exactly.",
        ),
        (
            900005,
            CallbackSignatureError,
            "The signature does not match.",
            "签名不匹配",
            "Check the token and sign sha1(sorted token, timestamp, nonce, encrypt) as in §7.2.",
        ),
        (
            900006,
            CallbackSignatureError,
            "Computing the signature failed (the Java library also raises it on a mismatch).",
            "签名计算失败",
            "Check the token and sign sha1(sorted token, timestamp, nonce, encrypt) as in §7.2.",
        ),
        (
            900007,
            CallbackError,
            "Encrypting the message failed.",
            "计算加密文字错误",
            "Check the aes_key and encrypt the message as UTF-8 bytes.",
        ),
        (
            900008,
            CallbackDecryptError,
            "Decrypting the message failed.",
            "计算解密文字错误",
            "Check that the aes_key is the one configured for this callback URL.",
        ),
        (
            900009,
            CallbackDecryptError,
            "The decrypted length field does not match the message.",
            "计算解密文字长度不匹配",
            "Check the aes_key; encryptors must write the byte length, not the character length.",
        ),
        (
            900010,
            CallbackReceiverError,
            "The receiver id inside the decrypted message is not the expected one.",
            "计算解密文字corpid不匹配",
            "Use appKey (console subscription), corpId (register_call_back) or suiteKey (§7.1).",
        ),
    )
)

_RANGE_NOTE_71 = (
    "The reference gives 71006–71013 as one range with a list of reasons; this per-code "
    "reason follows the order of that list and of DingTalk's legacy global table, and is "
    "confirmed separately only for 71009 (§7.3)."
)

# Old-API answers of register_call_back / update_call_back (§7.1, §9.1); errmsg texts from
# DingTalk's legacy global table unless noted.
_REGISTRATION: tuple[ErrorCodeInfo, ...] = (
    *(
        ErrorCodeInfo(
            code=str(code),
            api=Api.OAPI,
            raises=raises,
            meaning=f"Callback registration failed: {what}.",
            retry=Retry.NO,
            action=action,
            errmsg_examples=(errmsg,),
            note=_RANGE_NOTE_71,
        )
        for code, raises, what, action, errmsg in (
            (
                71006,
                BadRequestError,
                "the callback already exists",
                "Update the callback instead of registering it again.",
                "回调地址已经存在",
            ),
            (
                71007,
                NotFoundError,
                "the callback does not exist",
                "Register the callback before updating or deleting it.",
                "回调地址已不存在",
            ),
            (
                71008,
                BadRequestError,
                "a callback tag is invalid",
                "Check the call_back_tag names.",
                "回调call_back_tag必须在指定的call_back_tag列表中",
            ),
            (
                71009,
                BadRequestError,
                "the callback URL did not reply with an encrypted 'success'",
                "Reply to the check_url event with the encrypted string 'success' (§7.3): run "
                "the receiver with the same token and aes_key, and the receiver id the "
                "registration seals for (the corpId for register_call_back, §7.1).",
                "返回文本非success",
            ),
            (
                71010,
                BadRequestError,
                "the JSON is malformed",
                "Make the callback reply valid JSON (§7.3).",
                "POST的JSON数据不包含所需要的参数字段或包含的参数格式非法",
            ),
            (
                71011,
                BadRequestError,
                "the callback URL is invalid",
                "Use a valid, publicly reachable URL that does not redirect.",
                "传入的url参数不是合法的url格式",
            ),
            (
                71012,
                BadRequestError,
                "the callback URL is unreachable",
                "Make the URL reachable from DingTalk and answer within 1.5 s.",
                "url地址访问异常,错误原因为:%s",
            ),
            (
                71013,
                PermissionDeniedError,
                "the IP address is not allowed",
                "Check the IP allow-list settings of the app and the callback host.",
                "此域名或IP不能注册或者接收回调事件",
            ),
        )
    ),
    ErrorCodeInfo(
        code="900004",
        api=Api.OAPI,
        raises=BadRequestError,
        meaning="register_call_back refused the aes_key: it must be 43 letters or digits.",
        retry=Retry.NO,
        action="Pass the 43-character aes_key (a-z, A-Z, 0-9) you also give the receiver.",
        errmsg_examples=("不合法的aeskey",),
        note="The crypto libraries' code, also answered by the registration API (§7.2, §7.1).",
    ),
)

ROWS: tuple[ErrorCodeInfo, ...] = (*_CRYPTO, *_REGISTRATION)
