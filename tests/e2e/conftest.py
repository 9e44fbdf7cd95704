"""The running stack for end-to-end tests: `python -m bot stack` (gateway, Rasa with the
trained model, action server) on free ports, against a fresh database, stopped with the
SIGINT a terminal's Ctrl-C sends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]



def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    process: subprocess.Popen[str]
    env: dict[str, str]
    ports: dict[str, int]
    first_health: tuple[int, dict]
    output: Path
    sessions: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def say(self, sender: str, text: str | None = None, payload: str | None = None) -> list[dict]:
        body = {"sender": sender, "text": text} if text else {"sender": sender, "payload": payload}
        if sender in self.sessions:
            body["session"] = self.sessions[sender]
        response = requests.post(f"{self.gateway}/chat/api/messages", json=body, timeout=60)
        assert response.status_code == 200, response.text
        self.sessions[sender] = response.json()["session"]  # the conversation's, from the first answer
        return response.json()["replies"]

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=60, check=True,
        )
        return result.stdout


def start_stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the stack; yield it once healthy; Ctrl-C it afterwards (if still running)."""
    var_dir = tmp_path_factory.mktemp("var")
    ports = {"gateway": free_port(), "rasa": free_port(), "actions": free_port()}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GATEWAY_PORT": str(ports["gateway"]),
        "RASA_PORT": str(ports["rasa"]),
        "ACTION_PORT": str(ports["actions"]),
        "GONGYOU_VAR_DIR": str(var_dir),
        # the tests talk far faster than a person, all from this host; the limits have their own tests
        "RATE_WEBCHAT_IP": "100000/10000", "RATE_WEBCHAT_FILES_IP": "100000/10000",
        "RATE_WEBCHAT_POLL_IP": "100000/10000", "RATE_UPLOAD_IP": "100000/10000", "RATE_SENDER": "100000/10000",
    }
    for name in ("RASA_URL", "ACTION_URL", "RASA_TRACKER_DB"):
        env.pop(name, None)
    output = var_dir / "stack.out"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "stack"], cwd=ROOT, env=env, text=True,
        stdout=output.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    health_url = f"http://127.0.0.1:{ports['gateway']}/healthz"
    first_health = None
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"stack exited:\n{output.read_text()[-3000:]}"
            try:
                response = requests.get(health_url, timeout=5)
            except requests.ConnectionError:
                time.sleep(0.5)
                continue
            if first_health is None:
                first_health = (response.status_code, response.json())
            if response.status_code == 200:
                break
            time.sleep(1)
        else:
            pytest.fail(f"stack not healthy in 600 s:\n{output.read_text()[-3000:]}")
        # healthy first, then the stack finishes its set-up (the fake Telegram's webhook) and
        # prints where everything is: only then is it what `make run` hands a person
        while "[gongyou] web chat:" not in output.read_text():
            assert time.monotonic() < deadline and process.poll() is None, output.read_text()[-3000:]
            time.sleep(0.2)
        yield Stack(process, env, ports, first_health, output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C in `make run` sends
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise




@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(database_url, tmp_path_factory)
