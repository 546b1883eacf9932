"""The Streamlit entry script of `nadg ui`: page setup, the sidebar, and the four pages.

Run with `nadg ui` (or `streamlit run src/nadg/ui/app.py`). Each page is a module of this
package that Streamlit runs as a page script (its `render()` runs under `__main__`).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from nadg.ui import sidebar
from nadg.ui.state import settings

HERE = Path(__file__).resolve().parent
PAGES = (
    ("fleet.py", "Fleet", "fleet", ":material/dns:"),
    ("run.py", "Run", "run", ":material/play_arrow:"),
    ("history.py", "History", "history", ":material/history:"),
    ("metrics.py", "Metrics", "metrics", ":material/monitoring:"),
)


def main() -> None:
    st.set_page_config(page_title="NADG", page_icon=":material/hub:", layout="wide")
    pages = [
        st.Page(HERE / name, title=title, url_path=path, icon=icon, default=(path == "fleet"))
        for name, title, path, icon in PAGES
    ]
    page = st.navigation(pages)
    sidebar.render(settings())
    page.run()


if __name__ == "__main__":
    main()
