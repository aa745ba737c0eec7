from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dingkit.relay.config import RelayConfig, parse_config
from dingkit.relay.notification import Alert, Notification
from dingkit.relay.silences import (
    Window,
    active,
    ended_between,
    silenced,
    window,
    windows_ending,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

HEAD = """
[relay]
time_zone = "Asia/Shanghai"

[[robot]]
name = "team"
token = "teamteam01"

[[route]]
name = "prod"
source = "alertmanager"
robots = ["team"]

[[route]]
name = "eu"
source = "alertmanager"
robots = ["team"]
time_zone = "Europe/Berlin"
"""

WEEKLY = """
[[silence]]
name = "vacuum"
comment = "weekly database maintenance"
match = { alertname = "~Postgres.*" }
days = ["sat"]
from = "23:00"
to = "02:00"
"""

ONCE = """
[[silence]]
name = "migration"
match = { env = "staging" }
start = 2026-12-06T01:00:00+08:00
end = 2026-12-06T05:00:00+08:00
"""


def config(silences: str) -> RelayConfig:
    return parse_config(textwrap.dedent(HEAD + silences), environ={})


def note(**labels: str) -> Notification:
    return Notification(
        source="alertmanager",
        event="alert",
        title="t",
        severity="warning",
        status="firing",
        labels=labels,
    )


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


PG = note(alertname="PostgresDown")

# 2026-12-05 is a Saturday.
SATURDAY = (2026, 12, 5)
SUNDAY = (2026, 12, 6)


@pytest.mark.parametrize(
    ("moment", "held"),
    [
        (local(SHANGHAI, *SATURDAY, 22, 59, 59), False),
        (local(SHANGHAI, *SATURDAY, 23, 0), True),  # from is inclusive
        (local(SHANGHAI, *SATURDAY, 23, 59), True),
        (local(SHANGHAI, *SUNDAY, 0, 0), True),  # across midnight
        (local(SHANGHAI, *SUNDAY, 1, 59, 59), True),
        (local(SHANGHAI, *SUNDAY, 2, 0), False),  # to is exclusive
        (local(SHANGHAI, *SUNDAY, 23, 30), False),  # Sunday is not a window day
        (local(SHANGHAI, 2026, 12, 4, 23, 30), False),  # nor Friday
        (local(SHANGHAI, 2026, 12, 12, 23, 30), True),  # next Saturday
        (datetime(2026, 12, 5, 15, 30, tzinfo=UTC), True),  # 23:30 in Shanghai
        (datetime(2026, 12, 5, 14, 30, tzinfo=UTC), False),  # 22:30 in Shanghai
    ],
)
def test_a_weekly_window_across_midnight(moment: datetime, held: bool) -> None:
    relay = config(WEEKLY)
    found = silenced(relay, PG, moment)
    assert (found is not None) is held
    if held:
        assert found is relay.silences[0]


def test_only_matching_notifications_are_held() -> None:
    relay = config(WEEKLY)
    moment = local(SHANGHAI, *SATURDAY, 23, 30)
    assert silenced(relay, note(alertname="DiskFull"), moment) is None
    assert silenced(relay, note(alertname="MyPostgresDown"), moment) is None  # anchored
    assert silenced(relay, PG, moment) is relay.silences[0]


def test_weekly_windows_use_the_silence_then_the_route_then_the_relay_zone() -> None:
    relay = config(WEEKLY)
    prod, eu = relay.routes
    # Saturday 23:30 in Berlin is Sunday 06:30 in Shanghai.
    moment = local(BERLIN, *SATURDAY, 23, 30)
    assert silenced(relay, PG, moment) is None  # the relay's zone: Shanghai
    assert silenced(relay, PG, moment, route=prod) is None
    assert silenced(relay, PG, moment, route=eu) is not None
    own = config(WEEKLY + 'time_zone = "Europe/Berlin"\n')
    assert silenced(own, PG, moment) is not None
    assert silenced(own, PG, local(SHANGHAI, *SATURDAY, 23, 30), route=eu) is None


def test_a_weekly_window_on_a_daylight_saving_night() -> None:
    # 2026-03-29: Berlin's clocks go from 02:00 CET to 03:00 CEST; the window is 2 h long.
    relay = config(
        WEEKLY.replace('["sat"]', '["sun"]')
        .replace('"23:00"', '"01:00"')
        .replace('"02:00"', '"04:00"')
        + 'time_zone = "Europe/Berlin"\n'
    )
    assert silenced(relay, PG, datetime(2026, 3, 28, 23, 59, tzinfo=UTC)) is None
    assert silenced(relay, PG, datetime(2026, 3, 29, 0, 0, tzinfo=UTC)) is not None  # 01:00 CET
    assert silenced(relay, PG, datetime(2026, 3, 29, 1, 59, tzinfo=UTC)) is not None
    assert silenced(relay, PG, datetime(2026, 3, 29, 2, 0, tzinfo=UTC)) is None  # 04:00 CEST
    found = window(relay.silences[0], datetime(2026, 3, 29, 1, tzinfo=UTC), time_zone="UTC")
    assert found == Window(
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC), datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    )


def test_a_same_day_weekly_window_every_day_by_default() -> None:
    relay = config('[[silence]]\nmatch = { env = "ci" }\nfrom = 12:00:00\nto = 13:30:00\n')
    for day in range(1, 8):
        assert silenced(relay, note(env="ci"), local(SHANGHAI, 2026, 12, day, 12, 45))
        assert not silenced(relay, note(env="ci"), local(SHANGHAI, 2026, 12, day, 13, 30))
        assert not silenced(relay, note(env="ci"), local(SHANGHAI, 2026, 12, day, 11, 59))


@pytest.mark.parametrize(
    ("moment", "held"),
    [
        (datetime(2026, 12, 5, 16, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 12, 5, 17, 0, tzinfo=UTC), True),  # 01:00 +08:00
        (local(SHANGHAI, *SUNDAY, 4, 59), True),
        (local(SHANGHAI, *SUNDAY, 5, 0), False),
        (local(ZoneInfo("America/New_York"), *SATURDAY, 13, 0), True),  # 02:00 in Shanghai
    ],
)
def test_an_absolute_window_compares_instants_whatever_their_zone(
    moment: datetime, held: bool
) -> None:
    relay = config(ONCE)
    assert (silenced(relay, note(env="staging"), moment) is not None) is held
    assert silenced(relay, note(env="prod"), moment) is None


def test_an_absolute_window_without_start_holds_until_its_end() -> None:
    relay = config('[[silence]]\nmatch = {}\nend = "2026-12-06T05:00:00Z"\n')
    assert silenced(relay, note(), datetime(2000, 1, 1, tzinfo=UTC)) is not None
    assert silenced(relay, note(), datetime(2026, 12, 6, 5, tzinfo=UTC)) is None


def test_a_group_is_held_only_when_every_alert_matches() -> None:
    relay = config(WEEKLY)
    moment = local(SHANGHAI, *SATURDAY, 23, 30)

    def group(*names: str) -> Notification:
        alerts = tuple(
            Alert(
                name=n,
                status="firing",
                severity="warning",
                fingerprint=str(i),
                labels={"alertname": n},
            )
            for i, n in enumerate(names)
        )
        return Notification(
            source="alertmanager",
            event="alert",
            title="t",
            severity="warning",
            status="firing",
            labels={"job": "db"},
            alerts=alerts,
        )

    assert silenced(relay, group("PostgresDown", "PostgresSlow"), moment) is not None
    assert silenced(relay, group("PostgresDown", "DiskFull"), moment) is None
    assert silenced(relay, group(), moment) is None


def test_the_first_open_silence_that_matches_wins() -> None:
    relay = config(
        WEEKLY + ONCE + '[[silence]]\nname = "all"\nmatch = {}\nend = 2027-01-01T00:00:00Z\n'
    )
    moment = local(SHANGHAI, *SUNDAY, 1, 30)
    assert [s.name for s in active(relay, moment)] == ["vacuum", "migration", "all"]
    assert silenced(relay, PG, moment).name == "vacuum"  # type: ignore[union-attr]
    assert silenced(relay, note(env="staging"), moment).name == "migration"  # type: ignore[union-attr]
    assert silenced(relay, note(), moment).name == "all"  # type: ignore[union-attr]


def test_naive_times_are_refused() -> None:
    relay = config(WEEKLY)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        silenced(relay, PG, datetime(2026, 12, 5, 23, 30))
    with pytest.raises(ValueError, match="after must be timezone-aware"):
        ended_between(relay, datetime(2026, 12, 5), datetime(2026, 12, 6, tzinfo=UTC))


def test_an_absolute_end_is_seen_by_exactly_one_tick() -> None:
    relay = config(ONCE)
    end = local(SHANGHAI, *SUNDAY, 5, 0)
    ticks = [end - timedelta(seconds=90) + timedelta(seconds=30 * i) for i in range(7)]
    seen = [ended_between(relay, a, b) for a, b in itertools.pairwise(ticks)]
    assert [len(s) for s in seen] == [0, 0, 1, 0, 0, 0]
    assert seen[2][0].name == "migration"
    assert ended_between(relay, end, end + timedelta(hours=1)) == []  # (after, until]
    assert ended_between(relay, end - timedelta(hours=1), end) == [relay.silences[0]]
    assert ended_between(relay, end, end) == []
    assert ended_between(relay, end + timedelta(hours=1), end - timedelta(hours=1)) == []


def test_a_weekly_end_is_seen_by_exactly_one_minute_tick_across_the_night() -> None:
    relay = config(WEEKLY)
    start = local(SHANGHAI, *SATURDAY, 22, 0)
    ticks = [start + timedelta(minutes=i) for i in range(6 * 60)]
    ended = [b for a, b in itertools.pairwise(ticks) if ended_between(relay, a, b)]
    assert ended == [local(SHANGHAI, *SUNDAY, 2, 0)]


def test_windows_ending_lists_each_end_in_a_long_span() -> None:
    relay = config(WEEKLY)
    silence = relay.silences[0]
    after = local(SHANGHAI, *SATURDAY, 0, 0)
    found = windows_ending(silence, after, after + timedelta(days=7, hours=3), time_zone="UTC")
    # In UTC the window is Saturday 23:00 to Sunday 02:00 UTC.
    assert found == [
        Window(datetime(2026, 12, 5, 23, tzinfo=UTC), datetime(2026, 12, 6, 2, tzinfo=UTC)),
    ]
    month = windows_ending(silence, after, after + timedelta(days=30), time_zone="Asia/Shanghai")
    assert len(month) >= 1  # only the last eight days are looked at
    assert all(w.end <= after + timedelta(days=30) for w in month)
    assert ended_between(relay, after, after + timedelta(days=30)) == [silence]


def test_window_says_when_the_open_window_ends() -> None:
    relay = config(WEEKLY + ONCE)
    weekly, once = relay.silences
    inside = local(SHANGHAI, *SUNDAY, 1, 0)
    assert window(weekly, inside, time_zone="Asia/Shanghai") == Window(
        local(SHANGHAI, *SATURDAY, 23, 0).astimezone(UTC),
        local(SHANGHAI, *SUNDAY, 2, 0).astimezone(UTC),
    )
    assert window(once, inside, time_zone="UTC") == Window(
        local(SHANGHAI, *SUNDAY, 1, 0).astimezone(UTC), local(SHANGHAI, *SUNDAY, 5, 0)
    )
    assert window(weekly, local(SHANGHAI, *SUNDAY, 3, 0), time_zone="Asia/Shanghai") is None
    assert inside in window(weekly, inside, time_zone="Asia/Shanghai")  # type: ignore[operator]
