"""Drive Debian's headless chromium over the DevTools protocol (type, press Enter, read, shoot).

Used by tests/test_ui_browser.py and ``python -m scripts.ui_screenshots``. Only loopback.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
# Streamlit's status widget: this icon shows (next to "Stop") while a script runs, from 0.5 s
# into the run on; IDLE_S is how long a page must look finished to be taken as finished.
RUNNING_ICON = '[data-testid="stStatusWidgetRunningIcon"]'
IDLE_S = 0.8


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chromium:
    """One headless chromium with a fresh profile and one page, closed on exit."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
        self._profile = tempfile.mkdtemp(prefix="kb-chromium-")  # removed in close()
        port = _free_port()
        self.proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                f"--remote-debugging-port={port}",
                "--remote-allow-origins=*",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its helper processes too can be stopped as one group
        )
        self._ids = itertools.count(1)
        self.width, self.height = width, height
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=1) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.2)
        self._connection = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.ws = self._connection.__enter__()
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self._connection.__exit__(None, None, None)
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            self._stop_helpers()
            self._remove_profile()

    def _stop_helpers(self) -> None:
        """Chromium's renderer and crash-handler processes can outlive the browser and keep
        writing into the profile: stop the whole process group."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _remove_profile(self) -> None:
        """Remove the profile directory, retrying while a dying helper still writes to it."""
        for _ in range(20):
            try:
                shutil.rmtree(self._profile)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.25)
        shutil.rmtree(self._profile, ignore_errors=True)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; events that arrive meanwhile are dropped."""
        call_id = next(self._ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def text(self) -> str:
        return self.js("document.body ? document.body.innerText : ''") or ""

    def running(self) -> bool:
        """Whether Streamlit shows its running icon (it does so 0.5 s into a run)."""
        return bool(self.js(f"!!document.querySelector({json.dumps(RUNNING_ICON)})"))

    def wait_for_text(self, *needles: str, timeout: float = 60.0) -> str:
        """The page's text once it contains every needle and Streamlit has stopped running.

        Streamlit shows that a script runs only half a second into the run, so the page must
        look finished for longer than that: text already on screen from the start of a run (or
        the previous run) does not end the wait.
        """
        deadline = time.monotonic() + timeout
        idle_since = None
        while True:
            text = self.text()
            now = time.monotonic()
            if all(n in text for n in needles) and not self.running():
                idle_since = idle_since or now
                if now - idle_since >= IDLE_S:
                    return self.text()
            else:
                idle_since = None
            if now > deadline:
                missing = [n for n in needles if n not in text]
                raise TimeoutError(f"page never showed {missing}; it shows:\n{text[:3000]}")
            time.sleep(0.2)

    def type_and_enter(self, selector: str, text: str) -> None:
        """Focus an input, type like a person (input events) and press Enter."""
        focus = (
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return false; e.focus(); return document.activeElement === e; })()"
        )
        deadline = time.monotonic() + 30
        while not self.js(focus):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no element {selector!r} on the page:\n{self.text()[:2000]}")
            time.sleep(0.3)
        self.send("Input.insertText", text=text)
        time.sleep(0.3)  # let React see the input before the key press
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        self.send("Input.dispatchKeyEvent", type="keyDown", text="\r", **key)
        self.send("Input.dispatchKeyEvent", type="keyUp", **key)

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        """A PNG of the page; ``full_page`` grows the viewport to Streamlit's whole content."""
        if full_page:  # Streamlit scrolls inside its main block, so measure that
            height = self.js(
                'Math.max(...[...document.querySelectorAll(\'[data-testid="stMainBlockContainer"],'
                ' [data-testid="stMain"], body\')].map(e => e.scrollHeight))'
            )
            self.send(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=max(self.height, min(int(height or 0) + 80, 12000)),
                deviceScaleFactor=1,
                mobile=False,
            )
            time.sleep(1.0)  # let charts and tables lay out at the new size
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
