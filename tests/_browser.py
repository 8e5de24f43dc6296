"""A minimal headless-Chromium driver for the book's browser test, using only the stdlib.

Chromium is started with ``--remote-debugging-pipe`` and spoken to in the Chrome DevTools
Protocol (JSON messages separated by NUL bytes) on file descriptors 3 (commands to the
browser) and 4 (replies and events from it). That avoids a WebDriver binary and a websocket
client: the only dependency is the browser (Debian's ``chromium`` package).

Also here: a loopback HTTP server for a built site that records every request it answers.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# As root, in a container, without a display, and with no traffic of Chromium's own
# (updates, sync, field trials): the network is closed and every such attempt would fail.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
)
# Descriptors Chromium uses for --remote-debugging-pipe.
_BROWSER_IN_FD, _BROWSER_OUT_FD = 3, 4
# First descriptor number used for the child's pipe ends before they are moved to 3 and 4,
# so that moving one cannot overwrite the other.
_HIGH_FD = 10


class CDPError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Chromium:
    """Headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, executable: str = CHROMIUM, *, timeout: float = 60.0):
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="nslmodel-chromium-")
        self._log = open(Path(self._profile) / "chromium.log", "wb")  # noqa: SIM115
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def move_fds():  # runs in the child between fork and exec
            os.dup2(child_in, _BROWSER_IN_FD)  # dup2 clears close-on-exec on the copy
            os.dup2(child_out, _BROWSER_OUT_FD)

        cmd = [
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self._profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                close_fds=False,  # descriptors 3 and 4 must survive; others are CLOEXEC
                preexec_fn=move_fds,  # noqa: PLW1509 - only dup2, before any thread starts
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        self._next_id = 0
        self._lock = threading.Condition()
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None
        self.version = self.send("Browser.getVersion")["product"]

    # -- protocol -------------------------------------------------------------------------

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._closed = True
                    self._lock.notify_all()
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            with self._lock:
                for raw in messages:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._lock.notify_all()

    _closed = False

    def send(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one command and wait for its result."""
        with self._lock:
            self._next_id += 1
            msg_id = self._next_id
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._lock:
            while msg_id not in self._replies:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise CDPError(f"no reply to {method} (browser log: {self.log_tail()})")
                self._lock.wait(remaining)
            reply = self._replies.pop(msg_id)
        if "error" in reply:
            raise CDPError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, since: int, timeout: float | None = None) -> dict:
        """Wait for event `method` (of the page session) among events[since:]."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._lock:
            while True:
                for ev in self.events[since:]:
                    if ev.get("method") == method and ev.get("sessionId") == self.session:
                        return ev
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise CDPError(f"no {method} event within the timeout")
                self._lock.wait(remaining)

    def log_tail(self, n: int = 2000) -> str:
        try:
            return (Path(self._profile) / "chromium.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    # -- page -----------------------------------------------------------------------------

    def open_page(self) -> None:
        """Create the page and subscribe to its page, network and runtime events."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.send(f"{domain}.enable", session=self.session)

    def navigate(self, url: str) -> list[dict]:
        """Load `url`, wait for its load event; return the events seen meanwhile."""
        since = len(self.events)
        res = self.send("Page.navigate", {"url": url}, session=self.session)
        if res.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {res['errorText']}")
        self.wait_event("Page.loadEventFired", since)
        return self.events[since:]

    def evaluate(self, expression: str, timeout: float | None = None):
        """Evaluate a JavaScript expression (awaiting a promise) and return its value."""
        res = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=self.session,
            timeout=timeout,
        )
        if "exceptionDetails" in res:
            raise CDPError(f"JavaScript error: {res['exceptionDetails']}")
        return res["result"].get("value")

    def events_since(self, since: int) -> list[dict]:
        with self._lock:
            return [ev for ev in self.events[since:] if ev.get("sessionId") == self.session]

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except CDPError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        self.server.requests.append((self.path, int(code) if str(code).isdigit() else code))

    def log_message(self, *args):  # silence stderr
        pass


class SiteServer:
    """Serve a directory on 127.0.0.1 (a free port) and record (path, status) per request."""

    def __init__(self, root: Path):
        handler = functools.partial(_RecordingHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def requests(self) -> list[tuple[str, int]]:
        return list(self.httpd.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
