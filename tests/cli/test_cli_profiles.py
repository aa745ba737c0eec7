"""Robot profiles from a config file: ``--robot NAME --config FILE``, ``DINGKIT_CONFIG``, and
the platform config directory; the environment and ``default_robot`` in between."""

from __future__ import annotations

from pathlib import Path


def _write_config(path: Path, cli_sandbox, *, default: str | None = "alerts") -> Path:
    lines = [f'default_robot = "{default}"', ""] if default else []
    lines += [
        "[robots.alerts]",
        f'webhook = "{cli_sandbox.webhook(cli_sandbox.signed)}"',
        f'secret = "{cli_sandbox.signed.secret}"',
        "",
        "[robots.deploys]",
        f'webhook = "{cli_sandbox.webhook(cli_sandbox.kw)}"',
        'keyword = "deploy"',
        "",
        "[robots.quiet]",
        f'token = "{cli_sandbox.plain.token}"',
        f'base_url = "{cli_sandbox.url}"',
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _content(message) -> str:
    return message["payload"]["text"]["content"]


def test_robot_and_config_options(cli_sandbox, cli, home):
    config = _write_config(home / "robots.toml", cli_sandbox)
    after, rejected = cli_sandbox.mark()
    result = cli.run(
        "send", "text", "release done", "--robot", "deploys", "--config", str(config)
    ).assert_ok()
    assert "via robot 'deploys'" in result.stdout
    [message] = cli_sandbox.messages("kw", after)
    assert _content(message) == "release done\ndeploy"  # the profile's keyword was added

    result = cli.run("send", "text", "signed", "--robot", "alerts", "--config", str(config))
    result.assert_ok()
    [message] = cli_sandbox.messages("signed", after)
    assert _content(message) == "signed"
    assert cli_sandbox.rejections(after=rejected) == []


def test_dingkit_config_variable(cli_sandbox, cli, home):
    config = _write_config(home / "elsewhere" / "dingkit.toml", cli_sandbox)
    after, _ = cli_sandbox.mark()
    result = cli.run("send", "text", "from env config", "--robot", "quiet", env={
        "DINGKIT_CONFIG": str(config)
    }).assert_ok()  # fmt: skip
    assert "via robot 'quiet'" in result.stdout
    [message] = cli_sandbox.messages("plain", after)
    assert _content(message) == "from env config"


def test_platform_config_dir_and_default_robot(cli_sandbox, cli, home):
    # HOME and XDG_CONFIG_HOME point into tmp_path (see conftest): <config>/dingkit/config.toml
    _write_config(home / "config" / "dingkit" / "config.toml", cli_sandbox)
    after, _ = cli_sandbox.mark()
    result = cli.run("send", "text", "default robot", script=True).assert_ok()
    assert "via robot 'alerts'" in result.stdout
    [message] = cli_sandbox.messages("signed", after)
    assert _content(message) == "default robot"


def test_environment_wins_over_default_robot_and_robot_wins_over_environment(
    cli_sandbox, cli, home
):
    _write_config(home / "config" / "dingkit" / "config.toml", cli_sandbox)
    env = {"DINGTALK_ROBOT_WEBHOOK": cli_sandbox.webhook(cli_sandbox.plain)}
    after, _ = cli_sandbox.mark()
    cli.run("send", "text", "env robot", env=env).assert_ok()
    cli.run("send", "text", "deploy via profile", "--robot", "deploys", env=env).assert_ok()
    assert [_content(m) for m in cli_sandbox.messages("plain", after)] == ["env robot"]
    assert [_content(m) for m in cli_sandbox.messages("kw", after)] == ["deploy via profile"]


def test_dry_run_of_a_profile_hides_its_secrets(cli_sandbox, cli, home):
    config = _write_config(home / "robots.toml", cli_sandbox)
    before = cli_sandbox.mark()
    result = cli.run("send", "text", "x", "--robot", "alerts", "--config", str(config), "--dry-run")
    result.assert_ok()
    assert "access_token=***" in result.stdout
    assert "sign=***" in result.stdout
    assert cli_sandbox.mark() == before


def test_unknown_profile_names_the_profiles(cli_sandbox, cli, home):
    config = _write_config(home / "robots.toml", cli_sandbox)
    result = cli.run("send", "text", "x", "--robot", "nosuch", "--config", str(config))
    line = result.assert_failure(
        2, "'nosuch'", "profiles: alerts, deploys, quiet", "[robots.nosuch]"
    )
    assert result.stderr.strip() == line


#: Config files the CLI refuses: (content, text of the error line).
BAD_CONFIGS = [
    ('[robots.alerts\nwebhook = "x"\n', "not valid TOML"),
    ('[robots.a]\ntoken = "abcdefgh"\ncolour = "red"\n', "unknown keys ['colour']"),
    ("[robots.a]\nwebhook = 42\n", "robots.a.webhook must be a string"),
    ('[robots.a]\nsecret = "SECxyz"\n', 'needs webhook = "..." or token = "..."'),
    # (This one does not say which file or profile: see the report.)
    ('[robots.a]\nwebhook = "https://example.com/hook"\n', "not a robot webhook URL"),
]


def test_bad_config_files_exit_2(cli, home):
    commands = []
    for index, (content, _) in enumerate(BAD_CONFIGS):
        path = home / f"bad{index}.toml"
        path.write_text(content, encoding="utf-8")
        commands.append(["send", "text", "x", "--config", str(path), "--dry-run"])
    results = cli.run_many(*commands)
    for index, (result, (_, expected)) in enumerate(zip(results, BAD_CONFIGS, strict=True)):
        line = result.assert_failure(2, expected)
        if "webhook URL" not in expected:
            assert f"bad{index}.toml" in line


def test_missing_explicit_config_file(cli, home):
    missing = home / "nope.toml"
    result = cli.run("send", "text", "x", "--robot", "a", env={"DINGKIT_CONFIG": str(missing)})
    result.assert_failure(2, f"{missing}: no such config file")
