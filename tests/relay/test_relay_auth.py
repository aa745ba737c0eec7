from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from dingkit._inbound import Refused
from dingkit.relay import auth as relay_auth
from dingkit.relay.auth import GRAFANA_HEADERS, check, headers_for
from dingkit.relay.config import RelayConfig, RouteConfig, parse_config

BODY = json.dumps({"status": "firing", "alerts": [{"labels": {"a": "日本"}}]}).encode()
NOW = 1_765_000_000.0

TOKEN = "bearer-secret-0001"
PASSWORD = "basic-secret-0002"
HMAC_SECRET = "hmac-secret-0003"
GITHUB_SECRET = "github-secret-0004"
GITLAB_TOKEN = "gitlab-secret-0005"
GRAFANA_SECRET = "grafana-secret-0006"
SECRETS = (TOKEN, PASSWORD, HMAC_SECRET, GITHUB_SECRET, GITLAB_TOKEN, GRAFANA_SECRET)

CONFIG = f"""
[[robot]]
name = "team"
token = "teamteam01"

[[route]]
name = "open"
source = "generic"
robots = ["team"]

[[route]]
name = "bearer"
source = "alertmanager"
robots = ["team"]
auth = {{ kind = "bearer", token = "{TOKEN}" }}

[[route]]
name = "basic"
source = "jenkins"
robots = ["team"]
auth = {{ kind = "basic", username = "jenkins", password = "{PASSWORD}" }}

[[route]]
name = "hmac"
source = "generic"
robots = ["team"]
auth = {{ kind = "hmac", secret = "{HMAC_SECRET}", header = "X-Signature" }}

[[route]]
name = "hmac-b64"
source = "generic"
robots = ["team"]
auth = {{ kind = "hmac", secret = "{HMAC_SECRET}", header = "X-Sig", algorithm = "sha512",
         encoding = "base64", prefix = "v1=" }}

[[route]]
name = "github"
source = "github"
robots = ["team"]
auth = {{ kind = "github", secret = "{GITHUB_SECRET}" }}

[[route]]
name = "gitlab"
source = "gitlab"
robots = ["team"]
auth = {{ kind = "gitlab", token = "{GITLAB_TOKEN}" }}

[[route]]
name = "grafana"
source = "grafana"
robots = ["team"]
auth = {{ kind = "grafana", secret = "{GRAFANA_SECRET}" }}

[[route]]
name = "grafana-ts"
source = "grafana"
robots = ["team"]
auth = {{ kind = "grafana", secret = "{GRAFANA_SECRET}", header = "X-Grafana-Alerting-Signature",
         timestamp_header = "X-Grafana-Alerting-Timestamp", max_age = 60 }}
""".replace("\n         ", " ")

RELAY: RelayConfig = parse_config(CONFIG, environ={})


def route(name: str) -> RouteConfig:
    found = RELAY.route(name)
    assert found is not None
    return found


def hex_hmac(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).hexdigest()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GRAFANA_TS = str(int(NOW))
# The right headers for each route, computed here, not by the code under test.
GOOD: dict[str, dict[str, str]] = {
    "bearer": {"Authorization": f"Bearer {TOKEN}"},
    "basic": {"Authorization": basic("jenkins", PASSWORD)},
    "hmac": {"X-Signature": hex_hmac(HMAC_SECRET, BODY)},
    "hmac-b64": {
        "X-Sig": "v1="
        + base64.b64encode(hmac.new(HMAC_SECRET.encode(), BODY, hashlib.sha512).digest()).decode()
    },
    "github": {"X-Hub-Signature-256": "sha256=" + hex_hmac(GITHUB_SECRET, BODY)},
    "gitlab": {"X-Gitlab-Token": GITLAB_TOKEN},
    "grafana": {"X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, BODY)},
    "grafana-ts": {
        "X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, f"{GRAFANA_TS}:".encode() + BODY),
        "X-Grafana-Alerting-Timestamp": GRAFANA_TS,
    },
}
# The header carrying the credential on each route.
CREDENTIAL = {
    "bearer": "Authorization",
    "basic": "Authorization",
    "hmac": "X-Signature",
    "hmac-b64": "X-Sig",
    "github": "X-Hub-Signature-256",
    "gitlab": "X-Gitlab-Token",
    "grafana": "X-Grafana-Alerting-Signature",
    "grafana-ts": "X-Grafana-Alerting-Signature",
}


def refused(name: str, headers: dict[str, str], body: bytes = BODY) -> Refused:
    with pytest.raises(Refused) as caught:
        check(route(name), headers, body, now=NOW)
    message = caught.value.message
    for secret in SECRETS:
        assert secret not in message
    for value in headers.values():
        if len(value) > 8:
            assert value not in message  # never echo what was sent
    assert "\n" not in message
    return caught.value


@pytest.mark.parametrize("name", list(GOOD))
def test_the_right_credential_is_accepted(name: str) -> None:
    check(route(name), GOOD[name], BODY, now=NOW)


@pytest.mark.parametrize("name", list(GOOD))
def test_header_names_are_case_insensitive(name: str) -> None:
    lower = {key.lower(): value for key, value in GOOD[name].items()}
    check(route(name), lower, BODY, now=NOW)
    upper = {key.upper(): value for key, value in GOOD[name].items()}
    check(route(name), upper, BODY, now=NOW)
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in GOOD[name].items()]
    check(route(name), Headers(raw=raw), BODY, now=NOW)


@pytest.mark.parametrize("name", list(GOOD))
def test_headers_for_passes_its_own_check(name: str) -> None:
    made = headers_for(route(name), BODY, now=NOW)
    assert made == GOOD[name]
    check(route(name), made, BODY, now=NOW)


def test_a_route_without_auth_takes_anything() -> None:
    check(route("open"), {}, b"", now=NOW)
    check(route("open"), {"Authorization": "Bearer x"}, BODY)
    assert headers_for(route("open"), BODY) == {}


@pytest.mark.parametrize("name", list(GOOD))
def test_no_credential_is_401(name: str) -> None:
    headers = {k: v for k, v in GOOD[name].items() if k != CREDENTIAL[name]}
    error = refused(name, headers)
    assert (error.status, error.reason) == (401, "auth_missing")
    assert refused(name, {**headers, CREDENTIAL[name]: "   "}).status == 401


@pytest.mark.parametrize("name", list(GOOD))
def test_a_changed_body_is_refused_by_signatures(name: str) -> None:
    if name in ("bearer", "basic", "gitlab"):
        check(route(name), GOOD[name], BODY + b" ", now=NOW)  # tokens do not cover the body
        return
    error = refused(name, GOOD[name], BODY + b" ")
    assert (error.status, error.reason) == (403, "auth_mismatch")
    assert "does not match" in error.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("bearer", "Bearer bearer-secret-0002"),
        ("bearer", f"Bearer {TOKEN}x"),
        ("bearer", f"Bearer {TOKEN[:-1]}"),
        ("basic", basic("jenkins", "basic-secret-0003")),
        ("basic", basic("jenkinz", PASSWORD)),
        ("basic", basic("jenkins", PASSWORD + ":")),
        ("hmac", hex_hmac("other-secret", BODY)),
        ("hmac-b64", "v1=" + base64.b64encode(b"\0" * 64).decode()),
        ("github", "sha256=" + hex_hmac("github-secret-0009", BODY)),
        ("github", "sha256=" + "0" * 64),
        ("gitlab", "gitlab-secret-0006"),
        ("gitlab", GITLAB_TOKEN + GITLAB_TOKEN),
        ("grafana", hex_hmac("grafana-secret-0007", BODY)),
        ("grafana-ts", hex_hmac(GRAFANA_SECRET, BODY)),  # the timestamp is not covered
    ],
)
def test_a_wrong_credential_is_403(name: str, value: str) -> None:
    error = refused(name, {**GOOD[name], CREDENTIAL[name]: value})
    assert (error.status, error.reason) == (403, "auth_mismatch")


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("hmac", "z" * 64, "not a hex digest of 64 characters"),
        ("hmac", "ab" * 31, "not a hex digest of 64 characters"),
        ("hmac", "ab" * 33, "not a hex digest of 64 characters"),
        ("hmac", "ab " * 21 + "a", "not a hex digest of 64 characters"),  # fromhex skips spaces
        ("hmac", "é" * 64, "not a hex digest of 64 characters"),
        ("hmac", "٣" * 64, "not a hex digest of 64 characters"),  # a non-ASCII digit
        ("github", hex_hmac(GITHUB_SECRET, BODY), "does not start with 'sha256='"),
        ("github", "sha1=" + "0" * 40, "does not start with 'sha256='"),
        ("github", "sha256=" + "0" * 40, "not a hex digest of 64 characters"),
        ("hmac-b64", "v1=" + base64.b64encode(b"\0" * 32).decode(), "not a 64-byte digest"),
        ("hmac-b64", "v1=!!!!", "is not base64"),
        ("hmac-b64", "v1=令牌", "is not base64"),
        ("hmac-b64", "v2=" + "A" * 88, "does not start with 'v1='"),
        ("basic", "Basic !!!notbase64", "not base64"),
        ("basic", "Basic " + base64.b64encode(b"no-colon").decode(), "not user:password"),
        ("grafana", "sha256=" + hex_hmac(GRAFANA_SECRET, BODY), "not a hex digest"),
    ],
)
def test_a_malformed_credential_is_403_saying_what_shape(
    name: str, value: str, reason: str
) -> None:
    error = refused(name, {**GOOD[name], CREDENTIAL[name]: value})
    assert (error.status, error.reason) == (403, "auth_malformed")
    assert reason in error.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("bearer", "Token abc"),
        ("bearer", "Basic " + base64.b64encode(b"a:b").decode()),
        ("bearer", "Bearer"),
        ("bearer", "Bearer    "),
        ("bearer", TOKEN),  # the token without its scheme
        ("basic", "Bearer abc"),
        ("basic", "Digest username=x"),
        ("basic", "Basic"),
    ],
)
def test_another_authorization_scheme_is_401(name: str, value: str) -> None:
    error = refused(name, {"Authorization": value})
    assert error.status == 401
    assert "Authorization" in error.message


def test_schemes_are_case_insensitive_and_spaces_trimmed() -> None:
    check(route("bearer"), {"Authorization": f"  bearer {TOKEN}  "}, BODY)
    credentials = basic("jenkins", PASSWORD).removeprefix("Basic ")
    check(route("basic"), {"Authorization": f"BASIC {credentials}"}, BODY)


@pytest.mark.parametrize(
    "value",
    [
        "Bearer tökén",  # latin-1, as an ASGI server decodes it
        "Bearer 令牌",  # beyond latin-1: a str compare of this would raise TypeError
        "Bearer \udcff",  # a lone surrogate
        "Bearer \x00\x01",
        "Bearer " + "x" * 100_000,
    ],
)
def test_non_ascii_and_odd_header_values_are_refused_not_crashing(value: str) -> None:
    error = refused("bearer", {"Authorization": value})
    assert (error.status, error.reason) == (403, "auth_mismatch")


@pytest.mark.parametrize("name", ["gitlab", "github", "grafana", "hmac"])
@pytest.mark.parametrize("value", ["令牌" * 40, "\udcff" * 64, "é" * 64])
def test_non_ascii_tokens_and_signatures_are_403(name: str, value: str) -> None:
    assert refused(name, {**GOOD[name], CREDENTIAL[name]: value}).status == 403


def test_a_non_ascii_secret_matches_its_utf8_bytes_sent_through_asgi() -> None:
    relay = parse_config(CONFIG.replace(TOKEN, "令牌-secret"), environ={})
    bearer = relay.route("bearer")
    assert bearer is not None
    # Starlette decodes header bytes as latin-1; the secret's UTF-8 bytes still match.
    header = "Bearer 令牌-secret".encode().decode("latin-1")
    check(bearer, {"Authorization": header}, BODY)


def test_uppercase_hex_is_the_same_digest() -> None:
    upper = {"X-Hub-Signature-256": GOOD["github"]["X-Hub-Signature-256"].upper()}
    check(route("github"), upper, BODY)


def test_grafana_without_a_configured_header_accepts_either_name() -> None:
    # Grafana's docs name X-Grafana-Alerting-Signature, grafana/alerting's code
    # X-Grafana-Alert-Signature.
    signature = hex_hmac(GRAFANA_SECRET, BODY)
    for header in GRAFANA_HEADERS:
        check(route("grafana"), {header: signature}, BODY)
    both = {GRAFANA_HEADERS[0]: "0" * 64, GRAFANA_HEADERS[1]: signature}
    check(route("grafana"), both, BODY)
    error = refused("grafana", {GRAFANA_HEADERS[1]: "0" * 64})
    assert (error.status, error.reason) == (403, "auth_mismatch")
    assert "X-Grafana-Alert-Signature" in error.message
    # A route naming its header takes only that one.
    renamed = dict(GOOD["grafana-ts"])
    renamed[GRAFANA_HEADERS[1]] = renamed.pop(GRAFANA_HEADERS[0])
    assert refused("grafana-ts", renamed).status == 401


@pytest.mark.parametrize(
    ("stamp", "status", "reason", "says"),
    [
        (None, 401, "auth_missing", "no X-Grafana-Alerting-Timestamp header"),
        ("", 401, "auth_missing", "no X-Grafana-Alerting-Timestamp header"),
        ("abc", 403, "auth_malformed", "is not a Unix time in seconds"),
        ("1.5", 403, "auth_malformed", "is not a Unix time in seconds"),
        ("-1", 403, "auth_malformed", "is not a Unix time in seconds"),
        ("١٢٣", 403, "auth_malformed", "is not a Unix time in seconds"),
        ("9" * 5000, 403, "auth_malformed", "is not a Unix time in seconds"),
        (str(int(NOW) - 61), 403, "auth_stale", "is 61 s old; allowed: 60 s"),
        (str(int(NOW) + 61), 403, "auth_stale", "is 61 s in the future"),
        (str(int(NOW * 1000)), 403, "auth_malformed", "in seconds"),  # milliseconds
    ],
)
def test_grafana_timestamps_are_required_and_fresh(
    stamp: str | None, status: int, reason: str, says: str
) -> None:
    headers = dict(GOOD["grafana-ts"])
    del headers["X-Grafana-Alerting-Timestamp"]
    if stamp is not None:
        headers["X-Grafana-Alerting-Timestamp"] = stamp
        headers["X-Grafana-Alerting-Signature"] = hex_hmac(
            GRAFANA_SECRET, stamp.encode(errors="replace") + b":" + BODY
        )
    error = refused("grafana-ts", headers)
    assert (error.status, error.reason) == (status, reason)
    assert says in error.message


def test_grafana_accepts_a_timestamp_within_max_age() -> None:
    for skew in (-60, 0, 60):
        stamp = str(int(NOW) + skew)
        headers = {
            "X-Grafana-Alerting-Timestamp": stamp,
            "X-Grafana-Alerting-Signature": hex_hmac(GRAFANA_SECRET, f"{stamp}:".encode() + BODY),
        }
        check(route("grafana-ts"), headers, BODY, now=NOW)


def test_grafana_uses_the_clock_when_no_time_is_given() -> None:
    with pytest.raises(Refused) as caught:
        check(route("grafana-ts"), GOOD["grafana-ts"], BODY)  # NOW is in 2025: stale today
    assert caught.value.reason == "auth_stale"


# A wrong but well-formed credential for the kinds that do not sign the body.
TOKEN_KINDS = {
    "bearer": "Bearer bearer-secret-0009",
    "basic": basic("jenkins", "basic-secret-0009"),
    "gitlab": "gitlab-secret-0009",
}


def test_every_kind_compares_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        assert isinstance(a, bytes)
        assert isinstance(b, bytes)
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(relay_auth.hmac, "compare_digest", spy)
    for name, headers in GOOD.items():
        calls.clear()
        check(route(name), headers, BODY, now=NOW)
        assert calls, name
        wrong = dict(headers)
        if name in TOKEN_KINDS:
            wrong[CREDENTIAL[name]] = TOKEN_KINDS[name]
        calls.clear()
        with pytest.raises(Refused) as caught:
            check(route(name), wrong, BODY + b"!", now=NOW)
        assert caught.value.reason == "auth_mismatch"
        assert calls, name


def test_both_basic_fields_are_compared_even_when_the_user_is_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(relay_auth.hmac, "compare_digest", spy)
    with pytest.raises(Refused):
        check(route("basic"), {"Authorization": basic("x", "y")}, BODY)
    assert calls == [b"jenkins", PASSWORD.encode()]


def test_a_refusal_becomes_a_json_answer_without_the_secret() -> None:
    error = refused("bearer", {"Authorization": "Bearer nope-nope-nope"})
    response = error.response()
    assert response.status_code == 403
    body = json.loads(bytes(response.body))
    assert body == {"error": "auth_mismatch", "message": "the bearer token is wrong"}


header_values = st.text(max_size=80) | st.sampled_from(
    [
        "Bearer ",
        "Basic ",
        "sha256=",
        "v1=",
        "Bearer " + TOKEN,
        "sha256=" + "0" * 64,
        "0" * 64,
        "٣" * 64,
        GRAFANA_TS,
    ]
)


@settings(derandomize=True, deadline=None, max_examples=300, database=None)
@given(
    name=st.sampled_from(list(GOOD)),
    headers=st.dictionaries(
        st.sampled_from([*CREDENTIAL.values(), "X-Grafana-Alerting-Timestamp", "X-Other"])
        | st.text(min_size=1, max_size=10),
        header_values,
        max_size=4,
    ),
    body=st.binary(max_size=64),
)
def test_any_headers_are_accepted_or_refused_with_401_or_403(
    name: str, headers: dict[str, str], body: bytes
) -> None:
    outcome: Refused | None = None
    try:
        check(route(name), headers, body, now=NOW)
    except Refused as error:
        outcome = error
    if outcome is not None:
        assert outcome.status in (401, 403)
        assert all(secret not in outcome.message for secret in SECRETS)
