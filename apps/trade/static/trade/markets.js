/* Market lists: the last price of every listed market and its change since the day's
 * open, live, with the market's decimals. */
(function () {
  "use strict";
  var rows = document.querySelectorAll("tr[data-symbol]");
  if (!rows.length) return;
  var stream = new PlatformStream();
  rows.forEach(function (row) {
    var last = row.querySelector('[data-field="last"]');
    var change = row.querySelector('[data-field="change"]');
    var places = +row.dataset.precision;
    stream.subscribe("ticker@" + row.dataset.symbol, function (quote) {
      last.textContent = Platform.price(quote.price, places);
      var pct = row.dataset.open ? Platform.changePercent(quote.price, row.dataset.open) : null;
      if (pct === null) return;
      change.textContent = pct + "%";
      change.className = "num" + (pct.charAt(0) === "-" ? " down" : /[1-9]/.test(pct) ? " up" : "");
    });
  });
})();
