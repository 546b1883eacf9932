"""A function for `nadg map examples/square.py:square --items '[1, 2, 3]'`."""


def square(x: int) -> int:
    return x * x
