"""The webhook endpoint: only authentic JSON updates reach the bot; ``start_webhook`` wires it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import Core
from bots.telegram.factory import build_telegram
from bots.telegram.run import ALLOWED_UPDATES, start_webhook
from bots.telegram.webhook import MAX_BODY_BYTES, SECRET_HEADER, build_webhook_app, webhook_path
from core.content import Content
from core.service import CoachService
from core.service.nudges import NudgeDesk
from core.settings import Settings
from core.storage import Database
from tests import telegram_fakes as tg
from tests.fakes import TEST_CIPHER, FakeClock

PATH = "/tg/hook"
SECRET = "s3cret_value"
UPDATE: dict[str, Any] = {"update_id": 7, "message": {"message_id": 1, "text": "hi"}}


class Accepted:
    """The ``accept`` callback, recording every update it was given."""

    def __init__(self) -> None:
        self.updates: list[dict[str, object]] = []

    async def __call__(self, data: dict[str, object]) -> None:
        self.updates.append(data)


@pytest.fixture
def accepted() -> Accepted:
    return Accepted()


@pytest.fixture
async def client(accepted: Accepted) -> AsyncIterator[TestClient[Any, Any]]:
    app = build_webhook_app(PATH, SECRET, accepted)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


def secret(value: str = SECRET) -> dict[str, str]:
    return {SECRET_HEADER: value}


# --- webhook_path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://example.invalid/tg/hook", "/tg/hook"),
        ("https://example.invalid:8443/tg/hook?x=1#frag", "/tg/hook"),
        ("https://example.invalid/tg/hook/", "/tg/hook/"),
        ("https://example.invalid", "/"),
        ("https://example.invalid/", "/"),
    ],
)
def test_webhook_path_is_the_urls_path(url: str, path: str) -> None:
    assert webhook_path(url) == path


# --- the endpoint ----------------------------------------------------------------------


async def test_right_secret_and_json_update_is_accepted(
    client: TestClient[Any, Any], accepted: Accepted
) -> None:
    response = await client.post(PATH, json=UPDATE, headers=secret())
    assert response.status == 200
    assert accepted.updates == [UPDATE]


async def test_each_request_is_accepted_once_in_order(
    client: TestClient[Any, Any], accepted: Accepted
) -> None:
    updates = [{"update_id": n} for n in range(3)]
    for update in updates:
        assert (await client.post(PATH, json=update, headers=secret())).status == 200
    assert accepted.updates == updates


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(secret("wrong"), id="wrong"),
        pytest.param({}, id="missing"),
        pytest.param(secret(""), id="empty"),
        pytest.param(secret(SECRET[:-1] + "X"), id="last-character-differs"),
        pytest.param(secret(SECRET[:-1]), id="prefix"),
        pytest.param(secret(SECRET + "x"), id="longer"),
        pytest.param(secret(SECRET.upper()), id="other-case"),
        pytest.param({SECRET_HEADER.lower() + "-x": SECRET}, id="other-header"),
    ],
)
async def test_without_the_right_secret_is_forbidden_and_never_accepted(
    client: TestClient[Any, Any], accepted: Accepted, headers: dict[str, str]
) -> None:
    response = await client.post(PATH, json=UPDATE, headers=headers)
    assert response.status == 403
    assert accepted.updates == []


async def test_header_name_is_case_insensitive(
    client: TestClient[Any, Any], accepted: Accepted
) -> None:
    response = await client.post(PATH, json=UPDATE, headers={SECRET_HEADER.lower(): SECRET})
    assert response.status == 200
    assert accepted.updates == [UPDATE]


async def test_a_non_ascii_secret_header_is_forbidden_not_an_error(
    client: TestClient[Any, Any], accepted: Accepted
) -> None:
    # Raw bytes on the wire: a client library would refuse to send them.
    host, port = client.server.host, client.server.port
    assert port is not None
    reader, writer = await asyncio.open_connection(host, port)
    body = b'{"update_id": 1}'
    writer.write(
        b"POST " + PATH.encode() + b" HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n"
        + SECRET_HEADER.encode()
        + b": s3cret_valu\xff\r\n"
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    await writer.wait_closed()
    assert status_line.split()[1] == b"403", status_line
    assert accepted.updates == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"not json", "application/json", id="not-json"),
        pytest.param(b"", "application/json", id="empty"),
        pytest.param(b'{"update_id": 1', "application/json", id="truncated"),
        pytest.param(b"\xff\xfe{}", "application/json", id="not-utf8"),
        pytest.param(b"[1, 2]", "application/json", id="list"),
        pytest.param(b'"a string"', "application/json", id="string"),
        pytest.param(b"null", "application/json", id="null"),
        pytest.param(b"42", "text/plain", id="number"),
    ],
)
async def test_right_secret_but_not_a_json_object_is_a_bad_request(
    client: TestClient[Any, Any], accepted: Accepted, body: bytes, content_type: str
) -> None:
    response = await client.post(
        PATH, data=body, headers={**secret(), "Content-Type": content_type}
    )
    assert response.status == 400
    assert accepted.updates == []


async def test_get_is_method_not_allowed(client: TestClient[Any, Any], accepted: Accepted) -> None:
    response = await client.get(PATH, headers=secret())
    assert response.status == 405
    assert accepted.updates == []


async def test_body_over_one_mebibyte_is_too_large(
    client: TestClient[Any, Any], accepted: Accepted
) -> None:
    text = "x" * MAX_BODY_BYTES
    big = b'{"update_id": 1, "pad": "' + text.encode() + b'"}'
    assert len(big) > 1024 * 1024
    response = await client.post(
        PATH, data=big, headers={**secret(), "Content-Type": "application/json"}
    )
    assert response.status == 413
    assert accepted.updates == []


async def test_body_just_under_the_limit_is_accepted(
    client: TestClient[Any, Any], accepted: Accepted
) -> None:
    head, tail = b'{"update_id": 1, "pad": "', b'"}'
    body = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES
    response = await client.post(
        PATH, data=body, headers={**secret(), "Content-Type": "application/json"}
    )
    assert response.status == 200
    assert [u["update_id"] for u in accepted.updates] == [1]


@pytest.mark.parametrize("path", ["/", "/tg", "/tg/hook/", "/tg/hook/x", "/other"])
async def test_other_paths_are_not_found(
    client: TestClient[Any, Any], accepted: Accepted, path: str
) -> None:
    response = await client.post(path, json=UPDATE, headers=secret())
    assert response.status == 404
    assert accepted.updates == []


# --- start_webhook end to end ----------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(condition: Callable[[], bool], *, seconds: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test if it does not within ``seconds``."""

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {seconds}s")
        await asyncio.sleep(0.01)


async def test_start_webhook_registers_and_serves_updates(
    content: Content, sqlite_db: Database, clock: FakeClock
) -> None:
    service = CoachService(content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    core = Core(
        service=service, content=content, database=sqlite_db, nudges=NudgeDesk(content, "UTC")
    )
    port = free_port()
    settings = Settings(
        _env_file=None,
        telegram_bot_token=tg.TOKEN,
        telegram_webhook_url="https://example.invalid/tg/hook",
        telegram_webhook_secret="s3cret_value",
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
    )
    request = tg.RecordingRequest()
    adapter = build_telegram(core, settings, request=request, polling=False)
    application = adapter.application
    await application.initialize()
    await application.start()
    runner = None
    try:
        runner = await start_webhook(adapter, settings)

        registered = request.sent("setWebhook")
        assert len(registered) == 1
        assert registered[0]["url"] == "https://example.invalid/tg/hook"
        assert registered[0]["secret_token"] == "s3cret_value"
        assert registered[0]["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
        assert registered[0]["allowed_updates"] == list(ALLOWED_UPDATES)
        assert request.sent("getUpdates") == []

        url = f"http://127.0.0.1:{port}/tg/hook"
        sam = tg.user(42)
        start = tg.message_update(sam, tg.private_chat(42), "/start")
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=start, headers=secret("s3cret_value")) as response:
                assert response.status == 200
            await wait_for(lambda: len(request.texts_to(42)) > 0)
            assert "AI coach" in request.texts_to(42)[0]
            sent_before = len(request.sent())

            again = tg.message_update(sam, tg.private_chat(42), "/start")
            async with http.post(url, json=again, headers=secret("s3cret_valuX")) as response:
                assert response.status == 403
            async with http.post(url, json=again) as response:
                assert response.status == 403
            # a body that is JSON but not an update is swallowed without sending anything
            async with http.post(url, json={"x": 1}, headers=secret("s3cret_value")) as response:
                assert response.status == 200
            await asyncio.sleep(0.1)  # give a wrongly accepted update the chance to show
            assert len(request.sent()) == sent_before
            assert application.update_queue.empty()

            # the endpoint still works after refusing and swallowing bad requests
            help_ = tg.message_update(sam, tg.private_chat(42), "/help")
            async with http.post(url, json=help_, headers=secret("s3cret_value")) as response:
                assert response.status == 200
            await wait_for(lambda: len(request.sent()) > sent_before)
            assert all(int(p["chat_id"]) == 42 for p in request.sent())
    finally:
        if runner is not None:
            await runner.cleanup()
        await application.stop()
        await application.shutdown()

    # after cleanup nothing listens on the port any more
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
