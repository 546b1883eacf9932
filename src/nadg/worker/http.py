"""HTTP plumbing of the worker: the body-size limit and errors as ErrorBody JSON."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nadg.errors import NadgError, TaskRejected, WorkerBusy
from nadg.protocol import ErrorBody

logger = logging.getLogger(__name__)


def error_response(
    status: int, error: str, detail: object = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=error, detail=detail).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers)


class BodyLimit:
    """413 for a request body over `max_bytes`, by Content-Length or as it streams in.

    The body is read (at most `max_bytes`) before the app sees it, then replayed.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        body = await self._read(receive)
        if body is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # disconnected: the app will notice
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        text = f"request body over the limit of {self.max_bytes} bytes"
        await error_response(413, text, headers={"Connection": "close"})(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _summary(errors: list[dict[str, object]]) -> str:
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) or ())  # type: ignore[attr-defined]
    return f"invalid request: {where}: {first.get('msg', 'invalid')}" if errors else "invalid"


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal is an ErrorBody: {"error": "...", "detail": ...}."""

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{key: err.get(key) for key in ("loc", "msg", "type")} for err in exc.errors()]
        return error_response(422, _summary(errors), jsonable_encoder(errors))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)

    async def on_nadg(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, NadgError)
        if isinstance(exc, WorkerBusy):
            retry = str(max(1, round(exc.retry_after)))
            return error_response(429, exc.message, headers={"Retry-After": retry})
        if isinstance(exc, TaskRejected):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
            return error_response(exc.status_code, exc.message, headers=headers)
        logger.error("request failed: %s", exc.message)
        return error_response(500, exc.message)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(NadgError, on_nadg)
