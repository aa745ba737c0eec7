"""A fork server for the CLI tests: one interpreter that has imported dingkit's command line
and the stacks its commands use, and forks a fresh child per command, which then runs exactly
as ``python -m dingkit ARGS`` would (its own process, environment, working directory, standard
streams and exit code) without paying Python's start-up and imports each time.

The tests use :class:`ForkServer` (``ForkServer.get(env).run(...)``), which starts it as
``python _forkserver.py SOCKET``: it prints ``ready`` once it listens on the Unix
socket ``SOCKET``. Each connection sends one JSON line ``{"args", "env", "cwd", "input"}``;
the child answers a line ``{"pid"}`` at once and, when the command ends, a line
``{"returncode", "stdout", "stderr"}``.

The server never runs a command itself and has no threads, so every child starts from the
same pristine state. Commands that must be measured as a whole process (start-up imports,
the installed script) are still run with ``subprocess`` by the tests.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar


def _warm_up() -> None:
    """Import what the commands import anyway: doing it once is the point of the server."""
    import httpx  # noqa: F401
    import pydantic  # noqa: F401
    import rich.console
    import rich.table  # noqa: F401

    import dingkit._async_client
    import dingkit._client
    import dingkit.cli  # noqa: F401
    from dingkit.resources import all_endpoints

    all_endpoints()  # every resource module and its models


def _stream(fd: int, mode: str) -> io.TextIOWrapper:
    raw = io.FileIO(fd, mode, closefd=False)
    buffered: io.BufferedIOBase = io.BufferedReader(raw) if "r" in mode else io.BufferedWriter(raw)
    return io.TextIOWrapper(buffered, encoding="utf-8", errors="backslashreplace")


def _command(args: list[str]) -> int:
    """Run ``python -m dingkit ARGS`` in this process; its exit code."""
    sys.argv = ["dingkit", *args]
    code: object = 0
    try:
        runpy.run_module("dingkit", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
    except BaseException:  # what an uncaught exception would print and do
        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _run(connection: socket.socket) -> None:
    """In the child: run one command, answer, exit."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command may wait for processes of its own
    reader = connection.makefile("rb")
    request = json.loads(reader.readline())
    connection.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    with (
        tempfile.TemporaryFile() as stdin,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        stdin.write(request["input"].encode())
        stdin.seek(0)
        os.dup2(stdin.fileno(), 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdin, sys.stdout, sys.stderr = _stream(0, "r"), _stream(1, "w"), _stream(2, "w")
        answer = {"returncode": _command(request["args"])}
        for name, handle in (("stdout", out), ("stderr", err)):
            handle.seek(0)
            answer[name] = handle.read().decode("utf-8", errors="backslashreplace")
    connection.sendall(json.dumps(answer).encode() + b"\n")
    connection.close()
    os._exit(0)


def main() -> None:
    _warm_up()
    path = sys.argv[1]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print("ready", flush=True)
    while True:
        connection, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            try:
                _run(connection)
            finally:
                os._exit(70)
        connection.close()


# -- the client side, used by the tests ---------------------------------------------------


class ForkServer:
    """``_forkserver.py`` in a process of its own: runs ``python -m dingkit ARGS`` as a fork of
    an interpreter that has done the imports already (a third of a second saved per command,
    most of the CLI tests' time). One per test session, started on first use; where it cannot
    run (no ``fork``, no Unix sockets), commands are plain subprocesses."""

    _instances: ClassVar[dict[tuple[str | None, ...], ForkServer]] = {}
    _lock = threading.Lock()
    #: What the interpreter reads from the environment once, at start-up: commands whose
    #: environments differ here get servers of their own.
    STARTUP = ("PYTHONUTF8", "PYTHONIOENCODING", "PYTHONWARNINGS", "PYTHONPATH", "PYTHONDEVMODE")

    def __init__(self, base_env: Mapping[str, str]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dingkit-fork-")
        self.path = os.path.join(self._dir.name, "fork.sock")
        env = {**base_env, "HOME": self._dir.name}
        self._process = subprocess.Popen(
            [sys.executable, __file__, self.path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":
            self._process.kill()
            raise RuntimeError("the CLI tests' fork server did not start")
        atexit.register(self.stop)

    @classmethod
    def get(cls, base_env: Mapping[str, str]) -> ForkServer | None:
        """The session's server for ``base_env``'s start-up settings (started on first use), or
        ``None`` where forking is not possible."""
        if not hasattr(os, "fork") or not hasattr(socket, "AF_UNIX"):
            return None
        key = tuple(base_env.get(name) for name in cls.STARTUP)
        with cls._lock:
            if key not in cls._instances:
                cls._instances[key] = cls(base_env)
            return cls._instances[key]

    def run(
        self, args: Sequence[str], env: Mapping[str, str], cwd: Path, stdin: str, timeout: float
    ) -> tuple[int, str, str]:
        request = {"args": list(args), "env": dict(env), "cwd": str(cwd), "input": stdin}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(self.path)
            connection.sendall(json.dumps(request).encode() + b"\n")
            reader = connection.makefile("rb")
            pid = json.loads(reader.readline())["pid"]
            try:
                line = reader.readline()
            except TimeoutError:
                os.kill(pid, 9)
                raise subprocess.TimeoutExpired(["dingkit", *args], timeout) from None
        if not line:
            raise RuntimeError(f"dingkit {' '.join(args)}: the forked command died")
        answer = json.loads(line)
        return answer["returncode"], answer["stdout"], answer["stderr"]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._dir.cleanup()


if __name__ == "__main__":
    main()
