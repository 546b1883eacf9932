"""The Streamlit control room (`nadg ui`): fleet, runs, history and metrics over the registry.

`app.py` is the entry script; each page is a module whose `render()` Streamlit runs as a page
script. `views.py` holds the pure data shaping, `bridge.py` the async calls and background runs.
"""
