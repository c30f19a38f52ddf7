/* The fixed-time page: a live chart of the instrument's ticks, Up/Down buttons, each open
 * trade's countdown to its expiry, and the result when the trade settles (heard on the
 * `fixedtime` stream, or read from the API if the stream missed it). Amounts stay the
 * API's decimal strings; only the chart draws with JavaScript numbers. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("fixedtime-config").textContent);
  var $ = function (id) { return document.getElementById(id); };

  var api = Platform.api, cell = Platform.cell;
  function showPrice(text) { return Platform.price(text, cfg.pricePrecision); }

  /* --- chart: the ticks as they come, the open trades' entry prices as lines --- */
  var chart = LightweightCharts.createChart($("chart"), {
    autoSize: true, layout: {background: {color: "#0f1521"}, textColor: "#c9d1e0"},
    grid: {vertLines: {color: "#1c2433"}, horzLines: {color: "#1c2433"}},
    timeScale: {timeVisible: true, secondsVisible: true}});
  var series = chart.addSeries(LightweightCharts.LineSeries, {
    priceFormat: {type: "price", precision: cfg.pricePrecision,
                  minMove: Math.pow(10, -cfg.pricePrecision)}});
  var lastTime = 0, entryLines = {};
  function onTick(quote) {
    $("last").textContent = showPrice(quote.price);
    var t = Math.floor(Date.parse(quote.timestamp) / 1000);
    if (t < lastTime) return;  // an older tick than the one on screen
    lastTime = t;
    series.update({time: t, value: +quote.price});
  }
  if (cfg.quote) onTick(cfg.quote);

  /* --- trades --- */
  // The server's clock decides expiries: the offset to ours is taken from each answer.
  var clockOffset = 0, open = {};
  function secondsLeft(trade) {
    return Math.max(0, Math.ceil((Date.parse(trade.expires_at) - (Date.now() - clockOffset)) / 1000));
  }
  function renderOpen() {
    var body = $("open-trades");
    body.innerHTML = "";
    Object.keys(open).sort().forEach(function (id) {
      var t = open[id], row = document.createElement("tr");
      row.dataset.trade = t.id;
      cell(row, t.id); cell(row, t.mode); cell(row, t.direction, t.direction.toLowerCase());
      cell(row, t.stake + " " + t.currency, "num"); cell(row, showPrice(t.entry_price), "num");
      var left = secondsLeft(t);
      var countdown = cell(row, left > 0 ? left + " s" : "settling…", "num");
      countdown.dataset.testid = "countdown";
      body.appendChild(row);
    });
  }
  function describe(t) {
    var text = "#" + t.id + " " + t.direction + " " + t.status;
    if (t.status === "VOID") return text + ": " + t.reason;
    text += " — entry " + showPrice(t.entry_price) + ", exit " + showPrice(t.exit_price);
    if (t.status === "WON") return text + ", paid " + t.payout + " " + t.currency;
    if (t.status === "DRAW") return text + ", stake returned";
    return text + ", stake lost";
  }
  function renderHistory(trades) {
    var body = $("trade-history");
    body.innerHTML = "";
    trades.forEach(function (t) {
      var row = document.createElement("tr");
      row.dataset.trade = t.id;
      row.dataset.status = t.status;
      cell(row, t.id); cell(row, t.mode); cell(row, t.direction, t.direction.toLowerCase());
      cell(row, t.stake, "num"); cell(row, showPrice(t.entry_price), "num");
      cell(row, showPrice(t.exit_price), "num"); cell(row, t.status);
      cell(row, t.payout || null, "num");
      cell(row, t.exit_evidence ? (t.exit_evidence.source + " quote at " + t.exit_evidence.timestamp)
                                : t.reason || null, "muted small");
      body.appendChild(row);
    });
  }
  function settled(t) {
    delete open[t.id];
    if (entryLines[t.id]) { series.removePriceLine(entryLines[t.id]); delete entryLines[t.id]; }
    var result = $("result");
    result.textContent = describe(t);
    result.dataset.status = t.status;
    result.className = t.status === "WON" ? "ok" : t.status === "LOST" ? "error" : "muted";
    renderOpen();
    refreshHistory();
  }
  function opened(t) {
    open[t.id] = t;
    if (!entryLines[t.id]) {
      entryLines[t.id] = series.createPriceLine({price: +t.entry_price, lineStyle: 2,
        title: "#" + t.id + " " + t.direction});
    }
    renderOpen();
  }
  function refreshHistory() {
    api("GET", cfg.api.trades + "?state=settled&limit=20").then(function (page) {
      renderHistory(page.results);
    });
  }
  function refreshOpen() {
    api("GET", cfg.api.trades + "?state=open&limit=100").then(function (page) {
      page.results.forEach(opened);
    });
  }
  // Once a countdown is over, ask for the trade until it is settled (the stream may
  // have missed the event: a reconnect).
  setInterval(function () {
    renderOpen();
    Object.keys(open).forEach(function (id) {
      var t = open[id];
      if (secondsLeft(t) === 0 && !t.asking) {
        t.asking = true;
        api("GET", cfg.api.trades + t.id + "/").then(function (fresh) {
          t.asking = false;
          if (fresh.status !== "OPEN" && open[fresh.id]) settled(fresh);
        }).catch(function () { t.asking = false; });
      }
    });
  }, 1000);

  var form = $("fixedtime-form");
  document.querySelectorAll("[data-direction]").forEach(function (button) {
    button.addEventListener("click", function () {
      $("trade-error").textContent = "";
      var stake = form.elements.stake.value.trim();
      if (!/^[0-9]+(\.[0-9]+)?$/.test(stake)) {
        $("trade-error").textContent = "The stake is a positive number.";
        return;
      }
      var sent = Date.now();
      api("POST", cfg.api.trades, {venue: cfg.venue, symbol: cfg.symbol,
        mode: form.elements.mode.value, direction: button.dataset.direction, stake: stake,
        expiry_seconds: +form.elements.expiry.value}).then(function (trade) {
        clockOffset = (sent + Date.now()) / 2 - Date.parse(trade.opened_at);
        opened(trade);
      }).catch(function (e) { $("trade-error").textContent = e.message; });
    });
  });

  var stream = new PlatformStream(function (state) { $("stream-state").textContent = state; });
  stream.subscribe(cfg.stream, onTick);
  stream.subscribe("fixedtime", function (event) {
    if (event.symbol !== cfg.symbol || event.venue !== cfg.venue) return;
    if (event.event === "settled") {
      if (open[event.id]) settled(event); else refreshHistory();
    } else if (event.event === "opened") opened(event);
  });
  refreshOpen();
  refreshHistory();
})();
