"""Run the three processes (Rasa, action server, gateway) together, as `make run` does.

Each child runs in its own process group with its output in ``var/logs/<name>.log``, copied
there line by line through :func:`bot.logmask.mask_line` (Rasa and the action server log
sender ids, messages and tracebacks as they are). On
Ctrl-C (SIGINT) or SIGTERM every group gets SIGTERM, then SIGKILL after a grace period, so
no process is left listening. A child that dies while the stack runs is started again with
the same command and log (nothing is lost by it: messages are stored before they are
acknowledged, and channels deliver again what was not); one that keeps dying
(``RESTART_LIMIT`` times within ``RESTART_WINDOW`` s) stops the whole stack. A child that
dies before the stack is first healthy stops it at once: that is a set-up error to show.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

from bot.cases.demo import DEMO_LOGINS, do_seed_demo, do_set_demo_passwords
from bot.db import create_engine, create_sessionmaker, session_scope, utcnow
from bot.logmask import mask_line
from bot.migrate import upgrade
from bot.settings import PROJECT_ROOT, Settings

GRACE_SECONDS = 15
READY_TIMEOUT = 600
RESTART_LIMIT, RESTART_WINDOW = 5, 60.0
SUPERVISE_EVERY = 0.5  # seconds between looks at the children
# A line longer than this is masked in pieces (a number split across two may then show).
MAX_LINE = 1 << 20


class StackError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    log_writer: threading.Thread | None = None
    restarts: deque[float] = field(default_factory=deque)  # when it was restarted (monotonic)

    @property
    def log_path(self) -> Path:
        return PROJECT_ROOT / "var" / "logs" / f"{self.name}.log"


def _say(message: str) -> None:
    print(f"[gongyou] {message}", flush=True)


def copy_masked(source: IO[bytes], log: IO[bytes]) -> None:
    """Copy a child's output to its log line by line, masked, until the child's end of the
    pipe closes. It keeps reading even if the log cannot be written, so a full disk never
    blocks the child on a full pipe."""
    with source, log:
        for line in iter(lambda: source.readline(MAX_LINE), b""):
            try:
                log.write(mask_line(line.decode("utf-8", "replace")).encode())
                log.flush()  # the tail shown when a child dies must be in the file
            except OSError:
                pass


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def child_env(settings: Settings) -> dict[str, str]:
    """The environment every child sees: the settings, resolved, so all three agree."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        RASA_URL=settings.rasa_url,
        ACTION_URL=settings.action_url,
        RASA_PORT=str(settings.rasa_port),
        ACTION_PORT=str(settings.action_port),
        GATEWAY_HOST=settings.gateway_host,
        GATEWAY_PORT=str(settings.gateway_port),
        EVIDENCE_DIR=str(settings.evidence_dir),
        GONGYOU_VAR_DIR=str(settings.var_dir),
        # Rasa's own tracker store, one file per Rasa port so two instances never share it.
        RASA_TRACKER_DB=env.get("RASA_TRACKER_DB")
        or str(settings.var_dir / f"rasa-tracker-{settings.rasa_port}.db"),
        SANIC_HOST="127.0.0.1",  # the action server binds to loopback only
        RASA_TELEMETRY_ENABLED="false",  # never call out to a public address
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def fake_channels_wanted() -> bool:
    return (os.environ.get("FAKE_CHANNELS") or "").lower() in ("1", "true", "yes")


def fake_ports() -> tuple[int, int]:
    from bot.fakes.__main__ import TELEGRAM_PORT, WECHAT_PORT

    return (int(os.environ.get("FAKE_WECHAT_PORT") or WECHAT_PORT),
            int(os.environ.get("FAKE_TELEGRAM_PORT") or TELEGRAM_PORT))


def children(settings: Settings, *, rasa_bin: Path, model: Path) -> list[Child]:
    fakes: list[Child] = []
    if fake_channels_wanted():
        wechat_port, telegram_port = fake_ports()
        fakes = [Child("fakes", [sys.executable, "-m", "bot.fakes", "--wechat-port", str(wechat_port),
                                 "--telegram-port", str(telegram_port)])]
    return fakes + [
        Child("rasa", [
            str(rasa_bin), "run", "--enable-api", "--interface", "127.0.0.1",
            "--port", str(settings.rasa_port), "--model", str(model),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
        ]),
        Child("actions", [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                          "--port", str(settings.action_port)]),
        Child("gateway", [sys.executable, "-m", "bot", "serve"]),
    ]


async def prepare_database(settings: Settings, *, demo_logins: dict[str, str] | None = None) -> int:
    """Migrate to the newest schema and load the demo data (and, for `make run`, the demo
    accounts' passwords); returns orgs created."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with session_scope(create_sessionmaker(engine)) as session:
            created = await do_seed_demo(session)
            if demo_logins:
                await do_set_demo_passwords(session, passwords=demo_logins)
            return created
    finally:
        await engine.dispose()


async def served_model(settings: Settings, built: Path) -> tuple[Path, str]:
    """The registry's active model (see bot/training/registry.py), the one just built beside it."""
    from bot.training.models import training_hash
    from bot.training.registry import do_choose_served_model

    engine = create_engine(settings.database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            return await do_choose_served_model(session, models_dir=built.parent, built=built,
                                                data_hash=training_hash(PROJECT_ROOT), now=utcnow())
    finally:
        await engine.dispose()


def demo_logins(var_dir: Path) -> dict[str, str]:
    """username → password of the demo accounts: random on the first run, then kept in
    ``var/demo-logins.json`` (git-ignored) so every `make run` prints the same ones."""
    path = var_dir / "demo-logins.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    logins = {username: saved.get(username) or secrets.token_urlsafe(9) for _, username in DEMO_LOGINS}
    if logins != saved:
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(logins, indent=2))
        path.chmod(0o600)
    return logins


class Stack:
    def __init__(self, settings: Settings, *, rasa_bin: Path, model: Path) -> None:
        self.settings = settings
        self.children = children(settings, rasa_bin=rasa_bin, model=model)
        self._stopping = False
        self._env = child_env(settings)
        self._tasks: set[asyncio.Task[None]] = set()
        self.logins: dict[str, str] = {}

    def check_ports(self) -> None:
        s = self.settings
        busy = [
            f"{name} port {port}"
            for name, host, port in (
                ("gateway", s.gateway_host, s.gateway_port),
                ("rasa", "127.0.0.1", s.rasa_port),
                ("actions", "127.0.0.1", s.action_port),
            )
            if _port_in_use("127.0.0.1" if host in ("0.0.0.0", "::") else host, port)
        ]
        if busy:
            raise StackError(
                "already in use: " + ", ".join(busy)
                + " (another `make run`? set GATEWAY_PORT / RASA_PORT / ACTION_PORT)"
            )

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        """Start ``child`` in its own process group, its output appended to its log."""
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = child.log_path.open("ab")
        try:
            child.process = subprocess.Popen(
                child.command, cwd=PROJECT_ROOT, env=self._env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        except BaseException:
            log.close()
            raise
        assert child.process.stdout is not None
        child.log_writer = threading.Thread(
            target=copy_masked, args=(child.process.stdout, log), name=f"log-{child.name}", daemon=True,
        )
        child.log_writer.start()
        _say(f"started {child.name} (pid {child.process.pid}, log {child.log_path.relative_to(PROJECT_ROOT)})")

    def restart(self, child: Child) -> None:
        """Start a child that exited again, with the same command and log.

        Raises:
            StackError: it exited ``RESTART_LIMIT`` times within ``RESTART_WINDOW`` seconds.
        """
        now = time.monotonic()
        while child.restarts and child.restarts[0] < now - RESTART_WINDOW:
            child.restarts.popleft()
        if len(child.restarts) >= RESTART_LIMIT:
            raise StackError(f"{child.name} exited {RESTART_LIMIT + 1} times within {RESTART_WINDOW:.0f}s; "
                             f"giving up:\n{_tail(child.log_path)}")
        child.restarts.append(now)
        _signal_group(child, signal.SIGKILL)  # a grandchild left behind must not hold the port
        _drain(child, timeout=2)
        self._spawn(child)

    def dead_child(self) -> Child | None:
        dead = next((c for c in self.children if c.process and c.process.poll() is not None), None)
        if dead is not None:
            _drain(dead, timeout=2)  # its last lines, the reason it died, into its log
        return dead

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left after the grace period."""
        self._stopping = True
        alive = [c for c in self.children if c.process and c.process.poll() is None]
        for child in alive:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in alive:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _say(f"{child.name} did not stop in {GRACE_SECONDS}s; killing it")
        for child in self.children:
            # Kill the whole group even if the leader exited: a grandchild may linger.
            _signal_group(child, signal.SIGKILL)
            if child.process:
                child.process.wait()
            _drain(child, timeout=5)
        _say("all processes stopped")

    async def wait_healthy(self) -> None:
        url = f"{self.settings.gateway_url}/healthz"
        started = time.monotonic()
        last_reason = ""
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - started < READY_TIMEOUT:
                dead = self.dead_child()
                if dead is not None:
                    raise StackError(f"{dead.name} exited (code {dead.process.returncode}):\n{_tail(dead.log_path)}")
                try:
                    async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                        body = await response.json(content_type=None)
                        if response.status == 200:
                            return
                        reason = body.get("reason", "")
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                    reason = "gateway not answering yet"
                if reason != last_reason:
                    _say(f"waiting ({time.monotonic() - started:.0f}s): {reason}")
                    last_reason = reason
                await asyncio.sleep(1)
        raise StackError(f"not healthy after {READY_TIMEOUT}s: {last_reason}")

    async def supervise(self) -> None:
        """Restart each child that exits, until the stack stops.

        Raises:
            StackError: a child kept dying (see :meth:`restart`).
        """
        while not self._stopping:
            for child in self.children:
                code = child.process.poll() if child.process else None
                if code is None:
                    continue
                _drain(child, timeout=2)  # its last lines, the reason it died, into its log
                _say(f"{child.name} exited (code {code}); restarting")
                self.restart(child)
                if child.name == "fakes" and fake_channels_wanted():
                    # the fake Telegram forgot its webhook: set it again, as an operator would
                    task = asyncio.create_task(self._repoint_telegram())
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(SUPERVISE_EVERY)

    async def _repoint_telegram(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self._stopping:
            try:
                await point_telegram_at_gateway(self.settings)
                return
            except (aiohttp.ClientError, StackError):
                await asyncio.sleep(0.5)
        _say("the restarted fake Telegram API did not take the webhook; Telegram updates will not arrive")


def _signal_group(child: Child, sig: int) -> None:
    if child.process is None:
        return
    try:
        os.killpg(child.process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _drain(child: Child, *, timeout: float) -> None:
    """Wait until the child's output is in its log (its pipe closes once the whole process
    group has exited; a grandchild still holding it is not waited for past ``timeout``)."""
    if child.log_writer is not None:
        child.log_writer.join(timeout)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def _run(stack: Stack, started: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stack.start()
    waiter = asyncio.ensure_future(stack.wait_healthy())
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        waiter.result()  # raises StackError if a child died
        _say(f"healthy after {time.monotonic() - started:.1f}s")
        if fake_channels_wanted():
            await point_telegram_at_gateway(stack.settings)
            _say(f"WeChat callback: {stack.settings.gateway_url}/wechat (fake API: "
                 f"{stack.settings.wechat.api_base_url}/_fake/messages)" if stack.settings.wechat else "")
        _say(f"staff console: {stack.settings.gateway_url}/console/  (demo log-ins, demo data only):")
        for role, username in DEMO_LOGINS:
            _say(f"    {role:<10} {username:<22} {stack.logins.get(username, '?')}")
        _say(f"web chat: {stack.settings.gateway_url}/chat   (Ctrl-C stops everything)")
        supervisor = asyncio.ensure_future(stack.supervise())
        done, _ = await asyncio.wait({supervisor, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if supervisor in done:
            supervisor.result()
    else:
        waiter.cancel()


async def point_telegram_at_gateway(settings: Settings) -> None:
    """With the fake Telegram API, do what an operator does once: setWebhook to the gateway."""
    if settings.telegram is None:
        return
    url = f"{settings.telegram.api_base_url}/bot{settings.telegram.bot_token}/setWebhook"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data={"url": f"{settings.gateway_url}/telegram/webhook",
                                        "secret_token": settings.telegram.secret_token}) as response:
            if response.status != 200:
                raise StackError(f"setWebhook on the fake Telegram API failed: HTTP {response.status}")


def with_fake_channels(settings: Settings) -> Settings:
    """``FAKE_CHANNELS=1``: WeChat and Telegram pointed at the local fakes (development
    credentials), unless real ones are configured."""
    from bot.fakes.__main__ import channel_env
    from bot.settings import load_settings

    wechat_port, telegram_port = fake_ports()
    for name, value in channel_env(wechat_port=wechat_port, telegram_port=telegram_port).items():
        os.environ.setdefault(name, value)
    _say(f"fake channels: WeChat API on :{wechat_port}, Telegram Bot API on :{telegram_port}")
    return load_settings()


def run_stack(settings: Settings, *, rasa_bin: Path, model: Path) -> int:
    """Start everything, wait until healthy, and run until Ctrl-C; returns an exit code."""
    started = time.monotonic()
    if fake_channels_wanted():
        settings = with_fake_channels(settings)
    stack = Stack(settings, rasa_bin=rasa_bin, model=model)
    try:
        stack.check_ports()
        logins = demo_logins(settings.var_dir)
        created = asyncio.run(prepare_database(settings, demo_logins=logins))
        _say(f"database ready ({settings.database_url.split('://')[0]}); demo orgs created: {created}")
        served, why = asyncio.run(served_model(settings, model))
        _say(f"serving model {served.name}: {why}")
        if served != model:
            stack.children = children(settings, rasa_bin=rasa_bin, model=served)
        stack.logins = logins
        asyncio.run(_run(stack, started))
        return 0
    except StackError as exc:
        _say(f"error: {exc}")
        return 1
    finally:
        stack.stop()
