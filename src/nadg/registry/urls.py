"""Worker URLs: what the registry accepts, and the one spelling it stores."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from nadg.errors import InvalidURL


def normalize_worker_url(url: str) -> str:
    """The canonical form of a worker's base URL; InvalidURL when it is not usable.

    http or https, a host, no user or password, no query or fragment; the scheme and host are
    lower-cased and a trailing slash dropped, so one worker is never registered twice.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"invalid worker URL {_safe(text)!r}: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"invalid worker URL {_safe(text)!r}: use http:// or https://")
    if not parts.hostname:
        raise InvalidURL(f"invalid worker URL {_safe(text)!r}: no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("invalid worker URL: credentials are not allowed in it")
    if parts.query or parts.fragment:
        raise InvalidURL(f"invalid worker URL {_safe(text)!r}: no query or fragment allowed")
    if any(char.isspace() for char in text):
        raise InvalidURL(f"invalid worker URL {_safe(text)!r}: it contains spaces")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def _safe(text: str) -> str:
    """The URL cut short, for a message."""
    return text if len(text) <= 200 else text[:200] + "..."
