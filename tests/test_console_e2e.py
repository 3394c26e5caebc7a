"""The console chat as a newcomer uses it: real processes, a real SQLite file, keys not wording."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from tests.cli import run_mend

pytestmark = pytest.mark.slow

KEY = re.compile(r"^Mend[^:]*: \[([a-z0-9_.]+)\]", re.MULTILINE)


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}"
    return env


def chat(tmp_path: Path, script: str, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"script{len(list(tmp_path.glob('script*')))}.txt"
    path.write_text(script, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bots", "chat", "--keys", "--script", str(path), *extra],
        cwd=tmp_path,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def keys(output: str) -> list[str]:
    return KEY.findall(output)


ONBOARDING = "/start\n1\n1\nBerlin\n1\n7:30\n4\n"


def test_scripted_console_session_completes_onboarding(tmp_path: Path) -> None:
    done = chat(tmp_path, "# a whole first meeting\n" + ONBOARDING + "/help\n")
    assert done.returncode == 0, done.stderr
    assert keys(done.stdout) == [
        "onboarding.intro",
        "onboarding.consent",
        "onboarding.ask_timezone",
        "input.confirm_timezone",
        "onboarding.ask_time",
        "onboarding.ask_situation",
        "onboarding.suggest.growing",
        "onboarding.done",
        "help.header",
    ]
    assert "Traceback" not in done.stderr


def test_second_process_resumes_mid_onboarding(tmp_path: Path) -> None:
    first = chat(tmp_path, "/start\n1\n1\n")
    assert keys(first.stdout)[-1] == "onboarding.ask_timezone"
    second = chat(tmp_path, "Berlin\n1\n")
    assert keys(second.stdout) == ["input.confirm_timezone", "onboarding.ask_time"]


def test_second_process_resumes_while_the_first_is_still_running(tmp_path: Path) -> None:
    first = subprocess.Popen(
        [sys.executable, "-m", "bots", "chat", "--keys"],
        cwd=tmp_path,
        env=env_for(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdin is not None and first.stdout is not None
        output = line_reader(first.stdout)
        first.stdin.write("/start\n1\n1\n")
        first.stdin.flush()
        seen = read_until(output, "[onboarding.ask_timezone]", seconds=60)
        assert "[onboarding.ask_timezone]" in seen
        second = chat(tmp_path, "Europe/Berlin\n1\n")
        assert keys(second.stdout) == ["input.confirm_timezone", "onboarding.ask_time"]
        # the first process sees the step the second one moved to
        first.stdin.write("/start\n")
        first.stdin.flush()
        seen = read_until(output, "[onboarding.ask_time]", seconds=60)
        assert "[start.resume]" in seen and "[onboarding.ask_time]" in seen
    finally:
        first.kill()
        first.wait(timeout=30)


def read_until(lines: queue.Queue[str], marker: str, *, seconds: float) -> str:
    """Collect lines from a reader thread's queue until ``marker`` shows up or time runs out."""
    collected = ""
    deadline = time.monotonic() + seconds
    while marker not in collected:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            collected += lines.get(timeout=remaining)
        except queue.Empty:
            break
    return collected


def line_reader(stream: IO[str]) -> queue.Queue[str]:
    """Read ``stream`` on a daemon thread, so waiting for output never blocks the test."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_couple_mode_shows_group_and_private_lines(tmp_path: Path) -> None:
    out = chat(tmp_path, "Ana: /start\nAna> /start\nBen: /help\n", "--couple", "Ana", "Ben")
    assert out.returncode == 0, out.stderr
    assert keys(out.stdout) == ["start.group", "onboarding.intro", "help.header"]
    assert "Mend → Ana (private): [onboarding.intro]" in out.stdout


def test_mend_without_tokens_starts_the_console_and_says_how_to_connect(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "bots"],
        cwd=tmp_path,
        env=env,
        input="/start\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "TELEGRAM_BOT_TOKEN" in done.stdout and "mend run" in done.stdout
    assert "AI coach" in done.stdout


def test_default_database_folder_is_created(tmp_path: Path) -> None:
    done = run_mend(tmp_path, "migrate", database=None)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "mend.db").exists()
    assert "revision 0005" in done.stdout


def test_run_without_tokens_explains_what_is_missing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bots", "run"],
        cwd=tmp_path,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in done.stderr and "DISCORD_BOT_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr
