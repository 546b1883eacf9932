"""The project's errors: one root, and a subclass per thing a caller can act on.

A subclass's docstring is its default message, so `raise WorkerNotFound()` already says
something useful; pass a message to be more specific.
"""

from __future__ import annotations


class NadgError(Exception):
    """NADG failed."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "NADG failed.").strip().splitlines()[0]
        super().__init__(self.message)


class InvalidInput(NadgError):
    """The input is invalid."""


class ConfigError(InvalidInput):
    """The configuration is invalid."""


class InvalidURL(InvalidInput):
    """The URL is invalid: use http:// or https:// with a host and no credentials."""


# --- talking to workers -------------------------------------------------------------------


class WorkerError(NadgError):
    """The worker could not take the task."""

    def __init__(self, message: str | None = None, *, url: str = "") -> None:
        self.url = url
        super().__init__(message)


class WorkerUnreachable(WorkerError):
    """The worker did not answer (connection refused, reset or timed out)."""


class WorkerServerError(WorkerError):
    """The worker answered with a server error (5xx)."""


class WorkerBusy(WorkerError):
    """The worker has no free slot (429)."""

    def __init__(
        self, message: str | None = None, *, url: str = "", retry_after: float = 1.0
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, url=url)


class TaskRejected(WorkerError):
    """The worker refused the request itself (401, 413, 422 or 501)."""

    def __init__(self, message: str | None = None, *, url: str = "", status_code: int = 0) -> None:
        self.status_code = status_code
        super().__init__(message, url=url)


# --- sandbox -------------------------------------------------------------------------------


class SandboxError(NadgError):
    """The sandbox could not start the task."""


# --- registry ------------------------------------------------------------------------------


class RegistryError(NadgError):
    """The registry failed."""


class DatabaseUnavailable(RegistryError):
    """The database could not be reached."""


class NotFound(RegistryError):
    """Not found."""


class WorkerNotFound(NotFound):
    """No such worker in the registry."""


class RunNotFound(NotFound):
    """No such run in the registry."""


# --- planning and LLMs ---------------------------------------------------------------------


class PlanError(NadgError):
    """The plan is invalid."""


class LLMError(NadgError):
    """The LLM call failed."""


class LLMNotConfigured(LLMError):
    """No LLM is configured: set GEMINI_API_KEY or NADG_OPENAI_BASE_URL / OPENAI_API_KEY."""


class LLMRateLimited(LLMError):
    """The LLM provider kept rate-limiting the request (429) after all retries."""


class LLMUnavailable(LLMError):
    """The LLM provider is unavailable (5xx, timeout or connection error) after all retries."""


class LLMBadOutput(LLMError):
    """The LLM answered with something that could not be used."""


class BudgetExceeded(LLMError):
    """The call would exceed the configured token budget."""


# --- runs ----------------------------------------------------------------------------------


class RunError(NadgError):
    """The run failed."""


class NoWorkers(RunError):
    """No active worker can run this plan: start one with `nadg worker` or `nadg up`."""
