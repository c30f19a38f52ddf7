/* What the pages' scripts share (trade.js, fixedtime.js and the other venues' pages): the
 * JSON API called with the session's CSRF token, table cells, and decimal strings shown
 * with a market's decimals or multiplied exactly (BigInt), never through a float. */
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
  window.Platform = {api: api, cell: cell, price: price, multiply: multiply,
                     changePercent: changePercent};
})();
