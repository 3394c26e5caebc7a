"""Running ``mend`` (``python -m bots``) as a real process, as the README's commands do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_mend(
    cwd: Path, *args: str, database: Path | None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m bots *args`` in ``cwd``, with no platform tokens set.

    ``database`` is the SQLite file to use; None leaves ``DATABASE_URL`` unset (Mend's
    default folder). The result is returned whatever the exit status.
    """
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.endswith("_TOKEN")}
    if database is not None:
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run(
        [sys.executable, "-m", "bots", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
