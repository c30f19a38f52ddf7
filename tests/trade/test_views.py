"""The trader's pages, read from the HTML the server renders (not from the view's context)."""
import json
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

import pytest

from apps.marketdata.services import publish
from apps.trading.models import Market
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
             "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    parts: list[str] = field(default_factory=list)
    children: list["Element"] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    def find_all(self, tag: str | None = None, **attrs: str) -> list["Element"]:
        """Descendants with this tag and these attributes (``data_x`` means ``data-x``)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and all(
                    child.attrs.get(name) == value for name, value in wanted.items()):
                found.append(child)
            found.extend(child.find_all(tag, **attrs))
        return found

    def find(self, tag: str | None = None, **attrs: str) -> "Element":
        [element] = self.find_all(tag, **attrs)
        return element


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.open[-1].children.append(element)
        if tag not in VOID_TAGS:
            self.open.append(element)

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        for element in self.open:
            element.parts.append(data)


def rendered(response) -> Element:
    """The response's HTML as an element tree."""
    assert response["Content-Type"].startswith("text/html")
    builder = _TreeBuilder()
    builder.feed(response.content.decode())
    builder.close()
    return builder.root


def emulator_day_open(emulator, symbol: str) -> Decimal:
    """The open of the current daily bar, asked of the emulator directly (not through the
    app)."""
    query = urllib.parse.urlencode({"symbol": symbol, "interval": "1day", "outputsize": 1,
                                    "order": "ASC", "timezone": "UTC",
                                    "apikey": emulator.apikey})
    with urllib.request.urlopen(f"{emulator.base_url}/time_series?{query}", timeout=5) as reply:
        return Decimal(json.load(reply)["values"][0]["open"])


def test_market_lists_show_enabled_markets_with_price_change_and_marks(client, markets,
                                                                        emulator):
    Market.objects.filter(venue="paper", symbol="EUR/USD").update(is_trending=True, is_hot=True)
    publish(quote=make_quote("EUR/USD", "1.1", bid="1.09990", ask="1.10010"))
    day_open = emulator_day_open(emulator, "EUR/USD")
    change = ((Decimal("1.10000") - day_open) * 100 / day_open).quantize(Decimal("0.01"),
                                                                   rounding=ROUND_HALF_UP)
    assert change != 0  # else the up/down mark below proves nothing

    response = client.get("/forex")
    assert response.status_code == 200
    page = rendered(response)
    assert "PAPER TRADING" in page.find("div", role="note").text
    assert page.find("h1").text == "Forex"
    assert [row.attrs["data-symbol"] for row in page.find_all("tr")
            if "data-symbol" in row.attrs] == ["EUR/USD"]  # GBP/USD is not enabled
    row = page.find("tr", data_symbol="EUR/USD")
    # What markets.js needs to keep the change live: the open and the market's decimals.
    assert (Decimal(row.attrs["data-open"]), row.attrs["data-precision"]) == (day_open, "5")
    assert row.find("strong").text == "EUR/USD"
    assert [tag.text for tag in row.find_all("span") if "tag" in tag.attrs["class"]] == [
        "trending", "hot"]
    assert row.find("td", data_field="last").text == "1.10000"  # the market's decimals
    [_, _, change_cell, _] = row.find_all("td")
    assert change_cell.text == f"{change}%"
    assert change_cell.attrs["class"] == ("num up" if change > 0 else "num down")
    assert [link.attrs["href"] for link in row.find_all("a")] == ["/trade/EUR/USD/"] * 2

    stocks = rendered(client.get("/stocks"))
    assert stocks.find("tr", data_symbol="AAPL").find("td", data_field="last").text == "—"
    indices = client.get("/indices")
    assert indices.status_code == 200
    assert rendered(indices).find("p", **{"class": "muted"}).text == (
        "No indices market is enabled yet.")


def test_market_list_survives_an_unreachable_provider(client, markets, settings):
    settings.TWELVEDATA_BASE_URL = "http://127.0.0.1:9"
    publish(quote=make_quote("EUR/USD", "1.10000"))
    response = client.get("/forex")
    assert response.status_code == 200
    row = rendered(response).find("tr", data_symbol="EUR/USD")
    [_, last, change_cell, _] = row.find_all("td")
    assert (last.text, change_cell.text, change_cell.attrs["class"]) == ("1.10000", "—", "num ")


def test_a_visitor_sees_the_market_and_is_asked_to_log_in_to_trade(client, markets,
                                                                     emulator):
    publish(quote=make_quote("EUR/USD", "1.1", bid="1.0999", ask="1.10012"))
    response = client.get("/trade/EUR/USD/")
    assert response.status_code == 200
    page = rendered(response)
    assert [page.find("strong", id=name).text for name in ("last", "bid", "ask")] == [
        "1.10000", "1.09990", "1.10012"]
    assert page.find("div", id="chart") is not None
    assert json.loads(page.find("script", id="trade-config").text)["loggedIn"] is False
    assert page.find_all("form", id="order-form") == []  # no form, a way to log in
    assert page.find("a", data_testid="login-link").attrs["href"] == (
        "/login/?next=/trade/EUR/USD/")
    assert page.find_all("table", data_testid="open-orders") == []
    scripts = [s.attrs["src"].rsplit("/", 1)[-1] for s in page.find_all("script")
               if s.attrs.get("src")]
    assert scripts == ["lightweight-charts.standalone.production.js", "stream.js",
                       "platform.js", "trade.js"]


def test_trade_page_for_a_trader_on_an_enabled_market(client, markets, user, emulator):
    Market.objects.filter(venue="paper", symbol="EUR/USD").update(lot_size=Decimal("0.001"))
    client.force_login(user)

    response = client.get("/trade/EUR/USD/")
    assert response.status_code == 200
    page = rendered(response)
    script = page.find("script", id="trade-config")
    assert script.attrs["type"] == "application/json"
    assert json.loads(script.text) == {
        "symbol": "EUR/USD", "base": "EUR", "quote": "USD",
        "pricePrecision": 5, "amountPrecision": 3, "quoteDecimals": 2,
        "makerFee": "0.0008", "takerFee": "0.001",
        "dayOpen": format(emulator_day_open(emulator, "EUR/USD"), "f"), "loggedIn": True,
        "api": {"orders": "/api/v1/twd/orders/", "orderLists": "/api/v1/twd/order-lists/",
                "candles": "/api/v1/twd/candles/", "wallets": "/api/v1/wallets/"},
    }
    assert page.find("h1").text.startswith("EUR/USD ")
    assert page.find("a", data_testid="username").text == user.username  # to the account page
    # No quote yet: dashes, not zeros.
    assert [page.find("strong", id=name).text for name in ("last", "bid", "ask")] == ["—"] * 3
    labels = [label.text for label in page.find("form", id="order-form").find_all("label")]
    assert "Amount (EUR)" in labels and "Price (USD)" in labels
    form = page.find("form", id="order-form")
    # Every type is offered: the conditional ones, OCO and bracket (trade.js maps STOP and
    # TAKE_PROFIT to their _LIMIT or _MARKET type by whether a limit price is given).
    assert [i.attrs["value"] for i in form.find_all("input", name="type")] == [
        "LIMIT", "MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP", "OCO", "BRACKET"]
    assert {i.attrs["name"] for i in form.find_all("input")} >= {
        "stop_price", "price", "stop_limit_price", "take_profit_price", "trailing_delta",
        "trailing_rate", "activation_price"}
    assert [o.attrs["value"] for o in form.find("select", name="trigger_source").find_all(
        "option")] == ["LAST", "BID_ASK"]
    assert page.find("table", data_testid="order-lists") is not None
    scripts = [s.attrs.get("src") for s in page.find_all("script") if s.attrs.get("src")]
    assert [src.rsplit("/", 1)[-1] for src in scripts] == [
        "lightweight-charts.standalone.production.js", "stream.js", "platform.js", "trade.js"]

    publish(quote=make_quote("EUR/USD", "1.1", bid="1.0999", ask="1.10012"))
    page = rendered(client.get("/trade/EUR/USD/"))
    assert [page.find("strong", id=name).text for name in ("last", "bid", "ask")] == [
        "1.10000", "1.09990", "1.10012"]

    assert client.get("/trade/GBP/USD/").status_code == 404
    assert client.get("/trade/NOPE/").status_code == 404


def test_login_and_logout(client, user):
    login = "/accounts/login/"
    page = client.post(login, {"login": user.username, "password": "pw-for-tests-only"})
    assert page.status_code == 302 and page.url == "/"
    assert client.post("/logout/").status_code == 302
    bad = client.post(login, {"login": user.username, "password": "nope"})
    assert "are not correct" in bad.content.decode()


@pytest.mark.parametrize("path", ["/forex", "/forex/", "/etf", "/etf/", "/crypto", "/crypto/"])
def test_every_list_page_answers_with_and_without_a_slash(client, markets, path):
    response = client.get(path)
    assert response.status_code == 200
    page = rendered(response)
    # ETF and crypto have their own nav entries, the page's own marked active.
    nav = {a.text: a.attrs for a in page.find("nav").find_all("a")}
    assert list(nav) == ["Forex", "Stocks", "Indices", "ETF", "Crypto", "Spot", "Ecosystem",
                         "Futures"]
    assert nav["ETF"]["href"] == "/etf" and nav["Crypto"]["href"] == "/crypto"
    assert [name for name, attrs in nav.items() if attrs.get("class") == "active"] == [
        page.find("h1").text]


def test_the_symbol_switcher_goes_to_a_market_or_says_it_is_unknown(client, markets):
    page = rendered(client.get("/forex"))
    switcher = page.find("form", data_testid="switcher")
    assert switcher.attrs["action"] == "/trade/"
    assert [o.attrs["value"] for o in switcher.find_all("option")] == ["AAPL", "EUR/USD"]
    found = client.get("/trade/", {"symbol": "EUR/USD"})
    assert (found.status_code, found["Location"]) == (302, "/trade/EUR/USD/")
    unknown = client.get("/trade/", {"symbol": "GBP/USD"})  # listed, but not enabled
    assert unknown.status_code == 404
    assert "No enabled market is called “GBP/USD”" in rendered(unknown).find(
        "p", data_testid="not-found").text
