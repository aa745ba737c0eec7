from __future__ import annotations

import copy
import textwrap
import tomllib
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dingkit import ConfigurationError
from dingkit.relay.config import (
    MAX_CONFIG_BYTES,
    BearerAuth,
    GitHubAuth,
    GrafanaAuth,
    RelayConfig,
    load_config,
    parse_config,
    validate_config,
)

ROBOT_TOKEN = "robot-secret-0001"
SIGN_SECRET = "SEC-test-secret-0002"
ROUTE_TOKEN = "route-secret-0003"

ROBOTS = f"""
[[robot]]
name = "ops"
token = "tokentoken01"

[[robot]]
name = "dev"
webhook = "https://oapi.dingtalk.com/robot/send?access_token={ROBOT_TOKEN}"
secret = "{SIGN_SECRET}"
"""
ROUTE = """
[[route]]
name = "prod"
source = "alertmanager"
robots = ["ops"]
"""

FULL = f"""
[relay]
time_zone = "Europe/Berlin"
resolved = "repeat"
mention_label = "owner"

[owners]
alice = "u-alice"
db-team = ["u-ann", "u-bob"]

[[robot]]
name = "team"
webhook = "env:TEAM_WEBHOOK"
keyword = "告警"

[[robot]]
name = "oncall"
token = "env:ONCALL_TOKEN"
secret = "env:ONCALL_SECRET"
pool = "ops"

[[robot]]
name = "oncall-2"
token = "oncalltoken2"
pool = "ops"

[[route]]
name = "prod"
source = "alertmanager"
robots = ["team"]
time_zone = "Asia/Tokyo"
rules = [{{ match = {{ severity = "critical" }}, robots = ["oncall"], at_all = true }}]
auth = {{ kind = "bearer", token = "{ROUTE_TOKEN}" }}

[[route]]
name = "ci"
source = "github"
robots = ["team"]
events = ["workflow_run", "push"]
template_file = "ci.md.j2"
auth = {{ kind = "github", secret = "env:GH_SECRET" }}

[[route.rules]]
match = {{ repository = "acme/x", branch = "main", status = "failure" }}
robots = ["oncall"]

[[route]]
name = "grafana"
source = "grafana"
robots = ["team"]
resolved = "update"
auth = {{ kind = "grafana", secret = "grafana-secret-0004", timestamp_header = "X-Ts" }}

[[silence]]
name = "db-maintenance"
comment = "weekly vacuum"
match = {{ alertname = "~Postgres.*" }}
days = ["Saturday"]
from = "23:00"
to = "02:00"

[[silence]]
match = {{ env = "staging" }}
start = 2026-12-06T01:00:00+08:00
end = "2026-12-06T05:00:00Z"
"""
ENV = {
    "TEAM_WEBHOOK": "https://oapi.dingtalk.com/robot/send?access_token=team-secret-0005",
    "ONCALL_TOKEN": "oncall-secret-0006",
    "ONCALL_SECRET": "SEC-test-secret-0007",
    "GH_SECRET": "github-secret-0008",
}
SECRETS = [
    ROBOT_TOKEN,
    SIGN_SECRET,
    ROUTE_TOKEN,
    "grafana-secret-0004",
    *ENV.values(),
    "team-secret-0005",
]


def load(text: str, **environ: str) -> RelayConfig:
    return parse_config(textwrap.dedent(text), environ=environ)


def error(text: str, **environ: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load(text, **environ)
    message = str(caught.value)
    # One readable line per problem, never pydantic's dump.
    assert "validation error" not in message
    assert "pydantic" not in message
    assert "input_value" not in message
    assert "\n" not in message
    return message


@pytest.fixture
def full(tmp_path: Path) -> RelayConfig:
    (tmp_path / "ci.md.j2").write_text("{% set title = n.title %}**{{ n.title | md }}**\n")
    path = tmp_path / "relay.toml"
    path.write_text(FULL, encoding="utf-8")
    return load_config(path, environ=ENV)


def test_the_documented_example_loads() -> None:
    import dingkit.relay.config as module

    assert module.__doc__ is not None
    example = module.__doc__.split("\n\n", 1)[1].split("\nRoute keys:")[0]
    environ = {
        "TEAM_WEBHOOK": ENV["TEAM_WEBHOOK"],
        "ONCALL_TOKEN": "oncall-secret-0011",
        "ONCALL_SECRET": "SEC-test-secret-0012",
        "AM_TOKEN": "route-secret-0013",
    }
    relay = parse_config(textwrap.dedent(example), environ=environ)
    assert [r.name for r in relay.robots] == ["team", "oncall"]
    assert relay.routes[0].rules[0].robots == ("oncall",)
    assert relay.silences[0].days == ("sat",)


def test_a_full_config_loads_with_its_defaults_and_overrides(full: RelayConfig) -> None:
    assert [r.name for r in full.robots] == ["team", "oncall", "oncall-2"]
    assert [r.name for r in full.routes] == ["prod", "ci", "grafana"]
    prod, ci, grafana = full.routes
    assert full.route("prod") is prod
    assert full.route("prod", "alertmanager") is prod
    assert full.route("prod", "github") is None
    assert full.route("nope") is None
    assert full.time_zone(prod) == "Asia/Tokyo"
    assert full.time_zone(ci) == "Europe/Berlin"
    assert full.time_zone() == "Europe/Berlin"
    assert full.resolved(prod) == "repeat"
    assert full.resolved(grafana) == "update"
    assert full.owners == {"alice": ("u-alice",), "db-team": ("u-ann", "u-bob")}
    assert prod.rules[0].robots == ("oncall",)
    assert prod.rules[0].at_all is True
    assert ci.events == ("workflow_run", "push")
    assert [m.name for m in ci.rules[0].match] == ["repository", "branch", "status"]
    assert isinstance(prod.auth, BearerAuth)
    assert isinstance(ci.auth, GitHubAuth)
    assert isinstance(grafana.auth, GrafanaAuth)
    assert grafana.auth.header is None
    assert grafana.auth.max_age == 300
    weekly, once = full.silences
    assert weekly.days == ("sat",)
    assert weekly.weekly
    assert not once.weekly
    assert once.end is not None
    assert once.end.utcoffset() is not None


def test_secrets_come_from_the_environment_and_make_robot_targets(full: RelayConfig) -> None:
    team = full.robot("team").target()
    assert team.token == "team-secret-0005"
    assert team.keyword == "告警"
    oncall = full.robot("oncall").target()
    assert (oncall.token, oncall.secret) == ("oncall-secret-0006", "SEC-test-secret-0007")
    assert oncall.send_url == "https://oapi.dingtalk.com/robot/send"
    local = full.robot("oncall").target(base_url="http://127.0.0.1:8000/")
    assert local.send_url == "http://127.0.0.1:8000/robot/send"
    redirected = full.robot("team").target(base_url="http://sandbox")
    assert redirected.send_url == "http://sandbox/robot/send"
    with pytest.raises(KeyError):
        full.robot("nobody")


def test_no_secret_shows_in_the_repr_or_str_of_anything(full: RelayConfig) -> None:
    shown = repr(full) + str(full) + "".join(repr(t) for t in (*full.robots, *full.routes))
    shown += "".join(repr(r.target()) for r in full.robots)
    for secret in SECRETS:
        assert secret not in shown
    assert "**********" in shown


def test_a_route_template_file_is_read_from_the_config_folder_and_compiled(
    full: RelayConfig,
) -> None:
    compiled = full.route("ci").compiled_template  # type: ignore[union-attr]
    assert isinstance(compiled, jinja2.Template)
    assert full.route("prod").compiled_template is None  # type: ignore[union-attr]


def test_an_inline_template_is_compiled_at_load() -> None:
    config = load(ROBOTS + ROUTE + 'template = "**{{ n.title }}**"\n')
    assert isinstance(config.routes[0].compiled_template, jinja2.Template)


def test_a_missing_environment_variable_is_named() -> None:
    message = error(ROBOTS + ROUTE + 'auth = { kind = "bearer", token = "env:AM_TOKEN" }\n')
    assert message.startswith('route "prod": auth.token: ')
    assert "AM_TOKEN is not set" in message


def test_an_empty_environment_variable_is_an_error_too() -> None:
    message = error(
        ROBOTS + ROUTE + 'auth = { kind = "bearer", token = "env:AM_TOKEN" }\n', AM_TOKEN="  "
    )
    assert "AM_TOKEN" in message


def test_env_needs_a_variable_name() -> None:
    message = error(ROBOTS + ROUTE + 'auth = { kind = "bearer", token = "env:1 2" }\n')
    assert 'route "prod": auth.token: "env:" must be followed by a variable name' in message


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            ROBOTS + ROUTE.replace('["ops"]', '["opz"]'),
            'route "prod": robots: unknown robot "opz" (known: ops, dev)',
        ),
        (
            ROBOTS + ROUTE + 'rules = [{ match = { a = "b" }, robots = ["ops", "nobody"] }]\n',
            'route "prod": rules[0].robots: unknown robot "nobody" (known: ops, dev)',
        ),
        (
            ROBOTS + ROUTE.replace("alertmanager", "alertmanagr"),
            'route "prod": source: unknown source "alertmanagr" (known: alertmanager, grafana, '
            "github, gitlab, jenkins, generic)",
        ),
        (
            ROBOTS + ROUTE + "colour = 1\n",
            'route "prod": colour: unknown key (known: name, source, robots, events, match, '
            "rules, template, template_file, time_zone, resolved, mention_label, at, at_all, "
            "auth)",
        ),
        (
            ROBOTS + ROUTE + 'rules = [{ match = {}, robots = ["dev"], stop = true }]\n',
            'route "prod": rules[0].stop: unknown key (known: match, robots, continue, at, at_all)',
        ),
        (
            ROBOTS + ROUTE + 'auth = { kind = "bearer", tokn = "x" }\n',
            'route "prod": auth.tokn: unknown key (known: kind, token)',
        ),
        (
            ROBOTS + ROUTE + 'auth = { kind = "bearer" }\n',
            'route "prod": auth.token: missing: this key is required',
        ),
        (
            ROBOTS + ROUTE + 'auth = { kind = "oauth", token = "x" }\n',
            'route "prod": auth: unknown kind "oauth" (known: bearer, basic, hmac, github, '
            "gitlab, grafana)",
        ),
        (
            ROBOTS + ROUTE + 'auth = { kind = "github", secret = "x" }\n',
            'route "prod": auth: kind "github" is for github routes; this route\'s source is '
            'alertmanager: use "hmac" or "bearer"',
        ),
        (
            ROBOTS + ROUTE + 'auth = { kind = "hmac", secret = "x", header = "X Sig" }\n',
            "route \"prod\": auth.header: 'X Sig' is not an HTTP header name",
        ),
        (
            ROBOTS + ROUTE + 'auth = { kind = "hmac", secret = "x", header = "X-Sig", '
            'algorithm = "md5" }\n',
            "route \"prod\": auth.algorithm: Input should be 'sha256', 'sha512' or 'sha1'",
        ),
        (
            ROBOTS + ROUTE + 'auth = { kind = "grafana", secret = "x", max_age = 0 }\n',
            'route "prod": auth.max_age: Input should be greater than or equal to 1',
        ),
        (
            ROBOTS + ROUTE + 'time_zone = "Mars/Olympus"\n',
            "route \"prod\": time_zone: time zone 'Mars/Olympus' is unknown; use an IANA name",
        ),
        (
            ROBOTS + ROUTE + 'time_zone = "../../etc/passwd"\n',
            "route \"prod\": time_zone: time zone '../../etc/passwd' is unknown",
        ),
        (
            ROBOTS + ROUTE + 'resolved = "sometimes"\n',
            "route \"prod\": resolved: Input should be 'update' or 'repeat'",
        ),
        (
            ROBOTS + ROUTE + 'match = { severity = "~((" }\n',
            "route \"prod\": match: severity: '((' is not a valid regex",
        ),
        (
            ROBOTS + ROUTE + 'match = { severity = ["!info", "warning"] }\n',
            'route "prod": match: severity: a list means any of its values, so it cannot hold '
            "a negation",
        ),
        (
            ROBOTS + ROUTE + "match = { severity = 3 }\n",
            'route "prod": match: severity: expected a string or a list of 1 to 100 strings, '
            "not a number",
        ),
        (
            ROBOTS + ROUTE + 'match = { severity = "~' + "a" * 600 + '" }\n',
            'route "prod": match: severity: the regex is over 512 characters',
        ),
        (
            ROBOTS + ROUTE + "match = [1]\n",
            'route "prod": match: expected a table of label = value',
        ),
        (
            ROBOTS + ROUTE + 'events = ["push"]\n',
            "route \"prod\": events: alertmanager sends no 'push' (known: alert)",
        ),
        (
            ROBOTS + ROUTE.replace("alertmanager", "github") + 'events = ["pish"]\n',
            "route \"prod\": events: github sends no 'pish' (known: push, workflow_run",
        ),
        (
            ROBOTS + ROUTE + 'template = "{{ n.title "\n',
            'route "prod": template: line 1: unexpected end of template',
        ),
        (
            ROBOTS + ROUTE + 'template = "{{ n.titel }}"\n',
            'route "prod": template fails on every alertmanager sample: alert: ',
        ),
        (
            ROBOTS + ROUTE + 'template = "x"\ntemplate_file = "y"\n',
            'route "prod": give template or template_file, not both',
        ),
        (
            ROBOTS + ROUTE + 'template_file = "no-such.md.j2"\n',
            'route "prod": template_file: no such file',
        ),
        (
            ROBOTS + ROUTE + 'at = ["has space"]\n',
            'route "prod": at[0]: String should match pattern',
        ),
        (
            ROBOTS + ROUTE + 'at_all = "yes"\n',
            'route "prod": at_all: expected true or false',
        ),
        (
            ROBOTS + ROUTE + 'robots = "ops"\n',
            "",  # TOML itself refuses a key given twice
        ),
        (
            ROBOTS + ROUTE.replace('robots = ["ops"]', 'robots = "ops"'),
            'route "prod": robots: expected a list',
        ),
        (
            ROBOTS + ROUTE.replace('robots = ["ops"]', "robots = []"),
            'route "prod": robots: Tuple should have at least 1 item',
        ),
        (
            ROBOTS + ROUTE.replace('name = "prod"', 'name = "pr od"'),
            "route[0]: name: 'pr od' is not a name: use 1 to 64 letters, digits, _ . or -",
        ),
        (
            ROBOTS + ROUTE.replace('name = "prod"\n', ""),
            "route[0]: name: missing: this key is required",
        ),
        (
            ROBOTS + ROUTE + ROUTE.replace("alertmanager", "github"),
            'route "prod": the name is used twice',
        ),
        (
            ROBOTS + ROBOTS.replace('"ops"', '"ops2"').replace('"dev"', '"dev2"') + ROUTE,
            'robot "ops2": the same robot as "ops" (same token): a robot has one budget',
        ),
        (
            ROBOTS + ROBOTS + ROUTE,
            'robot "ops": the name is used twice; robot "dev": the name is used twice',
        ),
        (
            '[[robot]]\nname = "a"\n' + ROUTE.replace('"ops"', '"a"'),
            'robot "a": give webhook (the URL from the group\'s robot settings) or token',
        ),
        (
            '[[robot]]\nname = "a"\ntoken = "t1t1t1t1"\nwebhook = "https://x/?access_token=y"\n'
            + ROUTE.replace('"ops"', '"a"'),
            'robot "a": give webhook (the URL from the group\'s robot settings) or token (what '
            "follows access_token= in it), exactly one of them",
        ),
        (
            '[[robot]]\nname = "a"\ntoken = "t1t1t1t1"\npool = "p q"\n'
            + ROUTE.replace('"ops"', '"a"'),
            "robot \"a\": pool: 'p q' is not a name",
        ),
        (
            '[[robot]]\nname = "a"\ntoken = "t1t1t1t1"\nkeywords = ["x"]\n'
            + ROUTE.replace('"ops"', '"a"'),
            'robot "a": keywords: unknown key (known: name, webhook, token, secret, keyword, pool)',
        ),
        (
            ROBOTS + ROUTE + "[relay]\nresolved = 1\nfoo = 2\n",
            "[relay]: resolved: Input should be 'update' or 'repeat'; [relay]: foo: unknown "
            "key (known: time_zone, resolved, mention_label, contacts)",
        ),
        (
            ROBOTS + ROUTE + "[owners]\nalice = 3\n",
            '[owners]: alice: give a userId or a list of them, e.g. ["0123"]',
        ),
        (
            ROBOTS + ROUTE + "colour = 1\n".replace("colour", "[route.x]\ny"),
            'route "prod": x: unknown key',
        ),
        (
            ROBOTS + ROUTE + "\n[other]\n",
            "other: unknown key (known: relay, owners, robot, route, silence)",
        ),
        (ROUTE, "no [[robot]] table: declare at least one"),
        ("", "no [[robot]] table: declare at least one"),
    ],
)
def test_every_mistake_names_its_table_and_key(snippet: str, expected: str) -> None:
    if not expected:
        with pytest.raises(ConfigurationError, match="not valid TOML"):
            load(snippet)
        return
    assert expected in error(snippet)


@pytest.mark.parametrize(
    ("silence", "expected"),
    [
        ('match = { a = "b" }\nend = 2026-12-06T02:00:00\n', "end: give an offset (RFC 3339)"),
        ('match = { a = "b" }\n', "give end (RFC 3339 with an offset"),
        (
            'match = { a = "b" }\nstart = 2026-12-06T02:00:00Z\nend = 2026-12-06T01:00:00Z\n',
            "start must be before end",
        ),
        ('match = { a = "b" }\nfrom = "23:00"\n', "a weekly window needs both from and to"),
        ('match = { a = "b" }\nfrom = "23:00"\nto = "23:00"\n', "from and to are equal"),
        (
            'match = { a = "b" }\nfrom = "23:00"\nto = "01:00"\ndays = ["sun", "xyz"]\n',
            "days: 'xyz' is not a day; use mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            'match = { a = "b" }\nfrom = "23:00"\nto = "01:00"\ndays = []\n',
            "days: Tuple should have at least 1 item",
        ),
        ('match = { a = "b" }\nfrom = "25:00"\nto = "01:00"\n', "from: Input should be"),
        (
            'match = { a = "b" }\nfrom = "23:00"\nto = "01:00"\nend = 2026-12-06T02:00:00Z\n',
            "give start/end (one window) or from/to (weekly), not both",
        ),
        (
            'match = { a = "b" }\nend = 2026-12-06T02:00:00Z\ntime_zone = "UTC"\n',
            "time_zone is for weekly windows",
        ),
        (
            'match = { a = "b" }\nfrom = "23:00"\nto = "01:00"\ntime_zone = "Nowhere/X"\n',
            "time_zone: time zone 'Nowhere/X' is unknown",
        ),
        ("end = 2026-12-06T02:00:00Z\n", "match: missing: this key is required"),
        (
            'match = { a = "b" }\nend = 2026-12-06T02:00:00Z\nreason = "x"\n',
            "reason: unknown key (known: name, comment, match, start, end, days, from, to, "
            "time_zone)",
        ),
    ],
)
def test_silence_mistakes_name_the_silence_and_key(silence: str, expected: str) -> None:
    message = error(ROBOTS + ROUTE + '[[silence]]\nname = "nightly"\n' + silence)
    assert message.startswith('silence "nightly": ')
    assert expected in message


def test_an_unnamed_silence_is_named_by_its_index() -> None:
    text = ROBOTS + ROUTE + "[[silence]]\nmatch = {}\nend = 2026-12-06T02:00:00Z\n"
    text += '[[silence]]\nmatch = { a = "b" }\n'
    assert error(text).startswith("silence[1]: give end")


def test_duplicate_silence_names_are_an_error() -> None:
    one = '[[silence]]\nname = "s"\nmatch = {}\nend = 2026-12-06T02:00:00Z\n'
    assert 'silence "s": the name is used twice' in error(ROBOTS + ROUTE + one + one)


def test_two_robots_of_one_pool_in_one_route_are_refused() -> None:
    robots = ROBOTS.replace('name = "ops"', 'name = "ops"\npool = "g"').replace(
        'name = "dev"', 'name = "dev"\npool = "g"'
    )
    message = error(robots + ROUTE.replace('["ops"]', '["ops", "dev"]'))
    assert message == (
        'route "prod": robots: ops, dev are all in pool "g" (one group): name one, the relay '
        "spreads the load"
    )


def test_many_problems_are_listed_ten_at_most() -> None:
    routes = "".join(ROUTE.replace('"prod"', f'"r{i}"').replace('"ops"', '"x"') for i in range(15))
    message = error(ROBOTS + routes)
    assert message.count("unknown robot") == 10
    assert message.endswith("; and 5 more")


def test_secrets_never_appear_in_errors() -> None:
    bad_url = '[[robot]]\nname = "a"\nwebhook = "https://example.com/hook?key=robot-secret-0009"\n'
    message = error(bad_url + ROUTE.replace('"ops"', '"a"'))
    assert message.startswith('robot "a": webhook: not a robot webhook')
    assert "robot-secret-0009" not in message
    url_as_token = (
        '[[robot]]\nname = "a"\n'
        'token = "https://oapi.dingtalk.com/robot/send?access_token=robot-secret-0010"\n'
    )
    message = error(url_as_token + ROUTE.replace('"ops"', '"a"'))
    assert "robot-secret-0010" not in message
    assert "token: give only the value after access_token=" in message
    # Another table's mistake does not print the secrets next to it.
    message = error(
        ROBOTS + ROUTE + f'auth = {{ kind = "bearer", token = "{ROUTE_TOKEN}" }}\n' + "bogus = 1\n"
    )
    for secret in SECRETS:
        assert secret not in message
    # Nor does a secret of the wrong shape.
    message = error(ROBOTS + ROUTE + 'auth = { kind = "bearer", token = "" }\n')
    assert "auth.token: Value should have at least 1 item" in message


def test_load_config_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigurationError, match=r"nope\.toml: no such config file"):
        load_config(missing)
    path = tmp_path / "relay.toml"
    path.write_text(ROBOTS + ROUTE.replace('"ops"', '"opz"'))
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f'{path}: route "prod": robots: unknown robot "opz" (known: ops, dev)'
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe[[robot]]", "not UTF-8 text"),
        (b"\x00\x01\x02", "not valid TOML"),
        (b"a = [" * 50_000, "not valid TOML"),
        (b"x = " + b"[" * 100_000 + b"]" * 100_000, "not valid TOML (nested too deeply"),
        (b"x = " + b"{a=" * 50_000 + b"1" + b"}" * 50_000, "not valid TOML (nested too deeply"),
        (b"x = " + b"9" * 100_000, "not valid TOML"),
        (b"#" * (MAX_CONFIG_BYTES + 1), f"the config is over {MAX_CONFIG_BYTES} bytes"),
    ],
)
def test_hostile_files_are_config_errors(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "relay.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert expected in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_hostile_text_is_a_config_error() -> None:
    with pytest.raises(ConfigurationError, match="over 1000000 bytes"):
        parse_config("#" + "é" * (MAX_CONFIG_BYTES // 2 + 1))


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("robot = 3\n" + ROUTE, "robot: expected a list"),
        ("robot = [3]\n" + ROUTE, "robot[0]: expected a table"),
        ("relay = []\n" + ROBOTS + ROUTE, "[relay]: expected a table"),
        (ROBOTS + ROUTE + "rules = 3\n", 'route "prod": rules: expected a list'),
        (ROBOTS + ROUTE + "rules = [[1]]\n", 'route "prod": rules[0]: expected a table'),
        (ROBOTS + ROUTE + "auth = 3\n", 'route "prod": auth: expected a table'),
        (
            ROBOTS + ROUTE + "[route.auth.deep.deeper]\nx = 1\n",
            'route "prod": auth: give kind: one of bearer',
        ),
        (ROBOTS + ROUTE + "match = { a = { b = { c = 1 } } }\n", "expected a string or a list"),
        (
            ROBOTS
            + ROUTE.replace("alertmanager", "grafana")
            + 'auth = { kind = "grafana", secret = "x", max_age = "5" }\n',
            'route "prod": auth.max_age: expected a whole number',
        ),
        (
            ROBOTS
            + ROUTE.replace("alertmanager", "grafana")
            + 'auth = { kind = "grafana", secret = "x", max_age = 5.0 }\n',
            'route "prod": auth.max_age: expected a whole number',
        ),
        (ROBOTS + ROUTE.replace('"prod"', "3"), "route[0]: name: expected a string"),
        (ROBOTS + ROUTE + 'match = { a = [["x"]] }\n', "a: list items must be strings"),
        (
            ROBOTS + ROUTE + "match = { " + ", ".join(f"l{i} = 'x'" for i in range(65)) + " }\n",
            "at most 64 labels in one match table",
        ),
    ],
)
def test_wrong_types_and_shapes_are_config_errors(snippet: str, expected: str) -> None:
    assert expected in error(snippet)


def test_a_thousand_and_one_routes_are_refused() -> None:
    routes = "".join(ROUTE.replace('"prod"', f'"r{i}"') for i in range(1001))
    assert "route: Tuple should have at most 1000 items" in error(ROBOTS + routes)


def test_unicode_in_names_is_refused_and_in_keywords_kept() -> None:
    assert "is not a name" in error(ROBOTS.replace('"ops"', '"运维"') + ROUTE)
    config = load(ROBOTS.replace('name = "ops"', 'name = "ops"\nkeyword = "告警"') + ROUTE)
    assert config.robot("ops").keyword == "告警"


# What TOML can hold, nested: a fuzzer's config.
toml_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        ["env:X", "env:", "~(", "!", "=", "ops", "dev", "critical", "23:00", "bearer"]
    )
    | st.datetimes(timezones=st.just(UTC))
    | st.datetimes()
    | st.dates()
    | st.times()
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
VALID: dict[str, Any] = tomllib.loads(
    ROBOTS
    + ROUTE
    + 'auth = { kind = "grafana", secret = "x" }\n'
    + '[[silence]]\nmatch = { a = "b" }\nfrom = "23:00"\nto = "01:00"\n'
)
PLACES = [
    ("relay",),
    ("owners",),
    ("robot", 0),
    ("route", 0),
    ("route", 0, "auth"),
    ("silence", 0),
    ("route", 0, "match"),
    (),
]
KEYS = [
    "name",
    "source",
    "robots",
    "rules",
    "match",
    "auth",
    "kind",
    "token",
    "secret",
    "webhook",
    "pool",
    "events",
    "template",
    "time_zone",
    "at",
    "at_all",
    "from",
    "to",
    "days",
    "start",
    "end",
    "header",
    "max_age",
    "robot",
    "route",
    "silence",
    "relay",
    "owners",
    "x",
]


@settings(
    derandomize=True,
    deadline=None,
    max_examples=400,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(place=st.sampled_from(PLACES), key=st.sampled_from(KEYS), value=toml_values)
def test_any_value_anywhere_is_a_config_or_a_config_error(
    place: tuple[str | int, ...], key: str, value: Any
) -> None:
    raw = copy.deepcopy(VALID)
    table: Any = raw
    for part in place:
        table = table.setdefault(part, {}) if isinstance(part, str) else table[part]
    table[key] = value
    message = ""
    try:
        validate_config(raw, environ={})
    except ConfigurationError as error:
        message = str(error)
    assert "validation error" not in message
    assert "\n" not in message


@settings(derandomize=True, deadline=None, max_examples=100, database=None)
@given(value=toml_values)
def test_any_document_is_a_config_or_a_config_error(value: Any) -> None:
    with pytest.raises(ConfigurationError):
        validate_config(value if isinstance(value, dict) else {"x": value}, environ={})
    with pytest.raises(ConfigurationError):
        validate_config([value], environ={})  # type: ignore[arg-type]


def test_toml_dates_and_times_of_the_wrong_kind_are_errors() -> None:
    raw = copy.deepcopy(VALID)
    raw["silence"][0] = {"match": {}, "end": date(2026, 1, 1)}
    with pytest.raises(ConfigurationError, match="silence\\[0\\]: end: "):
        validate_config(raw, environ={})
    raw["silence"][0] = {"match": {}, "from": datetime(2026, 1, 1), "to": time(1)}
    with pytest.raises(ConfigurationError, match="silence\\[0\\]: from: "):
        validate_config(raw, environ={})


def test_a_relay_without_routes_is_one_that_only_dingkit_send_posts_to() -> None:
    assert parse_config(ROBOTS, environ={}).routes == ()
