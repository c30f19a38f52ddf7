/* The internal-market page (trade/market.html): the live order book (depth@: a snapshot,
 * then numbered updates checked against the book's checksum, resubscribed on a gap or a
 * mismatch: depthbook.js), the recent trades (trades@), and for a trader the order form
 * (limit with time in force and post-only, market by amount, market buy by total; where
 * the venue's API takes them, the conditional types, OCO pairs and brackets: platform.js
 * builds their requests and shows their triggers, legs and which leg executed) and the
 * orders with their partial fills, refreshed on the private orders/balances streams.
 * A venue's variant of the page (futures.js) is a script loaded before this one that sets
 * window.PlatformMarketVariant: ``start({stream, book})`` runs for anyone once the book
 * and trades are subscribed, ``trade({form, refresh})`` for a trader once the form is
 * ready, ``request(body)`` adds its fields to an order, ``preview(request, out)``
 * replaces the order preview (request null while the form is incomplete) and
 * ``refresh()`` runs with the orders' refresh. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var cfg = JSON.parse($("market-config").textContent);
  var api = Platform.api, cell = Platform.cell;
  var BOOK_ROWS = 12, TRADE_ROWS = 30;
  var variant = window.PlatformMarketVariant || {};

  function showPrice(text) { return Platform.price(text, cfg.pricePrecision); }
  function showAmount(text) { return Platform.price(text, cfg.amountPrecision); }
  function titleCase(code) {
    var words = String(code).toLowerCase().replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  var stream = new PlatformStream(function (state) { $("stream-state").textContent = state; });

  /* --- the order book --- */
  var book = new PlatformDepth.DepthBook();
  var resyncing = false;
  function bookRows(body, levels, side) {
    body.innerHTML = "";
    levels.forEach(function (level) {
      var row = document.createElement("tr");
      row.className = side;
      row.dataset.price = level[0];
      cell(row, showPrice(level[0]), "num " + (side === "asks" ? "down" : "up"));
      cell(row, showAmount(level[1]), "num");
      cell(row, Platform.multiply(level[0], level[1], cfg.pricePrecision), "num muted");
      body.appendChild(row);
    });
  }
  function renderBook() {
    var asks = book.levels("asks", BOOK_ROWS), bids = book.levels("bids", BOOK_ROWS);
    bookRows($("asks"), asks.slice().reverse(), "asks");
    bookRows($("bids"), bids, "bids");
    var spread = "—";
    if (asks.length && bids.length) {
      // ask - bid, exactly: both are multiples of the tick.
      var ticks = BigInt(PlatformDepth.units(asks[0][0], cfg.tickSize)) -
        BigInt(PlatformDepth.units(bids[0][0], cfg.tickSize));
      spread = Platform.multiply(ticks.toString(), cfg.tickSize, cfg.pricePrecision);
    }
    $("spread").textContent = spread;
    $("book-mid").textContent = "spread " + spread;
    $("book-sequence").textContent = book.sequence === null ? "—" : "#" + book.sequence;
    $("book-resyncs").textContent = String(book.resyncs);
  }
  stream.subscribe(cfg.streams.depth, function (data, frame) {
    // After asking for a resync, live items wait for the snapshot that restarts the book.
    if (resyncing && !frame.snapshot) return;
    resyncing = false;
    if (book.apply(frame) === "resync") {
      resyncing = true;
      stream.resubscribe(cfg.streams.depth);
    }
    renderBook();
  });

  /* --- trades --- */
  var trades = [];
  function renderTrades() {
    var body = $("trades");
    body.innerHTML = "";
    trades.forEach(function (t) {
      var row = document.createElement("tr");
      row.dataset.id = t.id;
      cell(row, showPrice(t.price), "num " + (t.side === "buy" ? "up" : "down"));
      cell(row, showAmount(t.amount), "num");
      cell(row, new Date(t.time).toLocaleTimeString(), "muted");
      body.appendChild(row);
    });
    if (trades.length) $("last").textContent = showPrice(trades[0].price);
  }
  stream.subscribe(cfg.streams.trades, function (data, frame) {
    // A snapshot is the latest trades as a whole; a live item is one batch, newest first.
    trades = (frame.snapshot ? data.trades : data.trades.concat(trades)).slice(0, TRADE_ROWS);
    renderTrades();
  });

  if (variant.start) variant.start({stream: stream, book: book});
  if (!cfg.loggedIn || !cfg.api.orders) return;

  /* --- orders and balances --- */
  // The core's live statuses (a conditional order waits PENDING, a bracket's exit WAITING).
  var LIVE = ["NEW", "OPEN", "PARTIALLY_FILLED", "PENDING", "WAITING"];
  // An order's or a list's URL from the API's with id 0 (the view reversed it so).
  function withId(url, id) { return url.replace("/0/", "/" + id + "/"); }
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
  var listKinds = {};  // order list id -> OCO | BRACKET
  function noteText(o) {
    var parts = [];
    if (o.group_id) parts.push(Platform.listText(o, listKinds));
    if (o.trigger) parts.push("triggered at " + showPrice(o.trigger.quote_price));
    if (o.reason) parts.push(o.reason);
    return parts.join("; ");
  }
  function filledText(o) { return showAmount(o.filled) + " / " + showAmount(o.amount); }
  function typeText(o) {
    var text = titleCase(o.type);
    if (o.type === "LIMIT") text += " " + o.time_in_force + (o.post_only ? " post-only" : "");
    return text;
  }
  function renderOrders(orders) {
    var open = $("open-orders"), history = $("history");
    open.innerHTML = ""; history.innerHTML = "";
    orders.forEach(function (o) {
      var row = document.createElement("tr");
      row.dataset.id = o.id;
      row.dataset.status = o.status;
      if (o.group_id) { row.dataset.list = o.group_id; row.dataset.role = o.role; }
      cell(row, "#" + o.id);
      cell(row, titleCase(o.side), o.side === "BUY" ? "up" : "down");
      cell(row, typeText(o));
      cell(row, o.price === null ? "market" : showPrice(o.price), "num");
      cell(row, filledText(o), "num");
      if (LIVE.indexOf(o.status) >= 0) {
        cell(row, titleCase(o.status));
        if (cfg.api.conditional) {
          cell(row, Platform.triggerText(o, showPrice), "num").dataset.testid = "trigger";
          cell(row, Platform.listText(o, listKinds), "small");
        }
        cell(row, "").appendChild(cancelButton(withId(cfg.api.cancel, o.id)));
        open.appendChild(row);
      } else {
        cell(row, o.cost, "num");
        cell(row, o.fee === "0" ? "0" : o.fee + " " + o.fee_currency, "num");
        cell(row, titleCase(o.status));
        cell(row, noteText(o), "muted small").dataset.testid = "note";
        history.appendChild(row);
      }
    });
  }
  function renderBalances(wallets) {
    var body = $("balances");
    body.innerHTML = "";
    wallets.filter(function (w) {
      return w.type === cfg.walletType && cfg.balanceCurrencies.indexOf(w.currency) >= 0;
    }).forEach(function (w) {
      var row = document.createElement("tr");
      row.dataset.currency = w.currency;
      cell(row, w.currency); cell(row, w.available, "num");
      cell(row, w.held !== "0" ? "held " + w.held : "", "num muted");
      body.appendChild(row);
    });
    if (!body.children.length) {
      var row = document.createElement("tr");
      cell(row, "No " + cfg.balanceCurrencies.join(" or ") + " in your " + cfg.walletType +
        " wallets yet.", "muted");
      body.appendChild(row);
    }
  }
  function renderLists(lists) {
    listKinds = Platform.renderLists($("order-lists"), lists, function (list) {
      return cancelButton(withId(cfg.api.listCancel, list.id));
    });
  }
  function refresh() {
    var query = "?symbol=" + encodeURIComponent(cfg.symbol) + "&limit=100";
    // The lists first: the orders' rows name the kind of list each leg belongs to.
    Promise.all([cfg.api.orderLists ? api("GET", cfg.api.orderLists + query) : null,
                 api("GET", cfg.api.orders + query)])
      .then(function (pages) {
        if (pages[0]) renderLists(pages[0].results);
        renderOrders(pages[1].results);
      })
      .catch(showError);
    api("GET", cfg.api.wallets).then(renderBalances).catch(showError);
    if (variant.refresh) variant.refresh();
  }
  var pending = null;
  function refreshSoon() {
    if (!pending) pending = setTimeout(function () { pending = null; refresh(); }, 100);
  }
  stream.subscribe("orders", function (event) {
    if (event.venue === cfg.venue && event.symbol === cfg.symbol) refreshSoon();
  });
  stream.subscribe("balances", refreshSoon);

  /* --- the order form --- */
  var form = $("order-form");
  function showError(e) { $("order-ok").textContent = ""; $("order-error").textContent = e.message; }
  function clearMessages() { $("order-error").textContent = ""; $("order-ok").textContent = ""; }
  function value(name) { return form.elements[name].value.trim(); }
  function chosen(name) { return form.querySelector("input[name=" + name + "]:checked").value; }
  function syncType() {
    var side = chosen("side");
    if (side === "SELL" && chosen("type") === "BUDGET") {
      form.querySelector("input[name=type][value=MARKET]").checked = true;
    }
    var type = chosen("type");
    form.querySelectorAll("[data-types]").forEach(function (field) {
      field.hidden = field.dataset.types.split(" ").indexOf(type) < 0;
    });
    form.querySelectorAll("[data-sides]").forEach(function (field) {
      field.hidden = field.dataset.sides !== side;
    });
    Platform.labelFields(form, type);
    $("type-help").textContent = Platform.CONDITIONAL_HELP[type] || "";
  }
  function decimal(name, label) {
    var text = value(name);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || /^[0.]+$/.test(text)) {
      throw new Error(label + " must be a positive number, like 1.5.");
    }
    return text;
  }
  // A price field: null when empty and not required.
  function optionalDecimal(name, label, required) {
    return !required && !value(name) ? null : decimal(name, label);
  }
  // The conditional order or list the form describes, {url, body}; else null.
  function conditionalRequest() {
    var type = chosen("type");
    if (!Platform.CONDITIONAL_HELP[type]) return null;
    var body = {symbol: cfg.symbol, side: chosen("side"), amount: decimal("amount", "Amount")};
    return Platform.conditionalRequest(type, body, value, optionalDecimal,
                                       {orders: cfg.api.orders, orderLists: cfg.api.orderLists});
  }
  function formRequest() {
    var type = chosen("type");
    var body = {symbol: cfg.symbol, side: chosen("side"), type: type === "BUDGET" ? "MARKET" : type};
    if (type === "BUDGET") {
      body.quote_amount = decimal("quote_amount", "Spend");
    } else {
      body.amount = decimal("amount", "Amount");
    }
    if (type === "LIMIT") {
      body.price = decimal("price", "Price");
      body.time_in_force = value("time_in_force");
      body.post_only = form.elements.post_only.checked;
    }
    if (variant.request) variant.request(body);
    return body;
  }
  function preview() {
    var out = $("order-preview");
    out.textContent = "";
    var type = chosen("type");
    if (variant.preview) {
      var complete;
      try { complete = formRequest(); } catch (e) { complete = null; }
      variant.preview(complete, out);
      return;
    }
    try {
      var conditional = conditionalRequest();
      if (conditional) {
        // The limit (or, without one, the trigger) price the hold is sized at.
        var at = conditional.body.price || conditional.body.stop_price;
        if (at) {
          out.textContent = "Total ≈ " + Platform.multiply(conditional.body.amount, at,
            cfg.quoteDecimals) + " " + cfg.quote + " when it executes (fee up to " +
            cfg.takerFee + " of it).";
        }
        return;
      }
      if (type !== "LIMIT") {
        out.textContent = type === "BUDGET"
          ? "Buys at the best asks until the total is spent (fee " + cfg.takerFee + " of it)."
          : "Trades at once at the best prices; what the book cannot fill is cancelled.";
        return;
      }
      var request = formRequest();
      var total = Platform.multiply(request.amount, request.price, cfg.quoteDecimals);
      var rate = request.post_only ? cfg.makerFee : cfg.takerFee;
      out.textContent = "Total " + total + " " + cfg.quote + ", fee up to " +
        Platform.multiply(total, rate, cfg.quoteDecimals) + " " + cfg.quote;
    } catch (e) { /* incomplete: no preview yet */ }
  }
  form.addEventListener("change", function () { syncType(); preview(); });
  form.addEventListener("input", function () { clearMessages(); preview(); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearMessages();
    var request;
    try {
      request = conditionalRequest() || {url: cfg.api.orders, body: formRequest()};
    } catch (e) { showError(e); return; }
    api("POST", request.url, request.body).then(function (placed) {
      $("order-ok").textContent = placed.kind ? Platform.listPlaced(placed)
        : "Order #" + placed.id + " placed: " + titleCase(placed.status) + ".";
      refresh();
    }).catch(showError);
  });
  syncType();
  if (variant.trade) variant.trade({form: form, refresh: refresh});
  refresh();
})();
