"""Tiny loopback HTTP endpoints for heartbeat tests: healthy, 500, never answering, webhook."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Endpoint:
    """An HTTP/1.1 server on 127.0.0.1 whose behaviour `mode` can change between requests.

    ok: /health answers like a worker; error: 500; hang: accepts and never answers.
    POST bodies are kept in `received` (the alert webhook).
    """

    mode: str = "ok"
    received: list[Any] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Endpoint:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = _content_length(head)
                body = await reader.readexactly(length) if length else b""
                if self.mode == "hang":
                    await asyncio.sleep(3600)
                if body:
                    self.received.append(json.loads(body))
                writer.write(self._answer())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(self) -> bytes:
        if self.mode == "error":
            status, payload = "500 Internal Server Error", {"error": "boom"}
        else:
            now = datetime.now(UTC).isoformat()
            status = "200 OK"
            payload = {"status": "healthy", "worker_id": "fake", "uptime_s": 1.0, "timestamp": now}
        body = json.dumps(payload).encode()
        head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        return (head + f"content-length: {len(body)}\r\n\r\n").encode() + body


def _content_length(head: bytes) -> int:
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value.strip())
    return 0
