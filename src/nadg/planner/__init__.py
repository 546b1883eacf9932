"""Planners: from one command to a validated Plan of subtasks."""
