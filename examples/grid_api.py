"""The Python API: run a command and map a function on the registered fleet.

Start a local grid first (`nadg up`), then: `python examples/grid_api.py`.
"""

from nadg import Grid


def collatz_steps(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


if __name__ == "__main__":
    grid = Grid()
    run = grid.run("1. print(6 * 7)\n2. print(2 ** 10)")
    print(run.status, run.result, sep="\n")
    steps = grid.map(collatz_steps, range(1, 10_001), chunks=8)
    print("longest Collatz chain below 10,000:", max(range(len(steps)), key=steps.__getitem__) + 1)
