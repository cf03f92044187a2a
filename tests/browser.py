"""Headless Chromium for page tests: no network, fresh profile, console messages from
Chromium's own log (--enable-logging=stderr), DOM after the scripts ran, screenshots."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    # any name lookup fails: a page that tries the network shows it as a console error
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
_CONSOLE = re.compile(r':CONSOLE(?:\(\d+\))?:?\d*\] "(.*)", source: (.*)$')


@dataclass
class Loaded:
    dom: str
    console: list[str]  # every console message (log, warning, error, uncaught exception)


def _run(url: str, extra: list[str], timeout: float) -> tuple[str, str]:
    assert CHROMIUM, "chromium not installed"
    with tempfile.TemporaryDirectory(prefix="tsr-chromium-") as profile:
        proc = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra, url],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    return proc.stdout, proc.stderr


def load(page: Path, fragment: str = "", timeout: float = 120) -> Loaded:
    """The DOM of a local page after its scripts ran, and its console messages."""
    url = page.resolve().as_uri() + fragment
    out, err = _run(url, ["--virtual-time-budget=3000", "--dump-dom"], timeout)
    console = [m.group(1) + " @ " + m.group(2) for line in err.splitlines() if (m := _CONSOLE.search(line))]
    return Loaded(out, console)


def screenshot(page: Path, png: Path, size: str = "1400,1000", timeout: float = 120) -> Path:
    """PNG of the page's first screen."""
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(page.resolve().as_uri(), [f"--screenshot={png}", f"--window-size={size}"], timeout)
    return png
