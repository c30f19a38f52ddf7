"""Development tools and test doubles: never shipped, never imported by ``apps``.

The wheel built from ``pyproject.toml`` holds only the ``apps`` package; what is here
(the TwelveData emulator with its unauthenticated control API, the payment chain emulator
that pays deposits) serves the tests, the benchmarks and ``make run``. An import-linter
contract keeps ``apps`` from importing it.
"""
