/* The trade page. Prices and amounts stay decimal strings from the API to the form and
 * back; only the chart draws with JavaScript numbers (it needs them to plot, and nothing
 * is computed from what it draws). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("trade-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var INTERVAL_SECONDS = {"1min": 60, "5min": 300, "15min": 900, "1h": 3600, "1day": 86400};

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function api(method, url, body) {
    var opts = {method: method, credentials: "same-origin",
                headers: {"Accept": "application/json", "X-CSRFToken": csrf()}};
    if (body) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var err = (data && data.error) || {};
          throw new Error(err.message || ("Request failed (" + r.status + ")"));
        }
        return data;
      });
    });
  }
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

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
  // The feed sends prices as JSON numbers, so 1.30000 arrives as "1.3": shown with the
  // market's decimals by padding the string, never through a float.
  function showPrice(text) {
    if (!text) return "—";
    var parts = String(text).split("."), decimals = parts[1] || "";
    while (decimals.length < cfg.pricePrecision) decimals += "0";
    return decimals ? parts[0] + "." + decimals : parts[0];
  }
  function onTick(quote) {
    $("last").textContent = showPrice(quote.price);
    $("bid").textContent = showPrice(quote.bid);
    $("ask").textContent = showPrice(quote.ask);
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

  /* --- orders and balances --- */
  function renderOrders(orders) {
    var open = $("open-orders"), history = $("history");
    open.innerHTML = ""; history.innerHTML = "";
    orders.forEach(function (o) {
      var row = document.createElement("tr");
      row.dataset.order = o.id;
      row.dataset.status = o.status;
      if (o.status === "OPEN" || o.status === "PARTIALLY_FILLED") {
        cell(row, o.id); cell(row, o.side, o.side.toLowerCase()); cell(row, o.type);
        cell(row, o.price, "num"); cell(row, o.filled === "0" ? o.amount : o.filled + " / " + o.amount, "num");
        var button = document.createElement("button");
        button.type = "button"; button.textContent = "Cancel"; button.className = "link";
        button.dataset.testid = "cancel";
        button.addEventListener("click", function () {
          api("POST", cfg.api.orders + o.id + "/cancel/").then(refresh).catch(showError);
        });
        row.appendChild(document.createElement("td")).appendChild(button);
        open.appendChild(row);
      } else {
        cell(row, o.id); cell(row, o.side, o.side.toLowerCase()); cell(row, o.status);
        cell(row, o.fill && showPrice(o.fill.price), "num"); cell(row, o.filled, "num");
        cell(row, o.cost + " " + (o.fee_currency || ""), "num"); cell(row, o.fee, "num");
        cell(row, o.fill ? (o.liquidity + " vs " + o.fill.quote_source + " quote " +
          showPrice(o.fill.quote_bid || o.fill.quote_price) + "/" +
          showPrice(o.fill.quote_ask || o.fill.quote_price) +
          " at " + o.fill.quote_timestamp) : "", "muted small");
        history.appendChild(row);
      }
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
    api("GET", cfg.api.orders + "?symbol=" + encodeURIComponent(cfg.symbol) + "&limit=100")
      .then(function (page) { renderOrders(page.results); });
    api("GET", cfg.api.wallets).then(renderBalances);
  }

  /* --- the order form --- */
  var form = $("order-form");
  function decimalOk(text, places) {
    return new RegExp("^[0-9]+(\\.[0-9]{1," + Math.max(places, 1) + "})?$").test(text) &&
      (places > 0 || text.indexOf(".") < 0) && /[1-9]/.test(text);
  }
  function showError(e) { $("order-ok").textContent = ""; $("order-error").textContent = e.message; }
  function syncType() {
    var limit = form.elements.type.value === "LIMIT";
    $("price-field").hidden = !limit;
  }
  form.addEventListener("change", syncType);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    $("order-error").textContent = ""; $("order-ok").textContent = "";
    var type = form.elements.type.value, amount = form.elements.amount.value.trim();
    var price = form.elements.price.value.trim();
    if (!decimalOk(amount, cfg.amountPrecision)) {
      return showError(new Error("Amount must be a positive number with at most " +
        cfg.amountPrecision + " decimals."));
    }
    if (type === "LIMIT" && !decimalOk(price, cfg.pricePrecision)) {
      return showError(new Error("Price must be a positive number with at most " +
        cfg.pricePrecision + " decimals."));
    }
    var body = {symbol: cfg.symbol, side: form.elements.side.value, type: type, amount: amount};
    if (type === "LIMIT") body.price = price;
    api("POST", cfg.api.orders, body).then(function (order) {
      $("order-ok").textContent = "Order #" + order.id + " " + order.status.toLowerCase() + ".";
      refresh();
    }).catch(showError);
  });

  // A fill sends an order and a balance event together: refresh once for both.
  var pending = null;
  function refreshSoon() {
    if (!pending) pending = setTimeout(function () { pending = null; refresh(); }, 100);
  }
  var stream = new PlatformStream(function (state) { $("stream-state").textContent = state; });
  stream.subscribe("ticker@" + cfg.symbol, onTick);
  stream.subscribe("orders", refreshSoon);
  stream.subscribe("balances", refreshSoon);
  syncType();
  loadCandles();
  refresh();
})();
