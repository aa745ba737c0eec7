"""Every example in README.md and README.zh-CN.md runs as written (issue 11).

Each document's fenced blocks run in order, in one working directory of their own, against
a sandbox started the way ``dingkit demo`` starts one, with the ``export`` lines the demo
prints already in the environment (README tells a new user to paste them):

- ``python`` blocks run as scripts, except one whose first line is a comment naming a file
  (``# app.py``): that one is saved under its name for the blocks after it to run
  (``uvicorn app:app``);
- ``sh`` blocks run with ``bash -euo pipefail``, background jobs stopped at the end;
- ``toml`` blocks are read by the loader their first line names (``# config.toml``: a robot
  profile file; ``# sandbox.toml``: a sandbox config; ``# relay.toml``: a relay config) and
  checked;
- ``text`` blocks are output or synopses, shown, not run.

The opening block (the two commands: install and run the demo, install and run the suite)
is what CI itself runs, so it is the one block skipped here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import tokenize
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dingkit.cli.demo import exports
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import demo_config, load_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "README.zh-CN.md")
#: Languages a block may be written in; anything else is a mistake the test points out.
RUN = {"python", "sh", "toml"}
SHOWN = {"text"}
TIMEOUT = 180  # one block, on a slow machine


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    lang: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.lang}"


def blocks(doc: str) -> list[Block]:
    """The fenced blocks of ``doc`` after its opening one, in order."""
    found, lang, start, lines = [], None, 0, []
    for number, line in enumerate((ROOT / doc).read_text(encoding="utf-8").splitlines(), 1):
        fence = re.match(r"^```(\S*)\s*$", line)
        if fence and lang is None:
            lang, start, lines = fence[1], number, []
        elif fence:
            found.append(Block(doc, start, lang, "\n".join(lines) + "\n"))
            lang = None
        elif lang is not None:
            lines.append(line)
    assert lang is None, f"{doc}: a block opened at line {start} is never closed"
    return found[1:]


def _env(home: Path, settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    bin_dir = str(Path(sys.executable).parent)  # dingkit, uvicorn: the venv's scripts
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUTF8="1",
        NO_COLOR="1",
        COLUMNS="200",
        **settings,
    )
    return env


@pytest.fixture
def demo_sandbox(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A sandbox as ``dingkit demo`` starts it (one per document: its robot's 20 messages a
    minute are the document's own); the ``export`` lines it would print."""
    instance = Sandbox.from_settings(config=demo_config(), data_dir=tmp_path / "sandbox")
    try:
        with SandboxServer(instance) as server:
            robot = next(r for r in instance.robot.robots() if r.name == "alerts")
            settings = {}
            for line in exports(instance, server.url, robot):
                name, _, value = line.removeprefix("export ").partition("=")
                settings[name] = value.strip("'")
            yield settings
    finally:
        instance.close()


def _run_sh(block: Block, cwd: Path, env: dict[str, str]) -> None:
    script = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + block.text
    # In a session of its own: whatever it started in the background (a receiver) goes with
    # it, however it ends.
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{block.id} did not finish in {TIMEOUT} s:\n{stdout}\n{stderr}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert done.returncode == 0, f"{block.id} failed:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, f"{block.id}:\n{done.stderr}"


def _run_python(block: Block, cwd: Path, env: dict[str, str]) -> None:
    first = block.text.splitlines()[0]
    if named := re.fullmatch(r"# (\w+\.py)", first.strip()):
        # A file the text tells the reader to save: the blocks after it run it (uvicorn
        # app:app); here it is saved, and must at least compile.
        (cwd / named[1]).write_text(block.text, encoding="utf-8")
        compile(block.text, named[1], "exec")
        return
    done = subprocess.run(
        [sys.executable, "-c", block.text],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{block.id} failed:\n{done.stdout}\n{done.stderr}"


def _check_toml(block: Block, cwd: Path, env: dict[str, str]) -> None:
    named = re.match(r"# (\S+?\.toml)", block.text)
    tomllib.loads(block.text)  # valid TOML at least
    if named is None:
        pytest.fail(f"{block.id}: name the file it is (config.toml, sandbox.toml, relay.toml)")
    path = cwd / named[1]
    path.write_text(block.text, encoding="utf-8")
    if named[1] == "sandbox.toml":
        load_config(path)
    elif named[1] == "config.toml":
        from dingkit.cli.profiles import resolve_robot

        settings = tomllib.loads(block.text)
        for name in settings.get("robots", {}):
            resolve_robot(name, str(path))
    elif named[1] == "relay.toml":
        from dingkit.relay.config import load_config as load_relay_config

        load_relay_config(path, environ=env)  # its env: secrets are the demo's exports
    else:
        pytest.fail(f"{block.id}: name the file it is (config.toml, sandbox.toml, relay.toml)")


@pytest.mark.parametrize("doc", DOCS)
def test_every_example_runs_as_written(
    doc: str, demo_sandbox: dict[str, str], tmp_path: Path
) -> None:
    if not (ROOT / doc).exists():
        pytest.fail(f"{doc} is missing")
    env = _env(tmp_path / "home", demo_sandbox)
    work = tmp_path / "work"
    work.mkdir()
    # Commands run "from the repository's root" (python examples/...): its examples are here.
    (work / "examples").symlink_to(ROOT / "examples")
    ran = 0
    for block in blocks(doc):
        assert block.lang in RUN | SHOWN, f"{block.id}: say what it is ({sorted(RUN | SHOWN)})"
        if block.lang == "sh":
            _run_sh(block, work, env)
        elif block.lang == "python":
            _run_python(block, work, env)
        elif block.lang == "toml":
            _check_toml(block, work, env)
        ran += block.lang in RUN
    assert ran >= 8, f"{doc}: only {ran} examples ran"


def test_both_readmes_open_with_the_same_two_commands() -> None:
    def opening(doc: str) -> str:
        return (ROOT / doc).read_text(encoding="utf-8").split("```")[1]

    assert opening("README.md") == opening("README.zh-CN.md")
    assert "README.zh-CN.md" in (ROOT / "README.md").read_text(encoding="utf-8")[:400]


def _python_code(text: str) -> list[str]:
    """``text``'s lines without their comments (read by Python's tokenizer)."""
    lines = text.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col] + "\0"  # \0: a comment was cut here
    return _kept(lines)


def _hash_comment_code(text: str) -> list[str]:
    """``text``'s lines without their comments, for sh, TOML and synopses: a ``#`` that
    starts a word outside quotes starts a comment (``'## x'``, ``$#``, ``a#b`` do not)."""
    lines = []
    for line in text.splitlines():
        quote, escaped = "", False
        for i, char in enumerate(line):
            if escaped:
                escaped = False
            elif char == "\\" and quote != "'":
                escaped = True
            elif quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "#" and (i == 0 or line[i - 1].isspace()):
                line = line[:i] + "\0"
                break
        lines.append(line)
    return _kept(lines)


def _kept(lines: list[str]) -> list[str]:
    """Lines cut at a comment lose their trailing blanks, and go if nothing is left."""
    kept = []
    for line in lines:
        if line.endswith("\0"):
            line = line[:-1].rstrip()
            if not line:
                continue
        kept.append(line)
    return kept


def _code(block: Block) -> list[str]:
    """What must be the same in every translation of ``block``: its lines without comments,
    and the file its first line names (``# app.py``, ``# sandbox.toml: ...``)."""
    named = re.match(r"# (\S+?\.(?:py|toml))\b", block.text)
    code = _python_code(block.text) if block.lang == "python" else _hash_comment_code(block.text)
    return [f"(file {named[1]})" if named else "(no file)", *code]


def test_comment_stripping_keeps_what_runs() -> None:
    sh = Block("-", 1, "sh", "# a\necho '## x' \"#y\" a#b $#  # c\n  # d\n\nls\n")
    assert _code(sh) == ["(no file)", "echo '## x' \"#y\" a#b $#", "", "ls"]
    python = Block("-", 1, "python", '# app.py\nx = "# no"  # yes\n    # gone\n')
    assert _code(python) == ["(file app.py)", 'x = "# no"']
    toml = Block("-", 1, "toml", '# sandbox.toml: run it\nk = "v#"   # c\n')
    assert _code(toml) == ["(file sandbox.toml)", 'k = "v#"']


def test_both_readmes_have_the_same_code() -> None:
    """A translation changes the prose and the comments, never a command, a line of code, a
    flag or a value: each block of README.zh-CN.md is README.md's, comments aside."""
    english, chinese = blocks("README.md"), blocks("README.zh-CN.md")  # the openings: above
    assert [b.lang for b in english] == [b.lang for b in chinese], "the blocks differ"
    for ours, theirs in zip(english, chinese, strict=True):
        assert _code(ours) == _code(theirs), f"{theirs.id} is not {ours.id} translated"
