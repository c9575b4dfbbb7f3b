"""A real PostgreSQL server for the distributed-tuning tests: initdb in a temporary folder, 127.0.0.1 only.

Debian's binaries live in /usr/lib/postgresql/<version>/bin (scripts/test installs them). initdb refuses to run
as root, so as root the server runs as the `postgres` system user (the package creates it), else `nobody`.
The tests skip, saying why, only when the binaries are absent or, as root, no system user can run the server
(scripts/test installs the package, which creates `postgres`, so CI runs them).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> str | None:
    """The user to run the server as: None for the current (non-root) user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    pytest.skip("running as root and neither a `postgres` nor a `nobody` user exists to run PostgreSQL")


def _as(user: str | None, cmd: list[str]) -> list[str]:
    if user is None:
        return cmd
    runuser = shutil.which("runuser")
    return [runuser, "-u", user, "--", *cmd] if runuser else ["su", user, "-s", "/bin/sh", "-c", " ".join(cmd)]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql; scripts/test installs them)")
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="nnrecipe-pg-"))
    data = root / "data"
    data.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (root, data):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    stop = _as(user, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
    try:
        subprocess.run(_as(user, [str(bindir / "initdb"), "-D", str(data), "-U", "nnrecipe", "--auth=trust",
                                  "-E", "UTF8", "--no-sync"]), **run)
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as(user, [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"),
                                  "-o", options, "-w", "start"]), **run)
        subprocess.run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "nnrecipe", "tuning"],
                       **run)
    except subprocess.CalledProcessError as exc:
        log = (data / "server.log").read_text() if (data / "server.log").exists() else ""
        subprocess.run(stop, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL failed to start: {exc.stderr}\n{log[-2000:]}") from exc
    try:
        yield f"postgresql+psycopg2://nnrecipe@127.0.0.1:{port}/tuning"
    finally:
        subprocess.run(stop, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
