"""Feed a child's stdin and read its stdout/stderr with a cap, without ever blocking it."""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 64 * 1024


class Capture:
    """Keep the first `limit` bytes of a stream; count and drop the rest, reading to EOF."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(CHUNK):
            self.add(chunk)

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[nadg: output truncated, {self.dropped} more bytes dropped]\n"
        return text


async def feed(stdin: asyncio.StreamWriter, payload: bytes) -> None:
    """Write the payload and close; a child that exits without reading it is not an error."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.write(payload)
        await stdin.drain()
    stdin.close()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        await stdin.wait_closed()
