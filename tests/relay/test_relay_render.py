from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from dingkit import ConfigurationError
from dingkit.relay import SourceError, load_template, parse, render
from dingkit.robot.compose import MAX_BODY_BYTES, encode_body, validate_message
from dingkit.robot.messages import At, Markdown, to_payload

from .payloads import load

SINGLE = "alertmanager/single-firing.json"
MIXED = "alertmanager/mixed-firing-resolved.json"


def size(message: Markdown) -> int:
    return len(encode_body(to_payload(message)))


def alert_group(count: int, *, description: str = "disk almost full") -> dict[str, Any]:
    """A firing group of ``count`` alerts, one in ten critical, built on a real fixture."""
    body = copy.deepcopy(load(MIXED))
    template = body["alerts"][0]
    alerts = []
    for i in range(count):
        alert = copy.deepcopy(template)
        alert["labels"] = {**alert["labels"], "instance": f"10.0.{i // 256}.{i % 256}"}
        alert["labels"]["severity"] = "critical" if i % 10 == 0 else "warning"
        alert["annotations"] = {"description": description}
        alert["fingerprint"] = f"{i:016x}"
        alerts.append(alert)
    body["alerts"] = alerts
    return body


# -- time zones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Shanghai", "Since: 2018-08-03 15:52:26 (UTC+08:00)"),
        ("UTC", "Since: 2018-08-03 07:52:26 (UTC)"),
        ("America/New_York", "Since: 2018-08-03 03:52:26 (UTC-04:00)"),  # summer time
        ("Asia/Kolkata", "Since: 2018-08-03 13:22:26 (UTC+05:30)"),
    ],
)
def test_times_are_shown_in_the_route_s_zone(zone: str, shown: str) -> None:
    note = parse("alertmanager", {}, load(SINGLE))
    assert shown in render(note, time_zone=zone).text


def test_the_default_zone_is_china_time() -> None:
    note = parse("github", {"X-GitHub-Event": "push"}, load("github/push-new-branch-1-commit.json"))
    assert "At: 2019-05-15 23:19:25 (UTC+08:00)" in render(note).text


def test_an_unknown_zone_is_a_configuration_error() -> None:
    note = parse("alertmanager", {}, load(SINGLE))
    with pytest.raises(ConfigurationError, match="Mars/Olympus"):
        render(note, time_zone="Mars/Olympus")


# -- size ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [100, 500, 5000])
def test_a_huge_group_is_shortened_within_the_limit_most_severe_first(count: int) -> None:
    note = parse("alertmanager", {}, alert_group(count))
    message = render(note)
    body = validate_message(message, msg_uuid="f" * 32)
    assert len(body) <= MAX_BODY_BYTES
    shown = message.text.count("\n#### ")
    assert 10 < shown < count
    assert f"**… and {count - shown} more**" in message.text
    # Critical alerts come first, so they are the ones kept.
    criticals = count // 10 + (1 if count % 10 else 0)
    assert message.text.count("#### 🔴 CRITICAL") == min(shown, criticals)
    # The cut is between alerts: the last alert's block is whole, the footer is there.
    assert message.text.rstrip().endswith("[Alertmanager](http://10.30.12.22:9193)")


def test_shortening_keeps_as_many_alerts_as_fit() -> None:
    note = parse("alertmanager", {}, alert_group(300))
    message = render(note, max_bytes=6000)
    assert size(message) <= 6000
    shown = message.text.count("\n#### ")
    # One alert more would not have fitted: each block is ~200 bytes, the margin is less.
    assert 6000 - size(message) < 400
    assert shown > 15


def test_a_small_group_is_never_shortened() -> None:
    message = render(parse("alertmanager", {}, load(MIXED)))
    assert "more**" not in message.text
    assert message.text.count("\n#### ") == 4


def test_huge_strings_are_clipped_not_sent_whole() -> None:
    body = alert_group(3, description="x" * 100_000)
    body["alerts"][0]["labels"]["instance"] = "i" * 50_000
    message = render(parse("alertmanager", {}, body))
    assert size(message) < 3000
    assert "x…" in message.text


def test_a_route_template_that_ignores_the_alert_list_is_cut_at_a_line() -> None:
    template = load_template("{% for a in n.alerts %}line {{ loop.index }}\n{% endfor %}")
    message = render(parse("alertmanager", {}, alert_group(3000)), template=template)
    assert size(message) <= MAX_BODY_BYTES - 512
    lines = message.text.splitlines()
    assert lines[-1] == "…(shortened)"
    assert all(line.startswith("line ") for line in lines[:-1])
    assert lines[-2] == f"line {len(lines) - 1}"  # whole lines only


def test_one_enormous_line_is_cut_as_a_last_resort() -> None:
    template = load_template("{{ 'é' * 50000 }}")
    message = render(parse("generic", {}, {"title": "x"}), template=template, mentions=["boss"])
    assert size(message) <= MAX_BODY_BYTES - 512
    assert message.text.endswith("…(shortened)\n\n@boss")


# -- mentions -----------------------------------------------------------------------------------


def test_mentions_are_written_into_the_body_and_the_at_field() -> None:
    note = parse("alertmanager", {}, alert_group(2000))
    message = render(note, mentions=["oncall01", "oncall02", "oncall01"])
    assert message.at.at_user_ids == ("oncall01", "oncall02")
    assert message.text.endswith("@oncall01 @oncall02")
    validate_message(message)


def test_an_at_object_passes_through() -> None:
    note = parse("alertmanager", {}, load(SINGLE))
    message = render(note, mentions=At(at_mobiles=("13800000000",), is_at_all=True))
    assert message.at.is_at_all
    assert "@13800000000" in message.text


# -- injection ---------------------------------------------------------------------------------

HOSTILE = (
    "[click me](https://evil.example/phish) ![](https://evil.example/pixel.png) "
    "<font color=#FF0000>URGENT</font> @all @13800000000 **bold**\n# Heading\n> quote\n- item"
)


def hostile_group() -> dict[str, Any]:
    body = copy.deepcopy(load(SINGLE))
    alert = body["alerts"][0]
    alert["labels"]["alertname"] = HOSTILE
    alert["labels"]["instance"] = HOSTILE
    alert["annotations"] = {"summary": HOSTILE, "description": HOSTILE}
    alert["generatorURL"] = "javascript:alert(1)"
    body["commonLabels"] = {}
    body["groupLabels"] = {}
    body["receiver"] = HOSTILE
    body["externalURL"] = "https://am.example/a (b) [c]"
    return body


def assert_inert(text: str) -> None:
    assert "](https://evil" not in text
    assert "![" not in text
    assert "<font color=#FF0000>" not in text
    assert "@all" not in text
    assert "@13800000000" not in text
    assert "**bold**" not in text
    assert "javascript:" not in text
    for line in text.splitlines():
        assert not line.startswith(("# Heading", "> quote", "- item"))


def test_alert_text_cannot_inject_links_mentions_colours_or_blocks() -> None:
    message = render(parse("alertmanager", {}, hostile_group()))
    assert_inert(message.text)
    assert "［click me］(https://evil.example/phish)" in message.text  # shown, as text
    assert "＠all" in message.text
    assert message.at == At()
    # A URL with brackets and spaces is still one link, its characters escaped.
    assert "[Alertmanager](https://am.example/a%20%28b%29%20%5Bc%5D)" in message.text


def test_ci_text_cannot_inject_either() -> None:
    body = copy.deepcopy(load("github/pull_request-opened.json"))
    body["pull_request"]["title"] = HOSTILE
    body["pull_request"]["head"]["ref"] = HOSTILE
    body["pull_request"]["html_url"] = "javascript:alert(1)"
    body["sender"]["login"] = "@all"
    message = render(parse("github", {"X-GitHub-Event": "pull_request"}, body))
    assert_inert(message.text)
    assert (
        "\u202e" not in render(parse("generic", {}, {"title": "a\u202eb", "text": "c\u200bd"})).text
    )


def test_the_title_is_one_plain_line() -> None:
    message = render(parse("generic", {}, {"title": "line1\nline2\u202e " + "y" * 500}))
    assert "\n" not in message.title
    assert "\u202e" not in message.title
    assert len(message.title) <= 100


# -- route templates ------------------------------------------------------------------------------


def test_a_route_template_renders_with_the_notification_and_its_raw_body() -> None:
    template = load_template(
        "{% set title = 'Alert: ' ~ n.labels.alertname %}"
        "{{ n.status|upper }} {{ raw.receiver|md }} {{ alerts|length }} {{ n.time|time }}",
        source="alertmanager",
    )
    message = render(parse("alertmanager", {}, load(MIXED)), template=template)
    assert message.title == "Alert: CPUHigh"
    assert message.text == "FIRING devops_team 4 2021-03-30 20:17:50 (UTC+08:00)"


def test_a_typo_fails_when_the_config_is_loaded() -> None:
    with pytest.raises(ConfigurationError, match="notifcation"):
        load_template("{{ notifcation.title }}", source="alertmanager")
    with pytest.raises(ConfigurationError, match="labls"):
        load_template("{{ n.labls.alertname }}", source="github")
    with pytest.raises(ConfigurationError, match="line 2"):
        load_template("ok\n{% if %}", source="github")


def test_an_event_specific_template_loads_when_one_sample_fits() -> None:
    text = "PR {{ raw.pull_request.title|md }}"
    load_template(text, source="github")
    load_template(text, source="github", events=["pull_request"])
    with pytest.raises(ConfigurationError, match="push"):
        load_template(text, source="github", events=["push"])


def test_a_generic_template_may_read_any_field_of_the_body() -> None:
    template = load_template("{{ raw.service.name|md }} is {{ raw.state }}", source="generic")
    note = parse("generic", {}, {"service": {"name": "db"}, "state": "down"})
    assert render(note, template=template).text == "db is down"
    with pytest.raises(ConfigurationError, match="rw"):
        load_template("{{ rw.service }}", source="generic")


def test_a_body_missing_what_the_route_template_needs_is_a_source_error() -> None:
    template = load_template("{{ raw.service.name }}", source="generic")
    with pytest.raises(SourceError) as caught:
        render(parse("generic", {}, {"state": "down"}), template=template)
    assert caught.value.field == "template"


@pytest.mark.parametrize(
    "text",
    [
        "{{ n.__class__.__mro__ }}",
        "{{ raw.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% set _ = n.alerts.append(1) %}",
        "{{ raw.update(x=1) }}",
    ],
)
def test_the_sandbox_keeps_templates_from_python_internals_and_mutation(text: str) -> None:
    note = parse("alertmanager", {}, load(SINGLE))
    try:
        template = load_template(text)
    except ConfigurationError:
        return
    with pytest.raises(SourceError):
        render(note, template=template)


def test_template_text_is_accepted_directly() -> None:
    note = parse("generic", {}, {"title": "t"})
    assert render(note, template="hello {{ n.title }}").text == "hello t"


def test_a_packaged_template_exists_for_every_source() -> None:
    from dingkit.relay import SOURCES
    from dingkit.relay.templating import environment

    names = environment().list_templates()
    for source in SOURCES:
        assert f"{source}.md.j2" in names


def test_deeply_nested_raw_in_a_route_template_is_a_source_error() -> None:
    nested: Any = "bottom"
    for _ in range(100_000):
        nested = {"a": nested}
    note = parse("generic", {}, {"title": "deep", "data": nested})
    assert render(note).text  # the default template shows only top-level plain fields
    with pytest.raises(SourceError):
        render(note, template="{{ raw }}")
    with pytest.raises(SourceError):
        render(note, template="{{ raw|tojson }}")


def test_render_output_is_json_safe() -> None:
    message = render(parse("generic", {}, {"title": 'quote " backslash \\ tab \t'}))
    json.loads(encode_body(to_payload(message)))
