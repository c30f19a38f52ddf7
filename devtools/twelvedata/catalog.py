"""The emulator's built-in instrument catalog.

It stands in for TwelveData's reference data (``/forex_pairs``, ``/stocks``, ``/etfs``,
``/indices``, ``/cryptocurrencies``): a small, realistic set of instruments with the same
identifying fields the real API returns (names, exchanges, MIC codes, FIGI/ISIN/CUSIP).
Each instrument also carries what the emulator needs to invent prices for it: its natural
number of decimals, a reference price, its exchange's timezone and a typical daily volume.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Instrument classes; each has its own wire shape on every endpoint."""

    FOREX = "forex"
    STOCK = "stock"
    ETF = "etf"
    INDEX = "index"
    CRYPTO = "crypto"


@dataclass(frozen=True)
class Instrument:
    """One tradable symbol, with the reference fields TwelveData reports for it.

    ``reference_price`` is a decimal string in the symbol's own precision (``decimals``),
    so it converts to integer price units without rounding.
    """

    symbol: str
    kind: Kind
    decimals: int
    reference_price: str
    name: str = ""
    # Forex and crypto: full currency names (real data uses names, not ISO codes) plus the
    # codes, which the ``currency_base``/``currency_quote`` filters also accept.
    currency_base: str = ""
    currency_quote: str = ""
    base_code: str = ""
    quote_code: str = ""
    currency_group: str = ""
    available_exchanges: tuple[str, ...] = ()
    # Exchange-listed instruments (stocks, ETFs, indices).
    currency: str = ""
    exchange: str = ""
    mic_code: str = ""
    country: str = ""
    type: str = ""
    figi_code: str = ""
    cfi_code: str = ""
    isin: str = ""
    cusip: str = ""
    timezone: str = "UTC"
    daily_volume: int = 0

    @property
    def has_volume(self) -> bool:
        """Whether REST bars/quotes carry ``volume`` (forex and crypto series lack it)."""
        return self.kind in (Kind.STOCK, Kind.ETF, Kind.INDEX)

    @property
    def streams_day_volume(self) -> bool:
        """Whether WebSocket price events carry ``day_volume`` (equities and crypto do)."""
        return self.kind in (Kind.STOCK, Kind.ETF, Kind.CRYPTO)

    @property
    def streams_bid_ask(self) -> bool:
        """Whether WebSocket price events carry ``bid``/``ask`` (forex does)."""
        return self.kind is Kind.FOREX


_CURRENCY_NAMES = {
    "AUD": "Australian Dollar",
    "CAD": "Canadian Dollar",
    "CHF": "Swiss Franc",
    "CNH": "Chinese Yuan Renminbi Offshore",
    "EUR": "Euro",
    "GBP": "British Pound",
    "HKD": "Hong Kong Dollar",
    "JPY": "Japanese Yen",
    "MXN": "Mexican Peso",
    "NOK": "Norwegian Krone",
    "NZD": "New Zealand Dollar",
    "PLN": "Polish Zloty",
    "SEK": "Swedish Krona",
    "SGD": "Singapore Dollar",
    "TRY": "Turkish Lira",
    "USD": "US Dollar",
    "ZAR": "South African Rand",
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "SOL": "Solana",
    "XRP": "XRP",
    "LTC": "Litecoin",
    "DOGE": "Dogecoin",
    "ADA": "Cardano",
}


def _forex(pair: str, group: str, price: str) -> Instrument:
    base, quote = pair.split("/")
    # JPY-quoted pairs are quoted to 3 decimals, the rest to 5 (pipettes), as on the real feed.
    decimals = len(price.split(".")[1])
    return Instrument(
        symbol=pair,
        kind=Kind.FOREX,
        decimals=decimals,
        reference_price=price,
        name=f"{_CURRENCY_NAMES[base]} / {_CURRENCY_NAMES[quote]}",
        currency_base=_CURRENCY_NAMES[base],
        currency_quote=_CURRENCY_NAMES[quote],
        base_code=base,
        quote_code=quote,
        currency_group=group,
        type="Physical Currency",
    )


def _crypto(pair: str, price: str, volume: int) -> Instrument:
    base, quote = pair.split("/")
    return Instrument(
        symbol=pair,
        kind=Kind.CRYPTO,
        decimals=len(price.split(".")[1]),
        reference_price=price,
        name=f"{_CURRENCY_NAMES[base]} {_CURRENCY_NAMES[quote]}",
        currency_base=_CURRENCY_NAMES[base],
        currency_quote=_CURRENCY_NAMES[quote],
        base_code=base,
        quote_code=quote,
        available_exchanges=("Binance", "Coinbase Pro", "Kraken"),
        exchange="Binance",
        type="Digital Currency",
        daily_volume=volume,
    )


_NASDAQ = {"exchange": "NASDAQ", "mic_code": "XNGS", "timezone": "America/New_York"}
_NYSE = {"exchange": "NYSE", "mic_code": "XNYS", "timezone": "America/New_York"}
_ARCA = {"exchange": "NYSE", "mic_code": "ARCX", "timezone": "America/New_York"}
_US = {"country": "United States", "currency": "USD"}


def _stock(
    symbol: str,
    name: str,
    venue: Mapping[str, str],
    price: str,
    volume: int,
    figi: str,
    isin: str,
) -> Instrument:
    return Instrument(
        symbol=symbol,
        kind=Kind.STOCK,
        decimals=2,
        reference_price=price,
        name=name,
        type="Common Stock",
        figi_code=figi,
        cfi_code="ESVUFR",
        isin=isin,
        # A US ISIN embeds the CUSIP: country prefix + 9 characters + check digit.
        cusip=isin[2:11],
        daily_volume=volume,
        **_US,
        **venue,
    )


def _etf(symbol: str, name: str, venue: Mapping[str, str], price: str, volume: int,
         figi: str, isin: str) -> Instrument:
    return Instrument(
        symbol=symbol,
        kind=Kind.ETF,
        decimals=2,
        reference_price=price,
        name=name,
        type="ETF",
        figi_code=figi,
        cfi_code="CEOGEU",
        isin=isin,
        cusip=isin[2:11],
        daily_volume=volume,
        **_US,
        **venue,
    )


def _index(symbol: str, name: str, price: str, country: str, currency: str, exchange: str,
           mic: str, tz: str) -> Instrument:
    return Instrument(
        symbol=symbol,
        kind=Kind.INDEX,
        decimals=2,
        reference_price=price,
        name=name,
        currency=currency,
        exchange=exchange,
        mic_code=mic,
        country=country,
        type="Index",
        timezone=tz,
        daily_volume=0,
    )


INSTRUMENTS: tuple[Instrument, ...] = (
    _forex("EUR/USD", "Major", "1.08450"),
    _forex("GBP/USD", "Major", "1.27120"),
    _forex("USD/JPY", "Major", "149.850"),
    _forex("USD/CHF", "Major", "0.88210"),
    _forex("AUD/USD", "Major", "0.65430"),
    _forex("USD/CAD", "Major", "1.36010"),
    _forex("NZD/USD", "Major", "0.60870"),
    _forex("EUR/GBP", "Minor", "0.85310"),
    _forex("EUR/JPY", "Minor", "162.510"),
    _forex("GBP/JPY", "Minor", "190.490"),
    _forex("EUR/CHF", "Minor", "0.95660"),
    _forex("AUD/JPY", "Minor", "98.040"),
    _forex("EUR/AUD", "Minor", "1.65750"),
    _forex("GBP/CHF", "Minor", "1.12130"),
    _forex("USD/TRY", "Exotic", "32.15400"),
    _forex("USD/MXN", "Exotic", "17.05200"),
    _forex("USD/ZAR", "Exotic", "18.72300"),
    _forex("USD/SGD", "Exotic", "1.34520"),
    _forex("USD/HKD", "Exotic", "7.81850"),
    _forex("USD/SEK", "Exotic", "10.45100"),
    _forex("EUR/PLN", "Exotic-Cross", "4.31200"),
    _forex("EUR/NOK", "Exotic-Cross", "11.52300"),
    _stock("AAPL", "Apple Inc", _NASDAQ, "189.84", 54_000_000, "BBG000B9Y5X2", "US0378331005"),
    _stock("MSFT", "Microsoft Corp", _NASDAQ, "415.26", 21_000_000, "BBG000BPHFS9",
           "US5949181045"),
    _stock("AMZN", "Amazon.com Inc", _NASDAQ, "178.15", 43_000_000, "BBG000BVPV84",
           "US0231351067"),
    _stock("GOOGL", "Alphabet Inc", _NASDAQ, "152.80", 28_000_000, "BBG009S39JY5",
           "US02079K3059"),
    _stock("META", "Meta Platforms Inc", _NASDAQ, "484.03", 15_000_000, "BBG000MM2P62",
           "US30303M1027"),
    _stock("NVDA", "NVIDIA Corp", _NASDAQ, "875.28", 47_000_000, "BBG000BBJQV0",
           "US67066G1040"),
    _stock("TSLA", "Tesla Inc", _NASDAQ, "175.34", 98_000_000, "BBG000N9MNX3", "US88160R1014"),
    _stock("NFLX", "Netflix Inc", _NASDAQ, "610.45", 4_000_000, "BBG000CL9VN6", "US64110L1061"),
    _stock("INTC", "Intel Corp", _NASDAQ, "43.18", 38_000_000, "BBG000C0G1D1", "US4581401001"),
    _stock("AMD", "Advanced Micro Devices Inc", _NASDAQ, "178.65", 60_000_000, "BBG000BBQCY0",
           "US0079031078"),
    _stock("JPM", "JPMorgan Chase & Co", _NYSE, "196.71", 9_000_000, "BBG000DMBXR2",
           "US46625H1005"),
    _stock("V", "Visa Inc", _NYSE, "279.84", 6_000_000, "BBG000PSKYX7", "US92826C8394"),
    _stock("JNJ", "Johnson & Johnson", _NYSE, "157.22", 7_000_000, "BBG000BMHYD1",
           "US4781601046"),
    _stock("WMT", "Walmart Inc", _NYSE, "60.21", 18_000_000, "BBG000BWXBC2", "US9311421039"),
    _stock("PG", "Procter & Gamble Co", _NYSE, "161.47", 6_000_000, "BBG000BR2TH3",
           "US7427181091"),
    _stock("XOM", "Exxon Mobil Corp", _NYSE, "113.20", 17_000_000, "BBG000GZQ728",
           "US30231G1022"),
    _stock("KO", "Coca-Cola Co", _NYSE, "60.09", 12_000_000, "BBG000BMX289", "US1912161007"),
    _stock("DIS", "Walt Disney Co", _NYSE, "112.45", 9_000_000, "BBG000BH4R78", "US2546871060"),
    _stock("BA", "Boeing Co", _NYSE, "190.11", 7_000_000, "BBG000BCSST7", "US0970231058"),
    _stock("IBM", "International Business Machines Corp", _NYSE, "191.03", 4_000_000,
           "BBG000BLNNH6", "US4592001014"),
    _index("SPX", "S&P 500", "5203.58", "United States", "USD", "NYSE", "XNYS",
           "America/New_York"),
    _index("NDX", "Nasdaq 100", "18254.69", "United States", "USD", "NASDAQ", "XNGS",
           "America/New_York"),
    _index("DJI", "Dow Jones Industrial Average", "39512.84", "United States", "USD", "NYSE",
           "XNYS", "America/New_York"),
    _index("IXIC", "Nasdaq Composite", "16340.87", "United States", "USD", "NASDAQ", "XNGS",
           "America/New_York"),
    _index("RUT", "Russell 2000", "2063.47", "United States", "USD", "NYSE", "XNYS",
           "America/New_York"),
    _index("VIX", "CBOE Volatility Index", "14.33", "United States", "USD", "CBOE", "XCBO",
           "America/Chicago"),
    _index("FTSE", "FTSE 100", "8139.83", "United Kingdom", "GBP", "LSE", "XLON",
           "Europe/London"),
    _index("GDAXI", "DAX Performance Index", "18492.49", "Germany", "EUR", "XETR", "XETR",
           "Europe/Berlin"),
    _index("FCHI", "CAC 40", "8219.14", "France", "EUR", "Euronext", "XPAR", "Europe/Paris"),
    _index("N225", "Nikkei 225", "38460.08", "Japan", "JPY", "JPX", "XJPX", "Asia/Tokyo"),
    _etf("SPY", "SPDR S&P 500 ETF Trust", _ARCA, "520.84", 62_000_000, "BBG000BDTBL9",
         "US78462F1030"),
    _etf("QQQ", "Invesco QQQ Trust", _NASDAQ, "444.05", 38_000_000, "BBG000BSWKH7",
         "US46090E1038"),
    _etf("IWM", "iShares Russell 2000 ETF", _ARCA, "204.51", 28_000_000, "BBG000CGC9C4",
         "US4642876555"),
    _etf("DIA", "SPDR Dow Jones Industrial Average ETF Trust", _ARCA, "394.70", 3_000_000,
         "BBG000BKFZM4", "US78467X1090"),
    _etf("VOO", "Vanguard S&P 500 ETF", _ARCA, "478.92", 5_000_000, "BBG000HS77T5",
         "US9229083632"),
    _etf("VTI", "Vanguard Total Stock Market ETF", _ARCA, "256.37", 3_000_000, "BBG000BDTH83",
         "US9229087690"),
    _etf("GLD", "SPDR Gold Shares", _ARCA, "216.12", 8_000_000, "BBG000CRF6Q8",
         "US78463V1070"),
    _etf("TLT", "iShares 20+ Year Treasury Bond ETF", _NASDAQ, "94.62", 40_000_000,
         "BBG000BJKYW3", "US4642874329"),
    _etf("XLF", "Financial Select Sector SPDR Fund", _ARCA, "42.05", 38_000_000,
         "BBG000BJ7BP4", "US81369Y6059"),
    _etf("EEM", "iShares MSCI Emerging Markets ETF", _ARCA, "41.25", 30_000_000,
         "BBG000BJDB15", "US4642872349"),
    _crypto("BTC/USD", "67250.50", 38_000),
    _crypto("ETH/USD", "3512.40", 420_000),
    _crypto("SOL/USD", "172.650", 3_100_000),
    _crypto("XRP/USD", "0.61820", 1_200_000_000),
    _crypto("LTC/USD", "84.310", 2_400_000),
    _crypto("DOGE/USD", "0.171520", 3_000_000_000),
    _crypto("ADA/USD", "0.63210", 600_000_000),
    _crypto("ETH/BTC", "0.052230", 95_000),
)


def _matches(value: str, wanted: str | None) -> bool:
    """TwelveData's list filters are exact but case-insensitive; an absent filter matches."""
    return wanted is None or value.casefold() == wanted.casefold()


class Catalog:
    """Symbol lookup and the list filters of the reference-data endpoints."""

    def __init__(self, instruments: Iterable[Instrument] = INSTRUMENTS) -> None:
        self.instruments: tuple[Instrument, ...] = tuple(instruments)
        self._by_symbol = {i.symbol.upper(): i for i in self.instruments}

    def get(self, symbol: str) -> Instrument | None:
        """Finds a symbol case-insensitively; ``SYM:EXCH`` must name its exchange or MIC."""
        name, _, venue = symbol.strip().partition(":")
        instrument = self._by_symbol.get(name.upper())
        if instrument is None or not venue:
            return instrument
        venues = {instrument.exchange.upper(), instrument.mic_code.upper()}
        venues.update(e.upper() for e in instrument.available_exchanges)
        return instrument if venue.upper() in venues - {""} else None

    def of_kind(self, *kinds: Kind) -> list[Instrument]:
        return [i for i in self.instruments if i.kind in kinds]

    def forex_pairs(self, symbol: str | None = None, currency_base: str | None = None,
                    currency_quote: str | None = None) -> list[Instrument]:
        return self.currency_pairs(Kind.FOREX, symbol, currency_base, currency_quote)

    def cryptocurrencies(self, symbol: str | None = None, exchange: str | None = None,
                         currency_base: str | None = None,
                         currency_quote: str | None = None) -> list[Instrument]:
        return [
            i for i in self.currency_pairs(Kind.CRYPTO, symbol, currency_base, currency_quote)
            if exchange is None
            or any(_matches(e, exchange) for e in i.available_exchanges)
        ]

    def currency_pairs(self, kind: Kind, symbol: str | None, currency_base: str | None,
                   currency_quote: str | None) -> list[Instrument]:
        """Currency-pair filters, shared by forex pairs and cryptocurrencies."""
        return [
            i for i in self.of_kind(kind)
            if _matches(i.symbol, symbol)
            and (_matches(i.base_code, currency_base) or _matches(i.currency_base, currency_base))
            and (_matches(i.quote_code, currency_quote)
                 or _matches(i.currency_quote, currency_quote))
        ]

    def listed(self, kind: Kind, filters: Mapping[str, str]) -> list[Instrument]:
        """Stocks, ETFs and indices, filtered by any of the identifying fields they list."""
        fields = ("symbol", "exchange", "mic_code", "country", "type", "isin", "cusip")
        wanted = {f: filters[f] for f in fields if f in filters}
        if "figi" in filters:
            wanted["figi_code"] = filters["figi"]
        return [
            i for i in self.of_kind(kind)
            if all(_matches(getattr(i, f), v) for f, v in wanted.items())
        ]
