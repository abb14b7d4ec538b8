"""A clientd process, an HTTP client for it and a database for it to use, shared by
scripts/faults.py and scripts/bench.py. Standard library only; the binary is $CLIENTD_BINARY,
the Postgres server $PG_URL (with its tools in $PG_BINDIR).
"""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

LOGS = Path(tempfile.mkdtemp(prefix="clientd-logs-"))
atexit.register(shutil.rmtree, LOGS, ignore_errors=True)


def create_database(name):
    """A new database on $PG_URL's server, as a URL."""
    psql = Path(os.environ["PG_BINDIR"]) / "psql"
    subprocess.run([psql, "-q", "-d", os.environ["PG_URL"], "-c", f"CREATE DATABASE {name}"], check=True)
    return os.environ["PG_URL"].rsplit("/", 1)[0] + "/" + name


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One clientd process with `token` as its bootstrap token; its log is kept to check for
    panics and errors afterwards."""

    def __init__(self, database_url, token, port=None, env=None):
        self.database_url, self.token, self.env = database_url, token, env or {}
        self.port = port or free_port()
        self.log = LOGS / f"{self.port}-{time.monotonic_ns()}.log"
        self.process = None

    def start(self):
        env = dict(os.environ, DATABASE_URL=self.database_url, CLIENTD_BOOTSTRAP_TOKEN=self.token,
                   CLIENTD_LISTEN=f"127.0.0.1:{self.port}", **self.env)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([os.environ["CLIENTD_BINARY"]], env=env,
                                            stdout=subprocess.DEVNULL, stderr=log)
        atexit.register(self.process.kill)  # never outlive the run, even when it fails
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"clientd exited at start:\n{self.logged()}")
            try:
                if Api(self.port, self.token).call("GET", "/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"clientd did not become ready:\n{self.logged()}")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def logged(self):
        return self.log.read_text(encoding="utf-8", errors="replace")

    def peak_rss_mib(self):
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def assert_no_internal_errors(self, outage=False):
        """No panic and no error logged; in an outage, 503s (and only they) are expected."""
        lines = self.logged().splitlines()
        bad = [line for line in lines if "panicked" in line or " ERROR " in line]
        if outage:
            bad = [line for line in bad if "503" not in line]
        assert not bad, "clientd logged errors:\n" + "\n".join(bad[:20])


class Api:
    """A keep-alive HTTP/1.1 connection to one server, as `token`; reconnects after a failure.
    `call` answers (status, JSON body or raw bytes, response)."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.connection = None

    def call(self, method, path, body=None, headers=None, raw=None):
        headers = dict({"Authorization": f"Bearer {self.token}"}, **(headers or {}))
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if payload is not None:
            headers.setdefault("Content-Type", "application/json")
        # A kept-alive connection the server has closed fails on reuse: retry once on a new one.
        for attempt in (1, 2):
            fresh = self.connection is None
            try:
                if fresh:
                    self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException) as failure:
                self.connection.close()
                self.connection = None
                if fresh or attempt == 2:
                    raise OSError(f"{method} {path}: connection failed ({failure})") from failure
        try:
            document = json.loads(data) if data else None
        except ValueError:
            document = data
        return response.status, document, response
