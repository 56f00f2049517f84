"""A small HTTP proxy in front of the local S3 server that injects storage faults.

With ``faults`` on, the first attempt of some requests (chosen by a hash of the
request, so the choice is repeatable) gets a 503 SlowDown, a connection reset, or a
slow answer; a retry of the same request goes through. Requests to a bucket named
``always-503-*`` fail every time, so a test can count how often a client retries.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.faults = False
        self.seen: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # by path
        self.served: Counter[str] = Counter()  # bytes of GET responses, by path
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._decide(self.command, self.path, self.headers.get("Range", ""))
                if fault == "503":
                    self._reply(503, {"Content-Type": "application/xml"}, SLOWDOWN)
                    return
                if fault == "reset":
                    self.close_connection = True
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.connection.close()
                    return
                if fault == "slow":
                    time.sleep(0.3)
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                out = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP}
                if self.command != "HEAD":
                    out["Content-Length"] = str(len(data))
                if self.command == "GET":
                    with proxy._lock:
                        proxy.served[self.path.split("?")[0]] += len(data)
                self._reply(resp.status, out, data)
                conn.close()

            def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _decide(self, method: str, path: str, range_: str) -> str | None:
        key = f"{method} {path} {range_}"
        with self._lock:
            self.requests[path.split("?")[0]] += 1
            if path.startswith("/always-503-"):
                self.injected["503"] += 1
                return "503"
            self.seen[key] += 1
            if not self.faults or self.seen[key] > 1:
                return None
            choice = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 6
            fault = {0: "503", 1: "reset", 2: "slow"}.get(choice)
            if fault:
                self.injected[fault] += 1
            return fault

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
