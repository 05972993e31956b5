"""Fixtures for the interop suite: a real otpd binary on a random port with a fresh data dir.

`INTEROP_OTPD_BIN` names the binary (default: target/debug/otpd, built by scripts/test).
"""

import json
import os
import pathlib
import subprocess
import threading
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("INTEROP_OTPD_BIN", str(ROOT / "target" / "debug" / "otpd"))


class Otpd:
    """A running otpd process and typed helpers for the native API."""

    def __init__(self, data_dir, extra_args=(), env=None):
        self.data_dir = pathlib.Path(data_dir)
        self.stderr_lines = []
        # otpd reads every OTPD_* variable as configuration: pass only the ones asked for.
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_") and k != "RUST_LOG"}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir), *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        listening = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.stderr_lines.append(line.rstrip("\n"))
                if line.startswith("otpd: listening on "):
                    self.base = line.split("otpd: listening on ", 1)[1].strip()
                    listening.set()

        threading.Thread(target=drain, daemon=True).start()
        first = self.proc.stdout.readline()
        key = json.loads(first)
        self.key_id, self.secret, self.token = key["key_id"], key["secret"], key["token"]
        if not listening.wait(30):
            raise RuntimeError("otpd did not start: " + "\n".join(self.stderr_lines))

    @property
    def auth(self):
        return (self.key_id, self.secret)

    @property
    def host(self):
        """`127.0.0.1:PORT`, the form SDKs take as their host."""
        return self.base.split("://", 1)[1]

    def url(self, path):
        return self.base + path

    def post(self, path, body, auth=None):
        return requests.post(self.url(path), json=body, auth=auth or self.auth, timeout=10)

    def get(self, path, auth=None, **params):
        return requests.get(self.url(path), params=params, auth=auth or self.auth, timeout=10)

    def service(self, **settings):
        r = self.post("/v1/services", {"name": "Acme", **settings})
        assert r.status_code == 201, r.text
        return r.json()

    def new_key(self, scopes="admin,verify", tenant="default"):
        out = subprocess.run(
            [BIN, "keys", "create", "--scopes", scopes, "--tenant", tenant, "--data-dir", str(self.data_dir)],
            capture_output=True, text=True, check=True,
        )
        return json.loads(out.stdout)

    def outbox(self, to, wait=5.0, at_least=1):
        """Messages the outbox provider kept for `to`, newest first; waits for delivery."""
        deadline = time.time() + wait
        while True:
            msgs = self.get("/v1/outbox", to=to).json()
            if len(msgs) >= at_least or time.time() > deadline:
                return msgs
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def otpd(tmp_path):
    server = Otpd(tmp_path / "data")
    yield server
    server.stop()
