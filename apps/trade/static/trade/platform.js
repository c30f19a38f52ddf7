/* What the pages' scripts share (trade.js, fixedtime.js and the other venues' pages): the
 * JSON API called with the session's CSRF token, table cells, and decimal strings shown
 * with a market's decimals or multiplied exactly (BigInt), never through a float; and
 * the conditional orders, OCO pairs and brackets of the trade and internal-market pages
 * (the request a form describes, triggers, a list's legs and which one executed). */
(function () {
  "use strict";
  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  // Resolves to the answer's JSON; rejects with an Error carrying the API's message.
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
  // Appends a cell; no value (null or undefined) shows as a dash, not as "null".
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }
  // A price with the market's decimals: the feed sends JSON numbers (1.30000 arrives as
  // "1.3"), padded as a string; extra decimals are cut (prices are on the tick already).
  function price(text, places) {
    if (text === null || text === undefined || text === "") return "—";
    var parts = String(text).split("."), decimals = (parts[1] || "").slice(0, places);
    while (decimals.length < places) decimals += "0";
    return decimals ? parts[0] + "." + decimals : parts[0];
  }
  // Exact decimal arithmetic on strings: [digits as BigInt, scale].
  function parse(text) {
    var parts = String(text).split("."), decimals = parts[1] || "";
    return [BigInt(parts[0] + decimals), decimals.length];
  }
  // a × b rounded half up to ``places`` decimals, as a string.
  function multiply(a, b, places) {
    var x = parse(a), y = parse(b), value = x[0] * y[0], scale = x[1] + y[1];
    if (scale > places) {
      var unit = 10n ** BigInt(scale - places);
      value = (value + unit / 2n) / unit;
    } else {
      value = value * 10n ** BigInt(places - scale);
    }
    var digits = value.toString().padStart(places + 1, "0");
    return places ? digits.slice(0, -places) + "." + digits.slice(-places) : digits;
  }
  // (a - b) / b in percent with two decimals, for a change since an open; null without b.
  function changePercent(a, b) {
    var x = parse(a), y = parse(b);
    if (y[0] === 0n) return null;
    var scale = Math.max(x[1], y[1]);
    var xa = x[0] * 10n ** BigInt(scale - x[1]), yb = y[0] * 10n ** BigInt(scale - y[1]);
    var hundredths = ((xa - yb) * 20000n) / yb;  // 2 x percent x 100, then rounded
    var rounded = (hundredths + (hundredths >= 0n ? 1n : -1n)) / 2n;
    var sign = rounded < 0n ? "-" : "", abs = rounded < 0n ? -rounded : rounded;
    var digits = abs.toString().padStart(3, "0");
    return sign + digits.slice(0, -2) + "." + digits.slice(-2);
  }

  /* --- conditional orders, OCO pairs and brackets: what the trade page (trade.js) and
   * the internal-market page (market.js) both send and show --- */
  var STATUS_NAMES = {NEW: "New", OPEN: "Open", PARTIALLY_FILLED: "Partially filled",
    FILLED: "Filled", CANCELED: "Canceled", REJECTED: "Rejected", EXPIRED: "Expired",
    UNKNOWN: "Unknown", PENDING: "Pending", WAITING: "Waiting"};
  function statusName(status) { return STATUS_NAMES[status] || status; }
  var ROLE_NAMES = {ENTRY: "entry", LIMIT: "limit leg", STOP: "stop leg"};
  // A positive decimal with at most ``places`` decimals (none when places is 0).
  function decimalOk(text, places) {
    return new RegExp("^[0-9]+(\\.[0-9]{1," + Math.max(places, 1) + "})?$").test(text) &&
      (places > 0 || text.indexOf(".") < 0) && /[1-9]/.test(text);
  }
  var CONDITIONAL_HELP = {
    STOP: "Waits, funds held, until the price reaches the trigger (a buy above the " +
      "market, a sell below), then buys or sells: at your price if you give one " +
      "(stop-limit), else at the market (stop-market).",
    TAKE_PROFIT: "Waits, funds held, until the price reaches the trigger (a sell above " +
      "the market, a buy below), then at your price if you give one, else at the market.",
    TRAILING_STOP: "Follows the best price since activation at the distance (or rate) " +
      "you give, and buys or sells at the market when the price turns back by that much.",
    OCO: "A limit order at the price and a stop at the trigger: when one executes or " +
      "triggers, the other is cancelled. One hold for both.",
    BRACKET: "An entry at the price (empty: at the market) whose take-profit and " +
      "stop-loss become an OCO once it fills.",
  };
  // The price and trigger fields' labels per type (an element data-label-for=<name>).
  var ORDER_LABELS = {
    price: {LIMIT: "Price", STOP: "Limit price (empty: market)",
            TAKE_PROFIT: "Limit price (empty: market)", OCO: "Limit price",
            BRACKET: "Entry price (empty: market)"},
    stop_price: {STOP: "Trigger price", TAKE_PROFIT: "Trigger price", OCO: "Stop price",
                 BRACKET: "Stop-loss price"},
  };
  function labelFields(form, type) {
    Object.keys(ORDER_LABELS).forEach(function (name) {
      var text = ORDER_LABELS[name][type], label = form.querySelector("[data-label-for=" + name + "]");
      if (text && label) label.textContent = text;
    });
  }
  // The conditional order or list a form describes (``type`` one of CONDITIONAL_HELP's),
  // added to ``body`` (symbol, side and amount set): {url, body} for urls.orders or
  // urls.orderLists. ``get(name)`` reads a field; ``price(name, label, required)`` checks
  // one (null when empty and optional) and throws what is wrong before anything is sent.
  function conditionalRequest(type, body, get, price, urls) {
    function put(name, value) { if (value !== null) body[name] = value; }
    body.trigger_source = get("trigger_source");
    if (type === "STOP" || type === "TAKE_PROFIT") {
      body.stop_price = price("stop_price", "Trigger price", true);
      put("price", price("price", "Limit price", false));
      body.type = type + (body.price ? "_LIMIT" : "_MARKET");
      return {url: urls.orders, body: body};
    }
    if (type === "TRAILING_STOP") {
      body.type = type;
      var delta = price("trailing_delta", "Trailing distance", false);
      var rate = get("trailing_rate");
      if ((delta === null) === !rate) {
        throw new Error("Give a trailing distance or a trailing rate (one of them).");
      }
      if (rate && !decimalOk(rate, 6)) {
        throw new Error("Trailing rate must be a number such as 0.01 (1%).");
      }
      put("trailing_delta", delta);
      if (rate) body.trailing_rate = rate;
      put("activation_price", price("activation_price", "Activation price", false));
      return {url: urls.orders, body: body};
    }
    body.kind = type;
    body.stop_price = price("stop_price", ORDER_LABELS.stop_price[type], true);
    put("stop_limit_price", price("stop_limit_price", "Stop-limit price", false));
    if (type === "OCO") {
      body.price = price("price", "Limit price", true);
    } else {
      put("price", price("price", "Entry price", false));
      body.entry_type = body.price ? "LIMIT" : "MARKET";
      body.take_profit_price = price("take_profit_price", "Take-profit price", true);
    }
    return {url: urls.orderLists, body: body};
  }
  // A conditional order's trigger ("≥ 1.25500"; a trailing stop before activation: where
  // it starts), "" for the other types; ``show`` formats a price.
  function triggerText(o, show) {
    if (!o.trigger_direction && !o.stop_price) return "";
    if (o.type === "TRAILING_STOP" && !o.stop_price) return "trails from " + show(o.activation_price);
    var text = (o.trigger_direction === "FALL" ? "≤ " : "≥ ") + show(o.stop_price);
    return o.trigger_source === "BID_ASK" ? text + " (bid/ask)" : text;
  }
  // An order's place in its list ("OCO #4 stop leg"); ``kinds``: list id -> kind.
  function listText(o, kinds) {
    if (!o.group_id) return "";
    return (kinds[o.group_id] || "list") + " #" + o.group_id + " " + ROLE_NAMES[o.role];
  }
  // Which exit of a list executed, and what became of the other.
  function listResult(list) {
    if (list.executed_role) {
      var others = list.orders.filter(function (o) {
        return o.role !== "ENTRY" && o.role !== list.executed_role;
      }).map(function (o) { return ROLE_NAMES[o.role] + " " + statusName(o.status).toLowerCase(); });
      return ROLE_NAMES[list.executed_role] + " executed" +
        (others.length ? "; " + others.join(", ") : "");
    }
    return list.live ? "live" : "ended: " + list.orders.map(function (o) {
      return ROLE_NAMES[o.role] + " " + statusName(o.status).toLowerCase();
    }).join(", ");
  }
  // What a page says when a list is placed: "OCO #4 placed: limit leg open, stop leg pending."
  function listPlaced(list) {
    return list.kind + " #" + list.id + " placed: " + list.orders.map(function (o) {
      return ROLE_NAMES[o.role] + " " + statusName(o.status).toLowerCase();
    }).join(", ") + ".";
  }
  // The lists' table rows into ``body`` (a live list with ``cancelButton(list)``, which
  // cancels all its legs); returns the kinds by list id, for listText.
  function renderLists(body, lists, cancelButton) {
    var kinds = {};
    body.innerHTML = "";
    lists.forEach(function (list) {
      kinds[list.id] = list.kind;
      var row = document.createElement("tr");
      row.dataset.list = list.id;
      row.dataset.executed = list.executed_role || "";
      cell(row, list.id); cell(row, list.kind);
      cell(row, list.orders.map(function (o) {
        return ROLE_NAMES[o.role] + " " + o.type + " " + statusName(o.status);
      }).join(", "), "small");
      var result = cell(row, listResult(list));
      result.dataset.testid = "list-result";
      if (list.live) {
        result.appendChild(document.createTextNode(" "));
        result.appendChild(cancelButton(list));
      }
      body.appendChild(row);
    });
    return kinds;
  }
  window.Platform = {api: api, cell: cell, price: price, multiply: multiply,
                     changePercent: changePercent, statusName: statusName,
                     decimalOk: decimalOk, CONDITIONAL_HELP: CONDITIONAL_HELP,
                     labelFields: labelFields, conditionalRequest: conditionalRequest,
                     triggerText: triggerText, listText: listText, listResult: listResult,
                     listPlaced: listPlaced, renderLists: renderLists};
})();
