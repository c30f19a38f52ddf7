/* The trade page. Prices and amounts stay decimal strings from the API to the form and
 * back; only the chart draws with JavaScript numbers (it needs them to plot, and nothing
 * is computed from what it draws). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("trade-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var INTERVAL_SECONDS = {"1min": 60, "5min": 300, "15min": 900, "1h": 3600, "1day": 86400};

  var api = Platform.api, cell = Platform.cell;

  /* --- chart --- */
  var chart = LightweightCharts.createChart($("chart"), {
    autoSize: true, layout: {background: {color: "#0f1521"}, textColor: "#c9d1e0"},
    grid: {vertLines: {color: "#1c2433"}, horzLines: {color: "#1c2433"}},
    timeScale: {timeVisible: true, secondsVisible: false}});
  var minMove = Math.pow(10, -cfg.pricePrecision);
  var series = chart.addSeries(LightweightCharts.CandlestickSeries, {
    priceFormat: {type: "price", precision: cfg.pricePrecision, minMove: minMove}});
  var interval = "1min", lastBar = null;

  function barTime(text) {
    var iso = text.length === 10 ? text + "T00:00:00Z" : text.replace(" ", "T") + "Z";
    return Math.floor(Date.parse(iso) / 1000);
  }
  function loadCandles() {
    var url = cfg.api.candles + "?symbol=" + encodeURIComponent(cfg.symbol) +
      "&interval=" + interval + "&outputsize=200";
    return api("GET", url).then(function (bars) {
      var data = bars.map(function (b) {
        return {time: barTime(b.datetime), open: +b.open, high: +b.high, low: +b.low, close: +b.close};
      });
      series.setData(data);
      lastBar = data.length ? data[data.length - 1] : null;
      chart.timeScale().scrollToRealTime();
    }).catch(function (e) { $("stream-state").textContent = "chart: " + e.message; });
  }
  function showPrice(text) { return Platform.price(text, cfg.pricePrecision); }
  var lastQuote = null;
  // The change since the day's open, with its colour.
  function showChange(price) {
    var pct = cfg.dayOpen ? Platform.changePercent(price, cfg.dayOpen) : null;
    if (pct === null) return;
    var change = $("change");
    change.textContent = pct + "%";
    change.className = pct.charAt(0) === "-" ? "down" : /[1-9]/.test(pct) ? "up" : "";
  }
  function onTick(quote) {
    lastQuote = quote;
    $("last").textContent = showPrice(quote.price);
    $("bid").textContent = showPrice(quote.bid);
    $("ask").textContent = showPrice(quote.ask);
    showChange(quote.price);
    if (cfg.loggedIn) preview();
    var step = INTERVAL_SECONDS[interval];
    var t = Math.floor(Date.parse(quote.timestamp) / 1000 / step) * step;
    var p = +quote.price;
    if (!lastBar || t > lastBar.time) lastBar = {time: t, open: p, high: p, low: p, close: p};
    else if (t === lastBar.time) {
      lastBar = {time: t, open: lastBar.open, high: Math.max(lastBar.high, p),
                 low: Math.min(lastBar.low, p), close: p};
    } else return;  // an older tick than the bar on screen
    series.update(lastBar);
  }
  document.querySelectorAll("[data-interval]").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll("[data-interval]").forEach(function (b) { b.classList.remove("active"); });
      button.classList.add("active");
      interval = button.dataset.interval;
      loadCandles();
    });
  });

  var stream = new PlatformStream(function (state) { $("stream-state").textContent = state; });
  stream.subscribe("ticker@" + cfg.symbol, onTick);
  loadCandles();
  if (!cfg.loggedIn) return;  // a visitor sees the market; the order form asks to log in

  /* --- orders and balances --- */
  var statusName = Platform.statusName;
  var LIVE = ["OPEN", "PARTIALLY_FILLED", "PENDING", "WAITING"];
  var listKinds = {};  // order list id -> OCO | BRACKET

  function cancelButton(url) {
    var button = document.createElement("button");
    button.type = "button"; button.textContent = "Cancel"; button.className = "link";
    button.dataset.testid = "cancel";
    button.addEventListener("click", function () {
      clearMessages();
      api("POST", url).then(refresh).catch(showError);
    });
    return button;
  }
  function listText(o) { return Platform.listText(o, listKinds); }
  function noteText(o) {
    var parts = [];
    if (o.type !== "LIMIT" && o.type !== "MARKET") parts.push(o.type);
    if (o.group_id) parts.push(listText(o));
    if (o.trigger) {
      parts.push("triggered at " + o.trigger.quote_timestamp + " by the " +
        o.trigger.quote_source + " quote " + showPrice(o.trigger.quote_price));
    }
    if (o.reason) parts.push(o.reason);
    return parts.join("; ");
  }
  function renderOrders(orders) {
    var open = $("open-orders"), history = $("history");
    open.innerHTML = ""; history.innerHTML = "";
    orders.forEach(function (o) {
      var row = document.createElement("tr");
      row.dataset.order = o.id;
      row.dataset.status = o.status;
      if (o.group_id) { row.dataset.list = o.group_id; row.dataset.role = o.role; }
      if (LIVE.indexOf(o.status) >= 0) {
        cell(row, o.id); cell(row, o.side, o.side.toLowerCase()); cell(row, o.type);
        cell(row, o.price ? showPrice(o.price) : "market", "num");
        cell(row, o.filled === "0" ? o.amount : o.filled + " / " + o.amount, "num");
        cell(row, statusName(o.status)); cell(row, Platform.triggerText(o, showPrice), "num").dataset.testid = "trigger";
        cell(row, listText(o), "small");
        row.appendChild(document.createElement("td")).appendChild(
          cancelButton(cfg.api.orders + o.id + "/cancel/"));
        open.appendChild(row);
      } else {
        cell(row, o.id); cell(row, o.side, o.side.toLowerCase()); cell(row, statusName(o.status));
        cell(row, o.fill && showPrice(o.fill.price), "num"); cell(row, o.filled, "num");
        cell(row, o.cost + " " + (o.fee_currency || ""), "num"); cell(row, o.fee, "num");
        cell(row, o.fill ? (o.liquidity + " vs " + o.fill.quote_source + " quote " +
          showPrice(o.fill.quote_bid || o.fill.quote_price) + "/" +
          showPrice(o.fill.quote_ask || o.fill.quote_price) +
          " at " + o.fill.quote_timestamp) : "", "muted small");
        cell(row, noteText(o), "muted small").dataset.testid = "note";
        history.appendChild(row);
      }
    });
  }
  function renderLists(lists) {
    listKinds = Platform.renderLists($("order-lists"), lists, function (list) {
      return cancelButton(cfg.api.orderLists + list.id + "/cancel/");
    });
  }
  function renderBalances(wallets) {
    var body = $("balances");
    body.innerHTML = "";
    wallets.filter(function (w) { return w.type === "PAPER"; }).forEach(function (w) {
      var row = document.createElement("tr");
      row.dataset.currency = w.currency;
      if (w.currency === cfg.base || w.currency === cfg.quote) row.className = "highlight";
      cell(row, w.currency); cell(row, w.available, "num");
      cell(row, w.held !== "0" ? "held " + w.held : "", "num muted");
      body.appendChild(row);
    });
    if (!body.children.length) {
      var row = document.createElement("tr");
      cell(row, "Your demo balance arrives with your first order.", "muted");
      body.appendChild(row);
    }
  }
  function refresh() {
    var symbol = "?symbol=" + encodeURIComponent(cfg.symbol) + "&limit=100";
    // The lists first: the orders' rows name the kind of list each leg belongs to.
    Promise.all([api("GET", cfg.api.orderLists + symbol), api("GET", cfg.api.orders + symbol)])
      .then(function (pages) { renderLists(pages[0].results); renderOrders(pages[1].results); });
    api("GET", cfg.api.wallets).then(renderBalances);
  }

  /* --- the order form --- */
  var form = $("order-form");
  var decimalOk = Platform.decimalOk;
  function showError(e) { $("order-ok").textContent = ""; $("order-error").textContent = e.message; }
  // What the last action said is cleared by the next one (an edit, a submit, a cancel).
  function clearMessages() { $("order-error").textContent = ""; $("order-ok").textContent = ""; }
  var HELP = {
    LIMIT: "Rests at your price until the market comes to it.",
    MARKET: "Fills now at the best price.",
  };
  function syncType() {
    var type = form.elements.type.value;
    form.querySelectorAll("[data-types]").forEach(function (field) {
      field.hidden = field.dataset.types.split(" ").indexOf(type) < 0;
    });
    Platform.labelFields(form, type);
    $("type-help").textContent = HELP[type] || Platform.CONDITIONAL_HELP[type];
  }
  // The order (or list) the form describes, as the API takes it; throws what is wrong
  // with a number before anything is sent (the server checks the rest).
  function formRequest() {
    var type = form.elements.type.value;
    var get = function (name) { return form.elements[name].value.trim(); };
    var amount = get("amount");
    if (!decimalOk(amount, cfg.amountPrecision)) {
      throw new Error("Amount must be a positive number with at most " +
        cfg.amountPrecision + " decimals.");
    }
    function price(name, label, required) {
      var text = get(name);
      if (!text && !required) return null;
      if (!decimalOk(text, cfg.pricePrecision)) {
        throw new Error(label + " must be a positive number with at most " +
          cfg.pricePrecision + " decimals.");
      }
      return text;
    }
    var body = {symbol: cfg.symbol, side: form.elements.side.value, amount: amount};
    if (type === "LIMIT" || type === "MARKET") {
      body.type = type;
      if (type === "LIMIT") body.price = price("price", "Price", true);
      return {url: cfg.api.orders, body: body};
    }
    return Platform.conditionalRequest(type, body, get, price, cfg.api);
  }
  // The order's total and fee before it is placed, in the quote currency: the amount at
  // the limit price, or at the ask (buy) / bid (sell) for a market order; the taker rate
  // unless a limit order would rest (then the maker rate).
  function preview() {
    var type = form.elements.type.value, side = form.elements.side.value;
    var amount = form.elements.amount.value.trim(), limit = form.elements.price.value.trim();
    var trigger = form.elements.stop_price.value.trim();
    var book = lastQuote && (side === "BUY" ? lastQuote.ask : lastQuote.bid) ||
      (lastQuote && lastQuote.price);
    var price = type === "MARKET" || type === "TRAILING_STOP" ? book
      : (type === "LIMIT" ? limit : limit || trigger);
    var out = $("order-preview");
    if (!decimalOk(amount, cfg.amountPrecision) || !price || !decimalOk(String(price), 18)) {
      out.textContent = "";
      return;
    }
    var rests = type === "LIMIT" && book &&
      (side === "BUY" ? +limit < +book : +limit > +book);
    var rate = rests ? cfg.makerFee : cfg.takerFee;
    var total = Platform.multiply(amount, price, cfg.quoteDecimals);
    var fee = Platform.multiply(total, rate, cfg.quoteDecimals);
    out.textContent = (type === "MARKET" || type === "TRAILING_STOP" ? "Total ≈ " : "Total ") +
      total + " " + cfg.quote + ", fee " + fee + " " + cfg.quote + " (" +
      (rests ? "maker" : "taker") + " " + Platform.multiply(rate, "100", 4).replace(/\.?0+$/, "") +
      "%)";
  }
  form.addEventListener("change", syncType);
  form.addEventListener("change", preview);
  form.addEventListener("input", function () { clearMessages(); preview(); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearMessages();
    var request;
    try { request = formRequest(); } catch (e) { return showError(e); }
    api("POST", request.url, request.body).then(function (placed) {
      $("order-ok").textContent = placed.kind ? Platform.listPlaced(placed)
        : "Order #" + placed.id + ": " + statusName(placed.status) + ".";
      refresh();
    }).catch(showError);
  });

  // A fill sends an order and a balance event together: refresh once for both.
  var pending = null;
  function refreshSoon() {
    if (!pending) pending = setTimeout(function () { pending = null; refresh(); }, 100);
  }
  stream.subscribe("orders", refreshSoon);
  stream.subscribe("balances", refreshSoon);
  syncType();
  refresh();
})();
