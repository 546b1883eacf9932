"""The registry: every SQL statement of NADG lives in this package."""
