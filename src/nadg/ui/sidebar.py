"""The sidebar: what is configured (LLM, database, worker token), never a secret."""

from __future__ import annotations

import streamlit as st

from nadg.config import Settings
from nadg.ui.views import database_facts, llm_facts


def render(settings: Settings) -> None:
    with st.sidebar:
        st.markdown("### NADG")
        st.caption("NEXUS-AI Distributed Grid: one task, many cheap workers.")
        provider, llm_line = llm_facts(settings)
        st.markdown(f"**LLM provider:** {provider or 'none'}")
        st.caption(llm_line)
        kind, where = database_facts(settings.resolved_database_url())
        st.markdown(f"**Database:** {kind}")
        st.caption(where)
        uses_token = settings.client_token() is not None
        st.markdown(f"**Worker token:** {'yes' if uses_token else 'no'}")
        st.caption(
            "Requests to workers carry X-NADG-AUTH."
            if uses_token
            else "No NADG_AUTH_TOKEN: workers must accept unauthenticated requests."
        )
