"""``mend run`` as an operator uses it: real processes against a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bots.app import build_core
from bots.telegram import TelegramAdapter
from bots.telegram.run import run_telegram
from core.outbox import Outbox
from core.settings import Settings
from core.types import ChatKind, ChatRef, Platform, Reply
from scheduler.pacing import TELEGRAM_LIMITS, SendGate
from tests import telegram_fakes as tg

pytestmark = pytest.mark.slow

GOOD_TOKEN = tg.TOKEN
REFUSED_TOKEN = "123456789:REFUSED-token-abcdefghijklmnopqrstuv"
WEBHOOK_URL = "https://example.invalid/tg/hook"
WEBHOOK_SECRET = "s3cret_value"
STARTUP_SECONDS = 20.0
EXIT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- a fake Bot API --------------------------------------------------------------------


@dataclass
class ApiCall:
    token: str
    method: str
    params: dict[str, str]

    def json_param(self, name: str) -> Any:
        return json.loads(self.params[name])


@dataclass
class FakeBotApi:
    """Answers ``POST /bot{token}/{method}`` like Telegram; refuses every token but one."""

    good_token: str = GOOD_TOKEN
    poll_delay: float = 0.2
    calls: list[ApiCall] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _message_ids: int = 1000

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        form = await request.post()
        params = {k: str(v) for k, v in form.items()}
        self.calls.append(ApiCall(token, method, params))
        if token != self.good_token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        if method == "getMe":
            return web.json_response(tg.ok(tg.bot_user()))
        if method == "getUpdates":
            await asyncio.sleep(self.poll_delay)  # a short long poll
            return web.json_response(tg.ok([]))
        if method == "sendMessage":
            self._message_ids += 1
            chat_id = int(params["chat_id"])
            message = {
                "message_id": self._message_ids,
                "date": 1_770_000_000,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": tg.bot_user(),
                "text": params.get("text", ""),
            }
            return web.json_response(tg.ok(message))
        return web.json_response(tg.ok(True))

    def of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


# --- the process -----------------------------------------------------------------------

_INHERITED_OUT = ("TELEGRAM_", "DISCORD_", "MEND_")


def env_for(tmp_path: Path, api: FakeBotApi, **settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(_INHERITED_OUT)
        and k.upper() not in ("DATABASE_URL", "LOG_LEVEL")
        and "PROXY" not in k.upper()
    }
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}"
    env["TELEGRAM_API_BASE_URL"] = api.base_url
    env.update(settings)
    return env


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


class Mend:
    """``python -m bots run`` in ``tmp_path``, its output drained as it goes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        assert process.stdout is not None and process.stderr is not None
        self._stdout = asyncio.ensure_future(process.stdout.read())
        self._stderr = asyncio.ensure_future(process.stderr.read())

    @classmethod
    async def start(cls, tmp_path: Path, env: dict[str, str]) -> Mend:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            "run",
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def finish(self, seconds: float = EXIT_SECONDS) -> Finished:
        """Wait for the process to exit by itself; kill it and fail if it takes too long."""
        try:
            await asyncio.wait_for(self.process.wait(), timeout=seconds)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            done = await self._collect()
            pytest.fail(f"mend run did not exit within {seconds}s; stderr:\n{done.stderr}")
        return await self._collect()

    async def _collect(self) -> Finished:
        stdout, stderr = await asyncio.gather(self._stdout, self._stderr)
        assert self.process.returncode is not None
        return Finished(self.process.returncode, stdout.decode(), stderr.decode())

    async def wait_until(
        self, condition: Callable[[], bool], what: str, seconds: float = STARTUP_SECONDS
    ) -> None:
        """Poll ``condition`` while the process runs; fail early if it exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not condition():
            if self.process.returncode is not None:
                done = await self._collect()
                pytest.fail(f"mend run exited {done.returncode} before {what}:\n{done.stderr}")
            if loop.time() > deadline:
                pytest.fail(f"mend run: no {what} within {seconds}s")
            await asyncio.sleep(0.02)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        for task in (self._stdout, self._stderr):
            if not task.done():
                task.cancel()


@pytest.fixture
async def processes() -> AsyncIterator[list[Mend]]:
    """Every process a test starts; any still running at the end is killed."""
    started: list[Mend] = []
    yield started
    for mend in started:
        await mend.kill()


def assert_clean(done: Finished, *secrets: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    for secret in secrets:
        assert secret not in done.stdout
        assert secret not in done.stderr, f"a secret leaked to stderr:\n{done.stderr}"


# --- a, c: polling until a signal ------------------------------------------------------


def started_polling(api: FakeBotApi) -> bool:
    return (
        len(api.of("getMe")) >= 1
        and len(api.of("setMyCommands")) >= 2
        and len(api.of("getUpdates")) >= 1
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
async def test_run_polls_telegram_until_a_signal(
    tmp_path: Path, api: FakeBotApi, processes: list[Mend], stop_signal: signal.Signals
) -> None:
    mend = await Mend.start(tmp_path, env_for(tmp_path, api, TELEGRAM_BOT_TOKEN=GOOD_TOKEN))
    processes.append(mend)
    await mend.wait_until(lambda: started_polling(api), "getMe, setMyCommands×2 and getUpdates")

    assert {c.token for c in api.calls} == {GOOD_TOKEN}
    scopes = sorted(c.json_param("scope")["type"] for c in api.of("setMyCommands"))
    assert scopes == ["all_group_chats", "all_private_chats"]
    assert all(c.json_param("commands") for c in api.of("setMyCommands"))
    assert api.of("deleteWebhook"), "polling starts by removing any webhook"
    assert api.of("setWebhook") == []
    polled = api.of("getUpdates")[0]
    assert polled.json_param("allowed_updates") == ["message", "callback_query", "my_chat_member"]

    mend.process.send_signal(stop_signal)
    done = await mend.finish()

    assert done.returncode == 0, done.stderr
    assert "DISCORD_BOT_TOKEN is not set" in done.stderr
    assert_clean(done)


async def test_run_never_logs_the_token(
    tmp_path: Path, api: FakeBotApi, processes: list[Mend]
) -> None:
    """The token is part of every Bot API URL; request logs must not carry it to stderr."""
    mend = await Mend.start(tmp_path, env_for(tmp_path, api, TELEGRAM_BOT_TOKEN=GOOD_TOKEN))
    processes.append(mend)
    await mend.wait_until(lambda: started_polling(api), "getMe, setMyCommands×2 and getUpdates")
    mend.process.send_signal(signal.SIGTERM)
    done = await mend.finish()
    assert done.returncode == 0, done.stderr
    assert_clean(done, GOOD_TOKEN, GOOD_TOKEN.split(":", 1)[1])


# --- b: a refused token ----------------------------------------------------------------


async def test_refused_token_exits_2_with_one_line(
    tmp_path: Path, api: FakeBotApi, processes: list[Mend]
) -> None:
    mend = await Mend.start(tmp_path, env_for(tmp_path, api, TELEGRAM_BOT_TOKEN=REFUSED_TOKEN))
    processes.append(mend)
    done = await mend.finish(STARTUP_SECONDS)

    assert done.returncode == 2, done.stderr
    assert [c.method for c in api.calls] == ["getMe"]
    assert api.calls[0].token == REFUSED_TOKEN, "the fake, not Telegram, was asked"
    assert "TELEGRAM_BOT_TOKEN" in done.last_line
    assert done.last_line.startswith("mend: ")
    assert_clean(done, REFUSED_TOKEN, REFUSED_TOKEN.split(":", 1)[1])


async def test_unreachable_bot_api_exits_2_with_one_line(
    tmp_path: Path, api: FakeBotApi, processes: list[Mend]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there
    env = env_for(tmp_path, api, TELEGRAM_BOT_TOKEN=GOOD_TOKEN, TELEGRAM_API_BASE_URL=nowhere)
    mend = await Mend.start(tmp_path, env)
    processes.append(mend)
    done = await mend.finish(STARTUP_SECONDS)

    assert done.returncode == 2, done.stderr
    assert "TELEGRAM_API_BASE_URL" in done.last_line
    assert done.last_line.startswith("mend: ")
    assert_clean(done, GOOD_TOKEN)


# --- d: settings validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "named", "secret"),
    [
        pytest.param(
            {"TELEGRAM_WEBHOOK_URL": "http://example.invalid/tg/hook"},
            "TELEGRAM_WEBHOOK_URL",
            None,
            id="http-webhook",
        ),
        pytest.param(
            {"TELEGRAM_WEBHOOK_URL": "http://example.invalid/tg/hook"},
            "TELEGRAM_WEBHOOK_URL",
            WEBHOOK_SECRET,
            id="http-webhook-with-secret",
        ),
        pytest.param(
            {"TELEGRAM_WEBHOOK_URL": WEBHOOK_URL},
            "TELEGRAM_WEBHOOK_SECRET",
            None,
            id="webhook-without-secret",
        ),
        pytest.param(
            {"TELEGRAM_WEBHOOK_URL": WEBHOOK_URL},
            "TELEGRAM_WEBHOOK_SECRET",
            "not a valid secret!",
            id="bad-secret",
        ),
    ],
)
async def test_bad_webhook_settings_exit_2_with_one_line(
    tmp_path: Path,
    api: FakeBotApi,
    processes: list[Mend],
    settings: dict[str, str],
    named: str,
    secret: str | None,
) -> None:
    extra = dict(settings)
    if secret is not None:
        extra["TELEGRAM_WEBHOOK_SECRET"] = secret
    env = env_for(tmp_path, api, TELEGRAM_BOT_TOKEN=GOOD_TOKEN, **extra)
    mend = await Mend.start(tmp_path, env)
    processes.append(mend)
    done = await mend.finish(STARTUP_SECONDS)

    assert done.returncode == 2, done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()] == [done.last_line]
    assert done.last_line.startswith("mend: ")
    assert named in done.last_line
    assert api.calls == [], "settings are checked before anything is contacted"
    assert_clean(done, GOOD_TOKEN, *([secret] if secret else []))


# --- webhook mode, end to end ----------------------------------------------------------


async def test_run_serves_the_webhook_until_a_signal(
    tmp_path: Path, api: FakeBotApi, processes: list[Mend]
) -> None:
    port = free_port()
    env = env_for(
        tmp_path,
        api,
        TELEGRAM_BOT_TOKEN=GOOD_TOKEN,
        TELEGRAM_WEBHOOK_URL=WEBHOOK_URL,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=str(port),
    )
    mend = await Mend.start(tmp_path, env)
    processes.append(mend)
    await mend.wait_until(lambda: bool(api.of("setWebhook")), "setWebhook")

    registered = api.of("setWebhook")[0]
    assert registered.params["url"] == WEBHOOK_URL
    assert registered.params["secret_token"] == WEBHOOK_SECRET
    assert registered.json_param("allowed_updates") == [
        "message",
        "callback_query",
        "my_chat_member",
    ]
    assert len(api.of("setMyCommands")) == 2

    url = f"http://127.0.0.1:{port}/tg/hook"
    start = tg.message_update(tg.user(42), tg.private_chat(42), "/start")
    async with aiohttp.ClientSession() as http:
        wrong = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET[:-1] + "X"}
        async with http.post(url, json=start, headers=wrong) as response:
            assert response.status == 403
        right = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        async with http.post(url, json=start, headers=right) as response:
            assert response.status == 200
        await mend.wait_until(lambda: bool(api.of("sendMessage")), "sendMessage")

    sent = api.of("sendMessage")
    assert [int(c.params["chat_id"]) for c in sent] == [42]
    assert "AI coach" in sent[0].params["text"]
    assert api.of("getUpdates") == [], "webhook mode never polls"

    mend.process.send_signal(signal.SIGTERM)
    done = await mend.finish()
    assert done.returncode == 0, done.stderr
    assert_clean(done, WEBHOOK_SECRET)


# --- the scheduler's hook, in process ------------------------------------------------------


def loopback_only_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep any proxy settings of the test run away from loopback requests."""
    for name in list(os.environ):
        if "PROXY" in name.upper():
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


async def test_run_telegram_hands_its_outbox_and_gate_to_on_ready(
    tmp_path: Path, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    loopback_only_http(monkeypatch)
    settings = Settings(
        _env_file=None,
        telegram_bot_token=GOOD_TOKEN,
        telegram_api_base_url=api.base_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}",
    )
    core = await build_core(settings)
    stop = asyncio.Event()
    handed: list[tuple[Platform, Outbox, SendGate]] = []
    commands_at_hand_over: list[int] = []

    def on_ready(platform: Platform, outbox: Outbox, gate: SendGate) -> None:
        handed.append((platform, outbox, gate))
        commands_at_hand_over.append(len(api.of("setMyCommands")))

    run = asyncio.create_task(run_telegram(core, settings, stop, on_ready=on_ready))
    try:
        async with asyncio.timeout(STARTUP_SECONDS):
            while not handed:
                assert not run.done(), run.exception()
                await asyncio.sleep(0.01)
        [(platform, outbox, gate)] = handed
        assert platform is Platform.TELEGRAM
        assert isinstance(outbox, TelegramAdapter)
        assert outbox.gate is gate  # answers and the scheduler wait at the very same gate
        assert gate.limits == TELEGRAM_LIMITS
        assert commands_at_hand_over == [2]  # handed over once the bot is set up

        chat = ChatRef(Platform.TELEGRAM, "101", ChatKind.PRIVATE)
        await outbox.send(chat, Reply(text="a nudge", key="test.nudge"), nonce="n-1")
        assert [c.params["text"] for c in api.of("sendMessage")] == ["a nudge"]
    finally:
        stop.set()
        await asyncio.wait_for(run, EXIT_SECONDS)
        await core.database.close()
    assert len(handed) == 1
