// campaign-watcher board: live updates. The daemon sends a "commit" event on
// /board/live whenever a cycle commits (or a delivery or silence changes);
// the page then fetches itself again and swaps the <main id="live"> content
// in place. Without JavaScript the page is a plain page (links, GET forms).
// Served as a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var state = document.getElementById("live-state");
  var main = document.getElementById("live");
  if (!state || !main || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var busy = false;
  var again = false;
  var missed = false;

  function refresh() {
    if (document.hidden) {
      missed = true;
      return;
    }
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (!answer.ok) { throw new Error("HTTP " + answer.status); }
        return answer.text();
      })
      .then(function (text) {
        var page = new DOMParser().parseFromString(text, "text/html");
        var fresh = page.getElementById("live");
        if (fresh) {
          // Keep the filter inputs someone is typing in.
          var active = document.activeElement;
          if (active && main.contains(active) && active.matches("input, select")) { return; }
          main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes).map(function (node) {
            return document.importNode(node, true);
          }));
          main.setAttribute("data-updated", String(Date.now()));
        }
      })
      .catch(function () { /* the next commit tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource(state.getAttribute("data-stream"));
  source.addEventListener("open", function () {
    state.textContent = "live";
    state.className = "live-state on";
  });
  source.addEventListener("error", function () {
    state.textContent = "reconnecting…";
    state.className = "live-state";
  });
  source.addEventListener("commit", refresh);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && missed) {
      missed = false;
      refresh();
    }
  });
})();
