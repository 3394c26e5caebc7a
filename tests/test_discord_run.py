"""``mend run`` with Discord: real processes against a fake Discord (REST and gateway) on loopback.

The fake answers what discord.py 2.7 needs to log in, publish slash commands and hold a
gateway session. REST goes there through ``DISCORD_API_BASE_URL``. discord.py dials its
gateway at the hard-coded ``wss://gateway.discord.gg/`` (Mend's bots never ask
``/gateway/bot``), so the child process loads ``tests/child_guard/sitecustomize.py``, which
points that default at the fake and refuses anything past loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
import yaml
import yarl
from aiohttp import WSMsgType, web
from discord.gateway import DiscordWebSocket

from bots.app import build_core
from bots.discord.adapter import DiscordAdapter
from bots.discord.run import run_discord
from content import CONTENT_DIR
from core.content import Content
from core.outbox import Outbox
from core.settings import Settings
from core.types import Platform
from scheduler.pacing import DISCORD_LIMITS, SendGate
from tests.test_telegram_run import (
    EXIT_SECONDS,
    STARTUP_SECONDS,
    FakeBotApi,
    Finished,
    Mend,
    assert_clean,
    env_for,
    free_port,
    started_polling,
)
from tests.test_telegram_run import GOOD_TOKEN as TELEGRAM_TOKEN

pytestmark = pytest.mark.slow

DISCORD_TOKEN = "ODk5MDAwMDAwMDAwMDAwMDAy.GfAkEt.mend-test-discord-token-abcdefghij"
REFUSED_TOKEN = "ODk5MDAwMDAwMDAwMDAwMDAy.GrEfUs.mend-test-refused-token-klmnopqrst"
APP_ID = 899000000000000001
BOT_ID = 899000000000000002
DEV_GUILD_ID = 123456789012345678
MESSAGE_CONTENT = 1 << 15
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
HELLO, HEARTBEAT, IDENTIFY, DISPATCH, RESUME, HEARTBEAT_ACK = 10, 1, 2, 0, 6, 11
COMMAND_COUNT = sum(
    len(group["commands"])
    for group in yaml.safe_load((CONTENT_DIR / "commands.yaml").read_text(encoding="utf-8"))[
        "groups"
    ]
)
CHILD_GUARD = Path(__file__).resolve().parent / "child_guard"


# --- a fake Discord ---------------------------------------------------------------------


@dataclass
class RestCall:
    method: str
    path: str
    authorization: str | None
    body: Any = None


@dataclass
class GatewaySession:
    """One websocket connection to the fake gateway."""

    query: dict[str, str]
    identify: dict[str, Any] | None = None
    ready_sent: bool = False
    heartbeats: int = 0
    heartbeats_after_ready: int = 0
    resumes: int = 0
    close_code: int | None = None


def bot_user() -> dict[str, Any]:
    return {
        "id": str(BOT_ID),
        "username": "Mend",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": True,
        "verified": True,
        "flags": 0,
        "mfa_enabled": False,
    }


def application() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "name": "Mend",
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": {**bot_user(), "id": "899000000000000003", "username": "owner", "bot": False},
        "verify_key": "0" * 64,
        "flags": 0,
    }


def discord_json(body: Any, status: int = 200) -> web.Response:
    """A JSON answer as Discord sends it: discord.py reads JSON only if the content type is
    exactly ``application/json`` (no charset)."""
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


@dataclass
class FakeDiscord:
    """Discord's REST API under ``/api/v10`` and its gateway at ``/gateway``, on loopback.

    Every token but ``good_token`` is refused with 401. With ``refuse_intents`` set, an
    IDENTIFY asking for any of those intent bits is answered with close code 4014; with
    ``close_on_identify``, every IDENTIFY with that code. ``gateway_status`` makes the
    gateway answer plain HTTP instead of upgrading; ``not_discord`` makes REST answer 200
    with an HTML page, like a web server that is not Discord.
    """

    good_token: str = DISCORD_TOKEN
    refuse_intents: int = 0
    close_on_identify: int | None = None
    gateway_status: int | None = None
    not_discord: bool = False
    gateway_attempts: int = 0
    calls: list[RestCall] = field(default_factory=list)
    sessions: list[GatewaySession] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # REST

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body = await request.json() if request.can_read_body else None
        call = RestCall(request.method, path, request.headers.get("Authorization"), body)
        self.calls.append(call)
        if self.not_discord:
            return web.Response(text="<html>It works!</html>", content_type="text/html")
        if call.authorization != f"Bot {self.good_token}":
            return discord_json({"message": "401: Unauthorized", "code": 0}, status=401)
        parts = path.strip("/").split("/")
        route = (request.method, parts)
        if route == ("GET", ["users", "@me"]):
            return discord_json(bot_user())
        if route == ("GET", ["oauth2", "applications", "@me"]):
            return discord_json(application())
        if route in (("GET", ["gateway", "bot"]), ("GET", ["gateway"])):
            return discord_json(
                {
                    "url": self.gateway_url,
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 14_400_000,
                        "max_concurrency": 1,
                    },
                }
            )
        if request.method == "PUT" and parts[:2] == ["applications", str(APP_ID)]:
            if parts[2:] == ["commands"]:
                return discord_json(self._commands(body, guild_id=None))
            if len(parts) == 5 and parts[2] == "guilds" and parts[4] == "commands":
                return discord_json(self._commands(body, guild_id=parts[3]))
        return discord_json({"message": "404: Not Found", "code": 0}, status=404)

    @staticmethod
    def _commands(body: Any, guild_id: str | None) -> list[dict[str, Any]]:
        return [
            {
                **command,
                "id": str(700000000000000000 + n),
                "application_id": str(APP_ID),
                "version": "1",
                "type": command.get("type", 1),
                **({"guild_id": guild_id} if guild_id else {}),
            }
            for n, command in enumerate(body)
        ]

    def rest(self, method: str, path: str) -> list[RestCall]:
        return [c for c in self.calls if c.method == method and c.path == path]

    @property
    def global_sync(self) -> list[RestCall]:
        return self.rest("PUT", f"/applications/{APP_ID}/commands")

    def guild_sync(self, guild_id: int) -> list[RestCall]:
        return self.rest("PUT", f"/applications/{APP_ID}/guilds/{guild_id}/commands")

    # gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        self.gateway_attempts += 1
        if self.gateway_status is not None:
            return web.Response(status=self.gateway_status, text="gateway unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = GatewaySession(query=dict(request.query))
        self.sessions.append(session)
        await ws.send_json({"op": HELLO, "d": {"heartbeat_interval": 41_250}, "s": None, "t": None})
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            op, data = payload.get("op"), payload.get("d")
            if op == HEARTBEAT:
                session.heartbeats += 1
                if session.ready_sent:
                    session.heartbeats_after_ready += 1
                await ws.send_json({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            elif op == IDENTIFY:
                session.identify = data
                if data.get("intents", 0) & self.refuse_intents:
                    await ws.close(code=4014, message=b"Disallowed intent(s).")
                    break
                if self.close_on_identify is not None:
                    await ws.close(code=self.close_on_identify)
                    break
                await ws.send_json(self._ready(data))
                session.ready_sent = True
                # Ask for a heartbeat: the answer proves the client has taken in READY.
                await ws.send_json({"op": HEARTBEAT, "d": None, "s": None, "t": None})
            elif op == RESUME:
                session.resumes += 1
        session.close_code = ws.close_code
        return ws

    def _ready(self, identify: dict[str, Any]) -> dict[str, Any]:
        ready: dict[str, Any] = {
            "v": 10,
            "user": bot_user(),
            "guilds": [],
            "session_id": f"fake-session-{len(self.sessions)}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        return {"op": DISPATCH, "s": 1, "t": "READY", "d": ready}

    @property
    def identifies(self) -> list[dict[str, Any]]:
        return [s.identify for s in self.sessions if s.identify is not None]

    def is_ready(self) -> bool:
        """A session got READY and has heartbeated since, so the client took READY in."""
        return any(s.heartbeats_after_ready for s in self.sessions)


@pytest.fixture
async def discord_api() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def processes() -> AsyncIterator[list[Mend]]:
    """Every process a test starts; any still running at the end is killed."""
    started: list[Mend] = []
    yield started
    for mend in started:
        await mend.kill()


# --- the process -------------------------------------------------------------------------


def discord_env(
    tmp_path: Path,
    discord: FakeDiscord,
    telegram: FakeBotApi | None = None,
    /,
    **settings: str,
) -> dict[str, str]:
    """``mend run``'s environment: the fake Discord, the child guard, and ``settings``."""
    # env_for wants a Bot API; an unstarted one stands in when Telegram is not configured.
    env = env_for(tmp_path, telegram or FakeBotApi(), **settings)
    if telegram is None:
        del env["TELEGRAM_API_BASE_URL"]
    env.setdefault("DISCORD_API_BASE_URL", discord.api_base_url)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(CHILD_GUARD), os.environ.get("PYTHONPATH", "")) if p
    )
    env["MEND_TEST_DISCORD_GATEWAY"] = discord.gateway_url
    env["MEND_TEST_BLOCKED_LOG"] = str(tmp_path / "blocked.log")
    return env


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    """Let the fake's handlers catch up (they run on this loop) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, f"no {what} within {seconds}s"
        await asyncio.sleep(0.01)


async def assert_closed_cleanly(session: GatewaySession) -> None:
    """The client ended the session with close code 1000, as ``Client.close`` does."""
    await eventually(lambda: session.close_code is not None, "gateway close")
    assert session.close_code == 1000


def blocked(tmp_path: Path) -> list[str]:
    """Hosts past loopback the child tried to reach (the guard refused each)."""
    log = tmp_path / "blocked.log"
    return log.read_text(encoding="utf-8").split() if log.exists() else []


async def start(processes: list[Mend], tmp_path: Path, env: dict[str, str]) -> Mend:
    mend = await Mend.start(tmp_path, env)
    processes.append(mend)
    return mend


async def stop_with_sigterm(mend: Mend) -> Finished:
    mend.process.send_signal(signal.SIGTERM)
    return await mend.finish(EXIT_SECONDS)


def stderr_lines(done: Finished) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


def assert_exit_2_one_line(done: Finished) -> None:
    """Exit 2, one ``mend:`` line last on stderr, and no traceback."""
    assert done.returncode == 2, done.stderr
    lines = stderr_lines(done)
    assert [line for line in lines if line.startswith("mend: ")] == [done.last_line], done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def assert_one_error_line(done: Finished, named: str) -> None:
    """Exit 2, and the one ``mend:`` line, last on stderr, is the only one naming ``named``."""
    assert done.returncode == 2, done.stderr
    lines = stderr_lines(done)
    assert [line for line in lines if line.startswith("mend: ")] == [done.last_line], done.stderr
    assert [line for line in lines if named in line] == [done.last_line], done.stderr


def expected_commands(content: Content) -> dict[str, str]:
    """Slash command names and descriptions, read straight from ``content/commands.yaml``."""
    raw = yaml.safe_load((CONTENT_DIR / "commands.yaml").read_text(encoding="utf-8"))
    names = [c["name"] for group in raw["groups"] for c in group["commands"]]
    keys = {c["name"]: c["description"] for group in raw["groups"] for c in group["commands"]}
    return {name: content.texts.render(keys[name]) for name in names}


def discord_secrets(token: str) -> tuple[str, ...]:
    return (token, *token.split("."))


# --- the child guard itself -----------------------------------------------------------------


async def test_the_child_guard_refuses_and_notes_the_network(
    tmp_path: Path, discord_api: FakeDiscord
) -> None:
    """What the "never past loopback" checks below rely on, planted in a child process."""
    probe = (
        "import socket\n"
        "from discord.gateway import DiscordWebSocket\n"
        "print(DiscordWebSocket.DEFAULT_GATEWAY)\n"
        "for reach in (lambda: socket.getaddrinfo('gateway.discord.gg', 443),\n"
        "              lambda: socket.socket().connect(('192.0.2.1', 443))):\n"
        "    try:\n"
        "        reach()\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__)\n"
    )
    env = discord_env(tmp_path, discord_api)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        probe,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), EXIT_SECONDS)

    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().split("\n") == [
        discord_api.gateway_url,
        "refused gaierror",
        "refused OSError",
        "",
    ]
    assert blocked(tmp_path) == ["gateway.discord.gg", "192.0.2.1"]


# --- 1: Discord alone, until a signal -----------------------------------------------------


async def test_run_connects_discord_until_sigterm(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend], content: Content
) -> None:
    mend = await start(
        processes, tmp_path, discord_env(tmp_path, discord_api, DISCORD_BOT_TOKEN=DISCORD_TOKEN)
    )
    await mend.wait_until(discord_api.is_ready, "gateway READY taken in")

    # Logged in with the bot token, then asked who the application is.
    assert discord_api.rest("GET", "/users/@me")
    assert discord_api.rest("GET", "/oauth2/applications/@me")
    assert {c.authorization for c in discord_api.calls} == {f"Bot {DISCORD_TOKEN}"}

    # The slash commands from content, published globally (no dev server configured).
    assert len(discord_api.global_sync) == 1
    assert [c for c in discord_api.calls if "/guilds/" in c.path] == []
    published = discord_api.global_sync[0].body
    expected = expected_commands(content)
    assert [c["name"] for c in published] == list(expected)
    assert {c["name"]: c["description"] for c in published} == expected
    where = {c["name"]: sorted(c["contexts"]) for c in published}
    assert where["settings"] == [1], "a private-only command is offered in DMs alone"
    assert where["start"] == [0, 1], "an everywhere command works in servers and DMs"

    # One gateway session, identified with the token and without privileged intents.
    assert len(discord_api.sessions) == 1
    session = discord_api.sessions[0]
    assert session.query.get("v") == "10"
    assert session.query.get("encoding") == "json"
    identify = session.identify
    assert identify is not None
    assert identify["token"] == DISCORD_TOKEN
    assert "shard" not in identify, "one process, one unsharded connection"
    intents = identify["intents"]
    assert intents & MESSAGE_CONTENT == 0
    assert intents & (GUILD_MEMBERS | GUILD_PRESENCES) == 0
    assert intents & (1 << 0) and intents & (1 << 9) and intents & (1 << 12), (
        "guilds, guild messages and direct messages"
    )
    unexpected = [
        c for c in discord_api.calls if c.path not in ("/users/@me", "/oauth2/applications/@me")
    ]
    assert unexpected == discord_api.global_sync

    done = await stop_with_sigterm(mend)

    assert done.returncode == 0, done.stderr
    assert "Discord adapter stopped" in done.stderr
    assert f"published {COMMAND_COUNT} slash commands to all servers and DMs" in done.stderr
    assert "DISCORD_MESSAGE_CONTENT is off" in done.stderr
    assert "TELEGRAM_BOT_TOKEN is not set" in done.stderr
    await assert_closed_cleanly(session)
    assert session.resumes == 0
    assert_clean(done, *discord_secrets(DISCORD_TOKEN))
    assert blocked(tmp_path) == [], "mend run reached past loopback"


async def test_run_with_message_content_and_a_dev_server(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend], content: Content
) -> None:
    env = discord_env(
        tmp_path,
        discord_api,
        DISCORD_BOT_TOKEN=DISCORD_TOKEN,
        DISCORD_MESSAGE_CONTENT="true",
        DISCORD_DEV_GUILD_ID=str(DEV_GUILD_ID),
    )
    mend = await start(processes, tmp_path, env)
    await mend.wait_until(discord_api.is_ready, "gateway READY taken in")

    assert discord_api.global_sync == [], "a dev server gets the commands instead"
    assert len(discord_api.guild_sync(DEV_GUILD_ID)) == 1
    published = discord_api.guild_sync(DEV_GUILD_ID)[0].body
    assert [c["name"] for c in published] == list(expected_commands(content))
    (identify,) = discord_api.identifies
    assert identify["intents"] & MESSAGE_CONTENT == MESSAGE_CONTENT
    assert identify["intents"] & (GUILD_MEMBERS | GUILD_PRESENCES) == 0

    done = await stop_with_sigterm(mend)

    assert done.returncode == 0, done.stderr
    assert f"published {COMMAND_COUNT} slash commands to server {DEV_GUILD_ID}" in done.stderr
    assert "message content on" in done.stderr
    assert "Discord adapter stopped" in done.stderr
    await assert_closed_cleanly(discord_api.sessions[0])
    assert_clean(done, *discord_secrets(DISCORD_TOKEN))
    assert blocked(tmp_path) == []


# --- 2: Telegram and Discord in one process ------------------------------------------------


async def test_run_drives_telegram_and_discord_together(
    tmp_path: Path,
    discord_api: FakeDiscord,
    telegram_api: FakeBotApi,
    processes: list[Mend],
) -> None:
    env = discord_env(
        tmp_path,
        discord_api,
        telegram_api,
        DISCORD_BOT_TOKEN=DISCORD_TOKEN,
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
    )
    mend = await start(processes, tmp_path, env)
    await mend.wait_until(
        lambda: discord_api.is_ready() and started_polling(telegram_api),
        "Discord READY and Telegram polling",
    )
    assert mend.process.returncode is None, "one process runs both"
    assert len(discord_api.global_sync) == 1
    assert len(telegram_api.of("setMyCommands")) == 2
    assert {c.token for c in telegram_api.calls} == {TELEGRAM_TOKEN}

    done = await stop_with_sigterm(mend)

    assert done.returncode == 0, done.stderr
    assert "Telegram adapter stopped" in done.stderr
    assert "Discord adapter stopped" in done.stderr
    assert "is not set" not in done.stderr
    await assert_closed_cleanly(discord_api.sessions[0])
    assert_clean(done, TELEGRAM_TOKEN, *discord_secrets(DISCORD_TOKEN))
    assert blocked(tmp_path) == []


# --- 3, 4: a refused token, an unreachable Discord -----------------------------------------


async def test_refused_discord_token_exits_2_with_one_line(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend]
) -> None:
    env = discord_env(tmp_path, discord_api, DISCORD_BOT_TOKEN=REFUSED_TOKEN)
    mend = await start(processes, tmp_path, env)
    done = await mend.finish(STARTUP_SECONDS)

    assert_one_error_line(done, "DISCORD_BOT_TOKEN")
    assert "refused" in done.last_line
    assert [(c.method, c.path) for c in discord_api.calls] == [("GET", "/users/@me")]
    assert discord_api.calls[0].authorization == f"Bot {REFUSED_TOKEN}", "the fake was asked"
    assert discord_api.sessions == [], "no gateway without a login"
    assert_clean(done, *discord_secrets(REFUSED_TOKEN))
    assert blocked(tmp_path) == []


async def test_unreachable_discord_exits_2_with_one_line(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/v10"  # nothing listens there
    env = discord_env(
        tmp_path, discord_api, DISCORD_BOT_TOKEN=DISCORD_TOKEN, DISCORD_API_BASE_URL=nowhere
    )
    mend = await start(processes, tmp_path, env)
    done = await mend.finish(STARTUP_SECONDS)

    assert_one_error_line(done, "cannot reach Discord")
    assert discord_api.calls == []
    assert discord_api.sessions == []
    assert_clean(done, *discord_secrets(DISCORD_TOKEN))
    assert blocked(tmp_path) == []


# --- 5: the message-content intent is not enabled for the bot ------------------------------


async def test_disallowed_message_content_intent_exits_2_with_one_line(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend]
) -> None:
    discord_api.refuse_intents = MESSAGE_CONTENT
    env = discord_env(
        tmp_path, discord_api, DISCORD_BOT_TOKEN=DISCORD_TOKEN, DISCORD_MESSAGE_CONTENT="true"
    )
    mend = await start(processes, tmp_path, env)
    done = await mend.finish(STARTUP_SECONDS)

    assert done.returncode == 2, done.stderr
    lines = stderr_lines(done)
    assert [line for line in lines if line.startswith("mend: ")] == [done.last_line]
    assert "DISCORD_MESSAGE_CONTENT" in done.last_line
    assert "Message Content intent" in done.last_line
    assert len(discord_api.sessions) == 1, "4014 is final: no reconnect, no resume"
    assert discord_api.identifies[0]["intents"] & MESSAGE_CONTENT
    assert not discord_api.sessions[0].ready_sent
    assert "Discord adapter stopped" in done.stderr
    assert_clean(done, *discord_secrets(DISCORD_TOKEN))
    assert blocked(tmp_path) == []


# --- 6: one shard of two ------------------------------------------------------------------


async def test_run_identifies_only_its_own_shard(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend]
) -> None:
    env = discord_env(
        tmp_path,
        discord_api,
        DISCORD_BOT_TOKEN=DISCORD_TOKEN,
        DISCORD_SHARD_COUNT="2",
        DISCORD_SHARD_IDS="1",
    )
    mend = await start(processes, tmp_path, env)
    await mend.wait_until(discord_api.is_ready, "gateway READY taken in")

    assert [i["shard"] for i in discord_api.identifies] == [[1, 2]]
    assert len(discord_api.sessions) == 1, "shard 0 belongs to another process"
    assert len(discord_api.global_sync) == 1

    done = await stop_with_sigterm(mend)

    assert done.returncode == 0, done.stderr
    assert "Discord adapter stopped" in done.stderr
    assert [i["shard"] for i in discord_api.identifies] == [[1, 2]], "no other shard later"
    await assert_closed_cleanly(discord_api.sessions[0])
    assert_clean(done, *discord_secrets(DISCORD_TOKEN))
    assert blocked(tmp_path) == []


# --- bad DISCORD_* settings stop mend run before anything is contacted --------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        pytest.param(
            {"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "2"},
            "DISCORD_SHARD_IDS",
            id="shard-id-too-high",
        ),
        pytest.param({"DISCORD_SHARD_IDS": "0"}, "DISCORD_SHARD_COUNT", id="ids-without-count"),
        pytest.param({"DISCORD_DEV_GUILD_ID": "0"}, "DISCORD_DEV_GUILD_ID", id="guild-zero"),
        pytest.param(
            {"DISCORD_MESSAGE_CONTENT": "sometimes"}, "DISCORD_MESSAGE_CONTENT", id="content"
        ),
    ],
)
async def test_bad_discord_settings_exit_2_with_one_line(
    tmp_path: Path,
    discord_api: FakeDiscord,
    processes: list[Mend],
    settings: dict[str, str],
    named: str,
) -> None:
    env = discord_env(tmp_path, discord_api, DISCORD_BOT_TOKEN=DISCORD_TOKEN, **settings)
    mend = await start(processes, tmp_path, env)
    done = await mend.finish(STARTUP_SECONDS)

    assert done.returncode == 2, done.stderr
    assert stderr_lines(done) == [done.last_line]
    assert done.last_line.startswith(f"mend: setting {named}: ")
    assert discord_api.calls == [] and discord_api.sessions == []
    assert_clean(done, *discord_secrets(DISCORD_TOKEN))


# --- what an operator can run into beyond the above ----------------------------------------


async def test_a_server_that_is_not_discord_exits_2_with_one_line(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend]
) -> None:
    """DISCORD_API_BASE_URL pointing at some web server (200, HTML) is an operator mistake."""
    discord_api.not_discord = True
    env = discord_env(tmp_path, discord_api, DISCORD_BOT_TOKEN=DISCORD_TOKEN)
    mend = await start(processes, tmp_path, env)
    done = await mend.finish(STARTUP_SECONDS)

    assert [(c.method, c.path) for c in discord_api.calls] == [("GET", "/users/@me")]
    assert_exit_2_one_line(done)
    assert_clean(done, *discord_secrets(DISCORD_TOKEN))


@pytest.mark.parametrize(
    ("code", "named"),
    [
        pytest.param(4004, "DISCORD_BOT_TOKEN", id="4004-authentication-failed"),
        pytest.param(4011, "DISCORD_SHARD_COUNT", id="4011-sharding-required"),
    ],
)
async def test_gateway_refusing_the_session_exits_2_with_one_line(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend], code: int, named: str
) -> None:
    """Close codes Discord documents as final: Mend cannot go on, and says why in one line."""
    discord_api.close_on_identify = code
    env = discord_env(tmp_path, discord_api, DISCORD_BOT_TOKEN=DISCORD_TOKEN)
    mend = await start(processes, tmp_path, env)
    done = await mend.finish(STARTUP_SECONDS)

    assert len(discord_api.sessions) == 1, f"{code} is final: no reconnect"
    assert_exit_2_one_line(done)
    assert named in done.last_line
    assert_clean(done, *discord_secrets(DISCORD_TOKEN))


async def test_unreachable_gateway_never_crashes_mend_run(
    tmp_path: Path, discord_api: FakeDiscord, processes: list[Mend]
) -> None:
    """REST answers but the gateway does not upgrade (an outage, a blocked websocket).

    Either answer is fine: keep retrying until the signal (then exit 0), or give up with
    exit 2 and one line. A traceback and exit 1 is not.
    """
    discord_api.gateway_status = 503
    env = discord_env(tmp_path, discord_api, DISCORD_BOT_TOKEN=DISCORD_TOKEN)
    mend = await start(processes, tmp_path, env)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_SECONDS
    while mend.process.returncode is None and discord_api.gateway_attempts < 2:
        assert loop.time() < deadline, "neither a retry nor an exit"
        await asyncio.sleep(0.02)

    if mend.process.returncode is None:  # retrying: the signal still stops it cleanly
        done = await stop_with_sigterm(mend)
        assert done.returncode == 0, done.stderr
        assert "Discord adapter stopped" in done.stderr
    else:
        done = await mend.finish()
        # discord.py logs its failed attempt with a traceback (its own logger, no secrets);
        # Mend's part is the exit status and one closing line that says what happened.
        assert done.returncode == 2, done.stderr
        assert done.last_line.startswith("mend: "), done.stderr
        assert "Discord gateway" in done.last_line
        assert [line for line in stderr_lines(done) if line.startswith("mend: ")] == [
            done.last_line
        ]
    for secret in discord_secrets(DISCORD_TOKEN):
        assert secret not in done.stdout + done.stderr
    assert blocked(tmp_path) == []


# --- the scheduler's hook, in process ------------------------------------------------------


async def test_run_discord_hands_its_outbox_and_gate_to_on_ready(
    tmp_path: Path, discord_api: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In process, as the child guard does for ``mend run``: the gateway is the fake one.
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(discord_api.gateway_url))
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)  # run sets it
    settings = Settings(
        _env_file=None,
        discord_bot_token=DISCORD_TOKEN,
        discord_api_base_url=discord_api.api_base_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}",
    )
    core = await build_core(settings)
    stop = asyncio.Event()
    handed: list[tuple[Platform, Outbox, SendGate]] = []
    logged_in_at_hand_over: list[bool] = []

    def on_ready(platform: Platform, outbox: Outbox, gate: SendGate) -> None:
        handed.append((platform, outbox, gate))
        logged_in_at_hand_over.append(bool(discord_api.rest("GET", "/users/@me")))

    run = asyncio.create_task(run_discord(core, settings, stop, on_ready=on_ready))
    try:
        async with asyncio.timeout(STARTUP_SECONDS):
            while not (handed and discord_api.is_ready()):
                assert not run.done(), run.exception()
                await asyncio.sleep(0.01)
        [(platform, outbox, gate)] = handed
        assert platform is Platform.DISCORD
        assert isinstance(outbox, DiscordAdapter)
        assert outbox.gate is gate  # answers and the scheduler wait at the very same gate
        assert gate.limits == DISCORD_LIMITS
        assert logged_in_at_hand_over == [True]
    finally:
        stop.set()
        await asyncio.wait_for(run, EXIT_SECONDS)
        await core.database.close()
    assert len(handed) == 1
