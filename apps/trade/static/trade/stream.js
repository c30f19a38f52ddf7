/* A client for the platform's multiplexed WebSocket (/ws/, see docs/STREAMING.md):
 * subscribes to named streams, re-subscribes after a reconnect (with backoff), and hands
 * each data message to the handler registered for its stream. */
(function () {
  "use strict";
  function Stream(onState) {
    this.handlers = {};
    this.nextId = 1;
    this.backoff = 500;
    this.onState = onState || function () {};
    this.connect();
  }
  Stream.prototype.connect = function () {
    var self = this;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/");
    this.ws = ws;
    this.onState("connecting");
    ws.onopen = function () {
      self.backoff = 500;
      self.onState("live");
      var streams = Object.keys(self.handlers);
      if (streams.length) self.send({op: "subscribe", streams: streams});
    };
    ws.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg.op === "error") { self.onState("error: " + msg.message); return; }
      var handler = msg.stream && self.handlers[msg.stream];
      if (handler && msg.data !== undefined) handler(msg.data, msg);
    };
    ws.onclose = function () {
      self.onState("reconnecting");
      setTimeout(function () { self.connect(); }, self.backoff);
      self.backoff = Math.min(self.backoff * 2, 10000);
    };
  };
  Stream.prototype.send = function (frame) {
    frame.id = this.nextId++;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  };
  Stream.prototype.subscribe = function (stream, handler) {
    this.handlers[stream] = handler;
    this.send({op: "subscribe", streams: [stream]});
  };
  // Subscribe afresh (the server sends the stream's snapshot again): a depth@ client whose
  // book missed an item or disagrees with its checksum (see docs/STREAMING.md).
  Stream.prototype.resubscribe = function (stream) {
    this.send({op: "unsubscribe", streams: [stream]});
    this.send({op: "subscribe", streams: [stream]});
  };
  window.PlatformStream = Stream;
})();
