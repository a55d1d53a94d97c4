"""Browser tests of the console: Playwright (Python) driving Debian's Chromium.

Never a downloaded browser: ``/usr/bin/chromium`` (``make browser-deps`` installs it with
apt-get when it is missing and we are root); without it these tests skip and say why. Each
browser gets a fresh profile, Chromium's fake microphone playing an espeak-ng WAV, and a
watch on every request (none may leave 127.0.0.1) and on console errors.

``CONSOLE_SCREENSHOTS=1`` also saves a screenshot of each page under docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]  # fmt: skip
SAYS = "I have a question about billing."


def _chromium_or_skip() -> str:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser-deps` as root (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (uv sync installs it with the dev group)")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def fake_microphone(run_dir: Path) -> Path:
    """2 s of silence (the greeting plays), the caller's words, then 8 s of silence, at 48 kHz."""
    from loadgen.audio import silence_pcm
    from loadgen.speech import speech_pcm

    rate = 48_000
    pcm = silence_pcm(2.5, rate) + speech_pcm(SAYS, rate) + silence_pcm(8.0, rate)
    path = run_dir / "fake-microphone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path


@dataclass
class Watch:
    """What a browser did that the tests forbid: requests off 127.0.0.1, console errors."""

    offsite: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    allowed_errors: tuple[str, ...] = ()

    def request(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.hostname != "127.0.0.1":
            self.offsite.append(url)

    def console(self, kind: str, text: str) -> None:
        if kind == "error" and not any(a in text for a in self.allowed_errors):
            self.errors.append(text)

    def check(self) -> None:
        assert self.offsite == [], f"requests left 127.0.0.1: {self.offsite}"
        assert self.errors == [], f"console errors: {self.errors}"


Browser = Callable[..., Awaitable[tuple[object, Watch]]]


@pytest.fixture
async def open_browser(fake_microphone: Path) -> AsyncIterator[Browser]:
    """``page, watch = await open_browser(width=1280)``: a fresh Chromium profile each call."""
    executable = _chromium_or_skip()
    from playwright.async_api import async_playwright

    profiles: list[str] = []
    contexts: list[object] = []
    async with async_playwright() as p:

        async def open_one(width: int = 1280, height: int = 900, dark: bool = False) -> tuple[object, Watch]:
            profile = tempfile.mkdtemp(prefix="sb-chromium-")
            profiles.append(profile)
            context = await p.chromium.launch_persistent_context(
                profile, executable_path=executable, headless=True,
                args=[*LAUNCH_ARGS, f"--use-file-for-fake-audio-capture={fake_microphone}"],
                viewport={"width": width, "height": height},
                color_scheme="dark" if dark else "light",
                permissions=["microphone"],
            )  # fmt: skip
            contexts.append(context)
            context.set_default_timeout(15_000)
            watch = Watch()
            context.on("request", lambda request: watch.request(request.url))
            page = context.pages[0] if context.pages else await context.new_page()
            page.on("console", lambda message: watch.console(message.type, message.text))
            page.on("pageerror", lambda error: watch.errors.append(f"page error: {error}"))
            return page, watch

        try:
            yield open_one
        finally:
            for context in contexts:
                await context.close()  # type: ignore[attr-defined]
            for profile in profiles:
                shutil.rmtree(profile, ignore_errors=True)


async def screenshot(page: object, name: str) -> None:
    """Save docs/screenshots/<name>.png when CONSOLE_SCREENSHOTS is set (not on every run)."""
    if not os.environ.get("CONSOLE_SCREENSHOTS"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.wait_for_timeout(300)  # type: ignore[attr-defined]
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
