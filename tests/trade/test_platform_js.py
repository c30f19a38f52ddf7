"""platform.js, the pages' shared script: its decimal helpers (prices with a market's
decimals, exact totals, the change since the open) agree with Python's Decimal, and an
OCO's or bracket's result names the leg that executed, run in Node on the very file the
pages load."""
import json
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

SCRIPT = Path(__file__).resolve().parents[2] / "apps/trade/static/trade/platform.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="no node")

# Reads one JSON call per line ([name, ...args]) and answers each with its result.
HARNESS = """
global.window = {};
require(process.argv[1]);
const lines = require("fs").readFileSync(0, "utf8").trim().split("\\n");
console.log(JSON.stringify(lines.map((line) => {
  const [name, ...args] = JSON.parse(line);
  return window.Platform[name](...args);
})));
"""


def run(calls: list[list]) -> list:
    done = subprocess.run([NODE, "-e", HARNESS, str(SCRIPT)], capture_output=True, text=True,
                          input="\n".join(json.dumps(call) for call in calls), timeout=30,
                          check=True)
    return json.loads(done.stdout)


decimals = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("99999999"),
                       places=8, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None)
@given(pairs=st.lists(st.tuples(decimals, decimals, st.integers(0, 8)), min_size=1,
                      max_size=20))
def test_multiply_and_change_agree_with_decimal(pairs):
    calls, expected = [], []
    for a, b, places in pairs:
        a, b = a.normalize(), b.normalize()
        calls.append(["multiply", format(a, "f"), format(b, "f"), places])
        expected.append(format((a * b).quantize(Decimal(1).scaleb(-places),
                                                rounding=ROUND_HALF_UP), "f"))
        calls.append(["changePercent", format(a, "f"), format(b, "f")])
        expected.append(format(((a - b) * 100 / b).quantize(Decimal("0.01"),
                                                            rounding=ROUND_HALF_UP), "f"))
    assert run(calls) == expected


def test_price_shows_the_markets_decimals():
    assert run([["price", "1.3", 5], ["price", "1.234567", 5], ["price", "101", 2],
                ["price", "7", 0], ["price", None, 2], ["price", "", 2]]) == [
        "1.30000", "1.23456", "101.00", "7", "—", "—"]
    assert run([["changePercent", "1", "0"]]) == [None]


def test_a_lists_result_names_the_leg_that_executed_and_what_became_of_the_other():
    def leg(role: str, status: str) -> dict:
        return {"role": role, "status": status, "type": "LIMIT"}

    executed = {"id": 4, "kind": "OCO", "live": False, "executed_role": "STOP",
                "orders": [leg("LIMIT", "CANCELED"), leg("STOP", "FILLED")]}
    bracket = {"id": 5, "kind": "BRACKET", "live": True, "executed_role": None,
               "orders": [leg("ENTRY", "NEW"), leg("LIMIT", "WAITING"),
                          leg("STOP", "WAITING")]}
    ended = dict(bracket, live=False, orders=[leg("ENTRY", "CANCELED")])
    assert run([["listResult", executed], ["listResult", bracket], ["listResult", ended],
                ["listPlaced", bracket], ["statusName", "PARTIALLY_FILLED"]]) == [
        "stop leg executed; limit leg canceled", "live", "ended: entry canceled",
        "BRACKET #5 placed: entry new, limit leg waiting, stop leg waiting.",
        "Partially filled"]
