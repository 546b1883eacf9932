"""The worker node: a FastAPI service that runs subtasks in a sandbox."""
