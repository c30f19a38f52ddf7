/* A depth@ stream's order book, kept as docs/STREAMING.md ("Order book streams") says:
 * a snapshot replaces the book, an update sets each listed level (amount "0" removes it),
 * each item must carry the next seq, and the book's checksum (CRC32 of
 * "b:<ticks>:<lots>,...;a:<ticks>:<lots>,..." over the top `levels` of each side, in
 * integer ticks and lots) must equal the item's. Anything else means the book is not the
 * engine's: `apply` answers "resync" and the page subscribes afresh for a new snapshot.
 * Prices and amounts stay decimal strings; arithmetic is exact (BigInt), never a float.
 * No DOM here: the page (market.js) draws it, and the tests run it in Node. */
(function () {
  "use strict";
  var CRC_TABLE = (function () {
    var table = [];
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
      table.push(c >>> 0);
    }
    return table;
  })();
  // CRC32 (zlib's) of an ASCII string, as an unsigned integer.
  function crc32(text) {
    var crc = 0xFFFFFFFF;
    for (var i = 0; i < text.length; i++) {
      crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xFF] ^ (crc >>> 8);
    }
    return (crc ^ 0xFFFFFFFF) >>> 0;
  }
  // A decimal string as [BigInt of its digits, number of decimals].
  function parse(text) {
    var parts = String(text).split("."), decimals = parts[1] || "";
    return [BigInt(parts[0] + decimals), decimals.length];
  }
  function scaled(x, scale) { return x[0] * 10n ** BigInt(scale - x[1]); }
  // How many `step`s make `text` (both decimal strings; the server sends exact multiples).
  function units(text, step) {
    var a = parse(text), b = parse(step), scale = Math.max(a[1], b[1]);
    return (scaled(a, scale) / scaled(b, scale)).toString();
  }
  function compare(a, b) {
    var x = parse(a), y = parse(b), scale = Math.max(x[1], y[1]);
    var d = scaled(x, scale) - scaled(y, scale);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  function isZero(text) { return parse(text)[0] === 0n; }

  function DepthBook() { this.reset(); }
  DepthBook.prototype.reset = function () {
    this.seq = null;
    this.bids = new Map();
    this.asks = new Map();
    this.sequence = null;
    this.resyncs = this.resyncs || 0;
  };
  // Levels best first: bids high to low, asks low to high; [price, amount] strings.
  DepthBook.prototype.levels = function (side, limit) {
    var book = side === "bids" ? this.bids : this.asks, sign = side === "bids" ? -1 : 1;
    var prices = Array.from(book.keys()).sort(function (a, b) { return sign * compare(a, b); });
    if (limit !== undefined) prices = prices.slice(0, limit);
    return prices.map(function (p) { return [p, book.get(p)]; });
  };
  DepthBook.prototype.checksum = function () {
    var self = this;
    function text(side, tag) {
      return self.levels(side, self.depth).map(function (level) {
        return tag + ":" + units(level[0], self.tick) + ":" + units(level[1], self.lot);
      }).join(",");
    }
    return crc32(text("bids", "b") + ";" + text("asks", "a"));
  };
  // Applies one frame of the stream ({seq, snapshot?, data}): "applied", "stale" (a repeat
  // of what the snapshot holds: dropped) or "resync" (a gap or a checksum mismatch: the
  // book is cleared and must be subscribed to again).
  DepthBook.prototype.apply = function (frame) {
    var data = frame.data, self = this;
    if (this.seq !== null && frame.seq <= this.seq) return "stale";
    var replaces = frame.snapshot || data.type === "snapshot";
    if (!replaces && (this.seq === null || frame.seq !== this.seq + 1)) return this.fail();
    if (replaces) {
      this.bids = new Map();
      this.asks = new Map();
    }
    this.tick = data.tick_size;
    this.lot = data.lot_size;
    this.depth = data.levels;
    [["bids", this.bids], ["asks", this.asks]].forEach(function (pair) {
      data[pair[0]].forEach(function (level) {
        if (isZero(level[1])) pair[1].delete(level[0]);
        else pair[1].set(level[0], level[1]);
      });
    });
    this.seq = frame.seq;
    this.sequence = data.sequence;
    if (self.checksum() !== data.checksum) return this.fail();
    return "applied";
  };
  DepthBook.prototype.fail = function () {
    this.resyncs += 1;
    this.reset();
    return "resync";
  };
  var exported = {DepthBook: DepthBook, crc32: crc32, units: units, compare: compare};
  if (typeof window !== "undefined") window.PlatformDepth = exported;
  if (typeof module !== "undefined") module.exports = exported;
})();
