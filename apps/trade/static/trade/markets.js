/* Market lists: the last price of every listed market, live. */
(function () {
  "use strict";
  var rows = document.querySelectorAll("tr[data-symbol]");
  if (!rows.length) return;
  var stream = new PlatformStream();
  rows.forEach(function (row) {
    var cell = row.querySelector('[data-field="last"]');
    stream.subscribe("ticker@" + row.dataset.symbol, function (quote) {
      cell.textContent = quote.price;
    });
  });
})();
