"""``dingkit errors CODE``: meaning, retry advice and action for a DingTalk error code."""

from __future__ import annotations

import json

from dingkit._errcodes import lookup, retry_advice

#: code -> (number of entries, a word of the meaning, text of the retry line)
KNOWN = {
    "310000": (1, "security check", "no"),
    "0": (2, "accepted", "not an error"),
    "-1": (2, "busy", "yes, with exponential backoff"),
    "40014": (1, "access_token", "once, after fetching a new access token"),
    "40035": (2, "missing", "no"),
    "88004": (1, "internal error", "yes"),
    "90018": (1, "QPS", "yes, after at least 1 s"),
    "InvalidAuthentication": (1, "invalid or expired", "once"),
}


def _blocks(output: str) -> list[str]:
    return [block for block in output.strip().split("\n\n") if block]


def test_known_codes(cli):
    codes = list(KNOWN)
    results = cli.run_many(*(["errors", code] for code in codes))
    for code, result in zip(codes, results, strict=True):
        result.assert_ok()
        assert result.stderr == "", result
        entries, meaning, retry = KNOWN[code]
        blocks = _blocks(result.stdout)
        assert len(blocks) == entries, result
        for block in blocks:
            assert block.startswith(f"{code} — "), result
            assert "\n  meaning:  " in block, result
            assert "\n  retry:    " in block, result
            assert "\n  do:       " in block, result
        assert meaning in blocks[0], result
        assert f"  retry:    {retry}" in blocks[0], result

    # 40035 means one thing for robots and another for the server APIs.
    robot, oapi = _blocks(results[codes.index("40035")].stdout)
    assert "custom robot webhook" in robot
    assert "body is missing" in robot
    assert "old server API" in oapi
    assert "appkey" in oapi


def test_json_output(cli):
    results = cli.run_many(
        ["errors", "40035", "--json"],
        ["errors", "--json", "-1"],
        ["errors", "InvalidAuthentication", "--json"],
    )
    robot, oapi = results[0].assert_ok().json()
    assert (robot["code"], robot["api"], robot["known"]) == ("40035", "robot", True)
    assert oapi["api"] == "oapi"
    assert {"meaning", "retry", "action"} <= set(robot)
    busy = results[1].assert_ok().json()
    assert [entry["code"] for entry in busy] == ["-1", "-1"]
    [auth] = results[2].assert_ok().json()
    assert (auth["code"], auth["api"], auth["http_status"]) == ("InvalidAuthentication", "api", 400)


def test_unknown_code_exits_2(cli):
    plain, as_json = cli.run_many(["errors", "123456789"], ["errors", "NoSuchCode", "--json"])
    line = plain.assert_failure(2, "'123456789' is not an error code dingkit knows")
    assert plain.stderr.strip() == line
    assert plain.stdout == ""
    as_json.assert_failure(2, "'NoSuchCode'")
    assert json.loads(as_json.stdout) == {
        "code": "NoSuchCode",
        "known": False,
        "message": as_json.stderr.strip().removeprefix("error: "),
    }


def test_ban_codes_say_what_the_sdk_does(cli):
    ban, qps, robot, dept = cli.run_many(
        ["errors", "90005"], ["errors", "90002"], ["errors", "660026"], ["errors", "60008"]
    )
    for result, code in ((ban, 90005), (qps, 90002), (robot, 660026), (dept, 60008)):
        result.assert_ok()
        # The retry line is the catalogue's rule, not a sentence written apart.
        assert f"  retry:    {retry_advice(lookup(code)[0])}\n" in result.stdout
    assert "within 60 s (RetryPolicy.max_wait)" in ban.stdout
    assert "raises:   dingkit.RateLimitError" in ban.stdout
    assert "retry_after=600" in robot.stdout
    assert "父部门下该部门名称已存在" in dept.stdout
    assert "raises:   dingkit.BadRequestError" in dept.stdout
