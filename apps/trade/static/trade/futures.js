/* A futures contract's page (trade/futures.html): the internal-market page (market.js)
 * with, in its header, the mark and the next funding (rate and a countdown, from the
 * funding preview); in its form the leverage (1 to the contract's maximum; the preview
 * names the maximum of the tier the order's position falls in) and reduce-only, with a
 * live preview of the margin, fee and liquidation price before placing (the preview
 * API); and the trader's positions with their unrealised PnL at the mark, margin
 * (add/remove), take-profit and stop-loss on the mark, and a close button. Loaded before market.js, whose parts it is given. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var cfg = JSON.parse($("market-config").textContent);
  var f = cfg.futures, api = Platform.api, cell = Platform.cell;
  var PRESETS = [1, 2, 5, 10, 20, 50, 75, 100, 125];
  var page = {};  // market.js's parts: stream and book, then form and refresh
  var fundingTime = null, fundingAmount = null;
  // Whether the funding preview had a rate (it has none before the first fresh index),
  // and whether one is being fetched.
  var fundingKnown = false, fundingLoading = false;

  function query(params) {
    return Object.keys(params).map(function (key) {
      return key + "=" + encodeURIComponent(params[key]);
    }).join("&");
  }
  function leverage() { return Number(page.form.elements.leverage.value); }
  function money(text) { return text === null ? "—" : Platform.price(text, cfg.quoteDecimals); }
  function clientId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); })
      .join("");
  }

  /* --- header: mark and funding --- */
  // A rate as a percentage with four decimals, exactly (a decimal string times 100).
  function percent(rate) {
    return (rate[0] === "-" ? "-" : "") + Platform.multiply(rate.replace(/^-/, ""), "100", 4) + "%";
  }
  var mark = null;  // the latest mark price, a decimal string
  // The mark@ stream: each tick's mark and index (a snapshot of the latest on subscribe).
  function showMark(tick) {
    mark = tick.mark_price;
    $("mark").textContent = Platform.price(tick.mark_price, cfg.pricePrecision);
    $("index").textContent = Platform.price(tick.index_price, cfg.pricePrecision);
    if (!fundingKnown && !fundingLoading) loadFunding();  // the first fresh index's rate
  }
  function loadFunding() {
    fundingLoading = true;
    api("GET", f.api.funding + "?" + query({symbol: cfg.symbol})).then(function (data) {
      fundingLoading = false;
      fundingKnown = data.rate !== null;
      fundingTime = new Date(data.funding_time);
      $("funding-rate").textContent = data.rate === null ? "—" : percent(data.rate);
      fundingAmount = data.amount;
      renderPositions();
      tick();
    }).catch(function () { fundingLoading = false; });
  }
  function tick() {
    if (!fundingTime) return;
    var left = Math.max(0, Math.floor((fundingTime - Date.now()) / 1000));
    if (left === 0) { fundingTime = null; loadFunding(); return; }
    var h = Math.floor(left / 3600), m = Math.floor(left / 60) % 60, s = left % 60;
    $("funding-countdown").textContent = [h, m, s].map(function (n) {
      return String(n).padStart(2, "0");
    }).join(":");
  }

  /* --- the form: leverage, reduce-only, the preview --- */
  function syncLeverage() {
    $("leverage-value").textContent = leverage() + "x";
    document.querySelectorAll("#leverage-presets button").forEach(function (b) {
      b.classList.toggle("active", Number(b.dataset.leverage) === leverage());
    });
  }
  function presets() {
    var box = $("leverage-presets");
    PRESETS.filter(function (n) { return n <= f.maxLeverage; }).forEach(function (n) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = n + "x"; b.dataset.leverage = n;
      b.dataset.testid = "leverage-" + n;
      b.addEventListener("click", function () {
        page.form.elements.leverage.value = n;
        page.form.dispatchEvent(new Event("change"));
      });
      box.appendChild(b);
    });
  }
  // The price a market order would be previewed at: the best price it would take.
  function takingPrice(side) {
    var level = page.book.levels(side === "BUY" ? "asks" : "bids", 1)[0];
    return level ? level[0] : mark;
  }
  var asked = 0, waiting = null;
  function preview(request, out) {
    syncLeverage();
    clearTimeout(waiting);
    out.textContent = "";
    $("leverage-tier").textContent = "";
    if (!request) return;
    var price = request.price || takingPrice(request.side);
    if (!price) { out.textContent = "No price to preview at: the book is empty."; return; }
    var number = ++asked;
    // Typing sends one request once it pauses, not one per key.
    waiting = setTimeout(function () {
      api("GET", f.api.preview + "?" + query({
        symbol: cfg.symbol, side: request.side, amount: request.amount, price: price,
        leverage: request.leverage,
      })).then(function (p) {
        if (number !== asked) return;
        out.textContent = "";
        if (p.tier_max_leverage !== null) {
          $("leverage-tier").textContent = "(max " + p.tier_max_leverage + "x at this size)";
        }
        var parts = ["Margin " + money(p.initial_margin) + " " + cfg.quote,
                     "fee " + money(p.fee) + " " + cfg.quote];
        parts.push(p.size === "0" ? "closes the position"
          : "liquidation price " + (p.liquidation_price === null ? "none"
            : Platform.price(p.liquidation_price, cfg.pricePrecision)));
        var line = document.createElement("span");
        line.dataset.testid = "liquidation-preview";
        line.dataset.liquidationPrice = p.liquidation_price || "";
        line.textContent = parts.join(" · ");
        out.appendChild(line);
        if (p.size !== "0") {
          out.appendChild(document.createElement("br"));
          out.appendChild(document.createTextNode(
            "Then " + p.side.toLowerCase() + " " + Platform.price(p.size, cfg.amountPrecision) +
            " " + cfg.base + " at " + Platform.price(p.entry_price, cfg.pricePrecision) +
            (request.price ? "" : " (at the best price now)")));
        }
      }).catch(function (e) { if (number === asked) out.textContent = e.message; });
    }, 150);
  }

  /* --- positions: the private positions stream (a snapshot, then each change and each
   * mark tick: the whole position, FLAT once closed or liquidated) --- */
  var positions = {};
  function showError(e) { $("position-error").textContent = e.message; }
  function input(testid, label, placeholder) {
    var box = document.createElement("input");
    box.inputMode = "decimal"; box.placeholder = placeholder; box.className = "inline";
    box.dataset.testid = testid;
    box.setAttribute("aria-label", label);
    return box;
  }
  function button(testid, text, onClick) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "link"; b.textContent = text; b.dataset.testid = testid;
    b.addEventListener("click", function () { $("position-error").textContent = ""; onClick(); });
    return b;
  }
  function group(td, label, parts) {
    var span = document.createElement("span");
    span.className = "control-group";
    span.appendChild(document.createTextNode(label + " "));
    parts.forEach(function (part) { span.appendChild(part); });
    td.appendChild(span);
  }
  // Margin added or removed (``positions/<id>/margin/``), and the take-profit and
  // stop-loss on the mark (``positions/<id>/exits/``: an empty field is left as it is,
  // Clear removes both).
  function controls(id) {
    var row = document.createElement("tr"), td = cell(row, "");
    row.className = "controls"; row.dataset.for = id;
    td.colSpan = COLUMNS.length + 1;
    var amount = input("margin-amount", "Margin amount (" + cfg.quote + ")", cfg.quote);
    function margin(action) {
      api("POST", f.api.margin.replace("/0/", "/" + id + "/"), {
        action: action, amount: amount.value.trim(), client_id: clientId(),
      }).then(function () { amount.value = ""; }).catch(showError);
    }
    group(td, "Margin", [amount, button("margin-add", "Add", function () { margin("add"); }),
                         button("margin-remove", "Remove", function () { margin("remove"); })]);
    var tp = input("take-profit", "Take-profit price", "take profit");
    var sl = input("stop-loss", "Stop-loss price", "stop loss");
    function exits(body) {
      api("POST", f.api.exits.replace("/0/", "/" + id + "/"), body).then(function () {
        tp.value = ""; sl.value = "";
      }).catch(showError);
    }
    group(td, "TP/SL on the mark", [tp, sl, button("exits-set", "Set", function () {
      var body = {};
      if (tp.value.trim()) body.take_profit_price = tp.value.trim();
      if (sl.value.trim()) body.stop_loss_price = sl.value.trim();
      exits(body);
    }), button("exits-clear", "Clear", function () {
      exits({take_profit_price: null, stop_loss_price: null});
    })]);
    return row;
  }
  function closeButton(id) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = "Close"; b.dataset.testid = "close-position";
    b.addEventListener("click", function () {
      var p = positions[id];
      $("position-error").textContent = "";
      // A reduce-only market order of the other side, the whole size.
      api("POST", cfg.api.orders, {
        symbol: cfg.symbol, side: p.side === "LONG" ? "SELL" : "BUY", type: "MARKET",
        amount: p.size, leverage: p.leverage, reduce_only: true,
      }).catch(showError);
    });
    return b;
  }
  var COLUMNS = ["side", "size", "entry", "mark", "pnl", "margin", "leverage", "liquidation",
                 "adl", "exits", "funding"];
  function newRow(id) {
    var row = document.createElement("tr");
    row.dataset.id = id;
    COLUMNS.forEach(function (name) {
      cell(row, null, name === "side" ? "" : "num").dataset.testid = "position-" + name;
    });
    cell(row, "").appendChild(closeButton(id));
    return row;
  }
  function fill(row, p) {
    function set(name, text, cls) {
      var td = row.querySelector("[data-testid=position-" + name + "]");
      td.textContent = text === null || text === undefined ? "—" : text;
      if (cls !== undefined) td.className = cls;
      return td;
    }
    row.dataset.side = p.side;
    set("side", p.side === "LONG" ? "Long" : "Short", p.side === "LONG" ? "up" : "down");
    set("size", Platform.price(p.size, cfg.amountPrecision));
    set("entry", Platform.price(p.entry_price, cfg.pricePrecision));
    set("mark", Platform.price(p.mark_price, cfg.pricePrecision));
    var pnl = p.unrealised_pnl;
    set("pnl", pnl === null ? null : money(pnl) + " " + cfg.quote,
        "num " + (pnl === null ? "" : pnl[0] === "-" ? "down" : "up"));
    set("margin", money(p.margin));
    set("leverage", p.leverage + "x");
    set("liquidation", p.liquidation_price === null ? null
      : Platform.price(p.liquidation_price, cfg.pricePrecision)).dataset.value =
      p.liquidation_price || "";
    // The auto-deleveraging queue as 5 lights (5: first fifth; 0: not in profit, not queued).
    var adl = set("adl", p.adl_quantile === null || p.adl_quantile === undefined ? null
      : "\u25CF".repeat(p.adl_quantile) + "\u25CB".repeat(5 - p.adl_quantile));
    adl.dataset.value = p.adl_quantile === null || p.adl_quantile === undefined ? ""
      : String(p.adl_quantile);
    adl.title = adl.dataset.value === "" ? "ADL queue: until the next mark tick"
      : "ADL queue: " + adl.dataset.value + " of 5 lights";
    var exits = [["TP", p.take_profit_price], ["SL", p.stop_loss_price]].filter(function (e) {
      return e[1];
    }).map(function (e) { return e[0] + " " + Platform.price(e[1], cfg.pricePrecision); });
    set("exits", exits.length ? exits.join(" · ") : null);
    // The estimated funding at the next stamp: > 0 paid, < 0 received.
    set("funding", fundingAmount === null ? null : (fundingAmount[0] === "-"
      ? "receive " + money(fundingAmount.slice(1)) : "pay " + money(fundingAmount)) +
      " " + cfg.quote);
  }
  // Rows are updated in place (a margin amount being typed stays), added and removed.
  function renderPositions() {
    var body = $("positions");
    if (!body) return;
    var ids = Object.keys(positions);
    body.querySelectorAll("tr").forEach(function (row) {
      if (!positions[row.dataset.id || row.dataset.for]) row.remove();
    });
    ids.forEach(function (id) {
      var row = body.querySelector("tr[data-id='" + id + "']");
      if (!row) {
        row = newRow(id);
        body.appendChild(row);
        body.appendChild(controls(id));
      }
      fill(row, positions[id]);
    });
    if (!ids.length) {
      var row = document.createElement("tr");
      cell(row, "No open position in " + cfg.symbol + ".", "muted").colSpan = COLUMNS.length + 1;
      body.appendChild(row);
    }
  }
  function applyPosition(p) {
    if (p.symbol !== cfg.symbol) return;
    // A fill's item is not ranked (null): the last tick's lights stand until the next.
    var before = positions[p.id];
    if (p.adl_quantile === null && before) p.adl_quantile = before.adl_quantile;
    if (p.status === "OPEN") positions[p.id] = p;
    else delete positions[p.id];
  }

  window.PlatformMarketVariant = {
    request: function (body) {
      body.leverage = leverage();
      body.reduce_only = page.form.elements.reduce_only.checked;
      // The position's exits once this order fills (the API checks their side).
      ["take_profit_price", "stop_loss_price"].forEach(function (name) {
        var value = page.form.elements[name].value.trim();
        if (value) body[name] = value;
      });
    },
    preview: preview,
    // An order's fill or a margin change: the funding estimate follows the position.
    refresh: loadFunding,
    start: function (parts) {
      page = parts;
      page.stream.subscribe(cfg.streams.mark, showMark);
      setInterval(tick, 1000);  // the countdown's display only: nothing is fetched
      if (!cfg.loggedIn) loadFunding();  // a trader's comes with the orders' refresh
    },
    trade: function (parts) {
      page.form = parts.form;
      page.stream.subscribe("positions", function (data, frame) {
        if (frame.snapshot) {
          positions = {};
          data.positions.forEach(applyPosition);
        } else {
          applyPosition(data);
        }
        renderPositions();
      });
      presets();
      page.form.elements.leverage.value = Math.min(10, f.maxLeverage);
      syncLeverage();
    },
  };
})();
