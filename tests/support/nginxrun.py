"""Running the shipped nginx example (packaging/nginx/slipstream.conf) for tests.

nginx must be installed (scripts/setup.sh --dev installs Debian's nginx-light); when it is
not, the test fails with that instruction rather than skipping silently.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "packaging" / "nginx" / "slipstream.conf"
START_DEADLINE = 30.0  # seconds nginx gets to accept connections: a hang guard, not a check

MAIN_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/slipstream.conf;
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if found is None:
        pytest.fail(
            "nginx is not installed: run scripts/setup.sh --dev (Debian package nginx-light)"
        )
    return found


def free_port() -> int:
    # nginx cannot listen on port 0, so borrow a free port from the kernel and hand it over.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def site_config(repo: Path, port: int) -> str:
    """The shipped config with its ``root`` and ``listen`` lines pointed at the test."""
    text = SHIPPED.read_text()
    text, roots = re.subn(
        r"^(\s*)root /srv/slipstream/repo;", rf"\g<1>root {repo};", text, flags=re.M
    )
    text, listens = re.subn(
        r"^(\s*)listen 80;\n\s*listen \[::\]:80;.*$",
        rf"\g<1>listen 127.0.0.1:{port};",
        text,
        flags=re.M,
    )
    assert (roots, listens) == (1, 1), "slipstream.conf changed shape: update site_config()"
    return text


def wait_until_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nginx exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nginx did not listen on port {port}: {log.read_text(errors='replace')}")


@contextmanager
def running_nginx(root: Path, conf_dir: Path) -> Iterator[int]:
    """Serve ``root`` with the shipped config on a free loopback port; yield the port."""
    binary = nginx_binary()
    conf_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (conf_dir / "slipstream.conf").write_text(site_config(root, port))
    # Workers run as nobody unless told otherwise, and pytest's tmp folders are 0700.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (conf_dir / "nginx.conf").write_text(MAIN_CONF.format(user=user, tmp=conf_dir))
    log = conf_dir / "error.log"
    cmd = [binary, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf")]
    with log.open("ab") as stderr:  # nginx's own early complaints land beside error_log
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_until_listening(proc, port, log)
        yield port
    finally:
        proc.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
