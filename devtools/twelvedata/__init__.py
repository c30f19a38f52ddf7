"""A loopback TwelveData emulator: REST + price WebSocket, driven by the real SDK.

It speaks the wire formats of ``api.twelvedata.com`` and ``ws.twelvedata.com`` (see
``/work/shared/reference/wire-formats.md``) over a seeded random-walk market, for tests and
as the demo price feed. No Django here.

From a test::

    with running_emulator(apikey="k", paused=True) as emu:
        td = TDClient(apikey="k", base_url=emu.base_url)
        emu.set_price("EUR/USD", Decimal("1.1000"))

From a shell: ``python -m devtools.twelvedata --port 8765 --apikey demo``.
"""

from .catalog import Catalog, Instrument, Kind
from .market import Tick
from .runner import EmulatorHandle, running_emulator
from .server import WS_PATH, Emulator, EmulatorConfig

__all__ = [
    "WS_PATH",
    "Catalog",
    "Emulator",
    "EmulatorConfig",
    "EmulatorHandle",
    "Instrument",
    "Kind",
    "Tick",
    "running_emulator",
]
