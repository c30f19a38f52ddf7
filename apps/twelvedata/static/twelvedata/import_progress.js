/* The catalog imports' admin list: while a listed job is unfinished, ask the admin's
 * progress/ view every 2 s for the listed jobs and update their cells (the import runs in
 * a Celery worker, another process, and records its progress in the database). */
(function () {
  "use strict";
  var UNFINISHED = ["PENDING", "RUNNING"];
  function cells(field) {
    return Array.prototype.slice.call(document.querySelectorAll('[data-field="' + field + '"]'));
  }
  function unfinished() {
    return cells("status").some(function (c) { return UNFINISHED.indexOf(c.textContent) >= 0; });
  }
  function poll() {
    if (!unfinished()) return;
    var ids = cells("status").map(function (c) { return c.dataset.job; });
    var url = location.pathname.replace(/\/$/, "") + "/progress/?ids=" + ids.join(",");
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {jobs: []}; })
      .then(function (data) {
        data.jobs.forEach(function (job) {
          var sel = '[data-job="' + job.id + '"]';
          ["status", "created", "updated", "message"].forEach(function (field) {
            var cell = document.querySelector(sel + '[data-field="' + field + '"]');
            if (cell) cell.textContent = job[field];
          });
          var text = document.querySelector(sel + '[data-field="progress"]');
          if (text) text.textContent = job.progress + "%";
          var bar = document.querySelector(sel + '[data-field="progress-bar"]');
          if (bar) bar.value = job.progress;
        });
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  document.addEventListener("DOMContentLoaded", function () { setTimeout(poll, 2000); });
})();
