"""The entry points (``python -m dingkit`` and the installed ``dingkit`` script): help, version,
and what a fast start must not import."""

from __future__ import annotations

import dingkit

HEAVY = ("dingkit.sandbox", "uvicorn", "starlette")


def _imported(stderr: str) -> set[str]:
    """Module names from ``python -X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _under(names: set[str], package: str) -> list[str]:
    return sorted(name for name in names if name == package or name.startswith(package + "."))


def test_help_and_version(cli):
    top, send, version = cli.run_many(["--help"], ["send", "--help"], ["--version"])
    top.assert_ok()
    for command in ("send", "errors", "sandbox", "demo"):
        assert command in top.stdout
    send.assert_ok()
    for command in ("text", "markdown", "link", "action-card", "feed-card"):
        assert command in send.stdout
    assert version.assert_ok().stdout == f"dingkit {dingkit.__version__}\n"


def test_installed_script(cli):
    result = cli.run("--version", script=True).assert_ok()
    assert result.stdout == f"dingkit {dingkit.__version__}\n"


def test_help_imports_no_server_and_no_http_stack(cli):
    result = cli.run("--help", python_flags=["-X", "importtime"])
    assert result.returncode == 0, result
    names = _imported(result.stderr)
    assert "dingkit.cli" in names  # the parsing works
    for package in (*HEAVY, "httpx"):
        assert _under(names, package) == [], package


def test_dry_run_imports_no_server(cli):
    result = cli.run(
        "send",
        "text",
        "hi",
        "--dry-run",
        env={"DINGTALK_ROBOT_TOKEN": "importtoken123456"},
        python_flags=["-X", "importtime"],
    )
    assert result.returncode == 0, result
    names = _imported(result.stderr)
    assert "dingkit.robot.target" in names  # the parsing works, and the message was built
    for package in HEAVY:
        assert _under(names, package) == [], package
    # The module's own promise: the HTTP stack is only imported to really send.
    assert _under(names, "httpx") == []


def test_shell_completion(cli):
    """`dingkit --install-completion` is typer's; the script it installs completes commands,
    subcommands and options (the shell asks the installed script, as here)."""
    # The shell is named, and SHELL says it too: typer otherwise asks the parent process,
    # which under a test runner may be no shell at all ("Shell not supported").
    bash = {"SHELL": "/bin/bash"}
    script = cli.run("--show-completion", "bash", env=bash, script=True).assert_ok().stdout
    assert "_DINGKIT_COMPLETE=complete_bash" in script
    assert "--install-completion" in cli.run("--help").assert_ok().stdout

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        env = {
            "_DINGKIT_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        }
        return cli.run(env=env, script=True).assert_ok().stdout.split()

    assert complete("dingkit con") == ["contacts"]
    assert complete("dingkit contacts us") == ["users", "user"]
    assert "--dry-run" in complete("dingkit send text hi --dr")
