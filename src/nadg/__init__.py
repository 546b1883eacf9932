"""NADG: split one big task into many and run them on a fleet of cheap, unreliable workers."""

__version__ = "0.1.0"
