"""What the pages share: the session's settings, the process's runs in flight, error display."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd  # type: ignore[import-untyped]
import streamlit as st

from nadg.config import Settings
from nadg.errors import ConfigError, DatabaseUnavailable, NadgError
from nadg.ui.bridge import RunJobs
from nadg.ui.views import status_css

T = TypeVar("T")

POLL_SECONDS = 1.0
# A styled table shows the Styler's text, not column_config's number formats.
NUMBER_FORMATS = {
    "latency ms": "{:.0f}",
    "uptime 24h %": "{:.1f}",
    "elapsed s": "{:.2f}",
    "wall s": "{:.2f}",
}


def settings() -> Settings:
    """The session's Settings, built once from the environment (`nadg ui` sets the database)."""
    if "nadg_settings" not in st.session_state:
        st.session_state["nadg_settings"] = Settings()
    value: Settings = st.session_state["nadg_settings"]
    return value


@st.cache_resource(show_spinner=False)
def jobs() -> RunJobs:
    """One set of background runs for the whole server process (every session, every tab)."""
    return RunJobs()


def registry_call(call: Callable[[], T]) -> T:
    """`call()`, or a clear message and the end of this page when the registry is unreachable."""
    try:
        return call()
    except DatabaseUnavailable as exc:
        st.error(
            f"**The registry database is unreachable.** {exc.message}\n\n"
            "Check NADG_DATABASE_URL (or `nadg ui --db URL`) and that the database is up."
        )
    except ConfigError as exc:
        st.error(f"**The registry database is misconfigured.** {exc.message}")
    except NadgError as exc:
        st.error(f"**The registry failed.** {exc.message}")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def flash(message: str, kind: str = "success") -> None:
    """A message to show once, on the next rerun (actions rerun the page to refresh it)."""
    st.session_state["nadg_flash"] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop("nadg_flash", (None, None))
    if message:
        getattr(st, kind, st.info)(message)


def status_table(rows: list[dict[str, Any]]) -> Any:
    """Rows as a table whose `status` cells are colored like badges."""
    frame = pd.DataFrame(rows)
    if frame.empty or "status" not in frame:
        return frame
    formats = {name: spec for name, spec in NUMBER_FORMATS.items() if name in frame}
    return frame.style.map(status_css, subset=["status"]).format(formats, na_rep="-")
