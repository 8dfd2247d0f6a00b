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

// The new-silence form's preview while one types (the Preview button shows
// the same, and the campaigns by name, on a page of its own, without
// JavaScript). Listened for on <main>, whose content the live update replaces;
// the answer is shown as text only.
(function () {
  "use strict";
  var main = document.getElementById("live");
  if (!main || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var timer = null;

  function show() {
    var form = document.getElementById("silence-new");
    var out = document.getElementById("silence-live-preview");
    if (!form || !out) { return; }
    var account = form.elements.account.value;
    // An account alone is that whole account, as the server reads the form.
    var campaign = form.elements.campaign.value || (account ? "*" : "");
    if (!campaign) { out.textContent = ""; return; }
    var query = new URLSearchParams({
      campaign: campaign,
      event_type: form.elements.event_type.value,
      account: account
    });
    fetch("/api/v1/silences/preview?" + query.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) {
        return answer.json().then(function (body) { return { ok: answer.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) { out.textContent = answer.body.error || ""; return; }
        var n = answer.body.campaigns.length;
        var held = answer.body.events_last_24h;
        out.textContent = "Matches " + n + " campaign" + (n === 1 ? "" : "s") + " now; would have held " +
          held + " event" + (held === 1 ? "" : "s") + " over the last 24 hours" +
          (answer.body.matches_every_campaign ? " (every campaign of every account)" : "") + ".";
      })
      .catch(function () { out.textContent = ""; });
  }

  function soon(event) {
    if (!event.target.closest || !event.target.closest("#silence-new")) { return; }
    clearTimeout(timer);
    timer = setTimeout(show, 250);
  }
  main.addEventListener("input", soon);
  main.addEventListener("change", soon);
})();

// Times: the page says how long ago ("3 min ago") and carries the exact
// instant; the title (shown on hover) becomes that instant in the viewer's
// own zone, and the words are kept current between live updates. Worded as
// the server words them (`relative` in src/http/board/mod.rs).
(function () {
  "use strict";
  var main = document.getElementById("live");
  if (!main || !window.Intl) {
    return;
  }
  var exact = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
    timeZoneName: "short"
  });

  function ago(at, now) {
    var seconds = Math.trunc((now - at) / 1000);
    var span = Math.abs(seconds);
    var amount;
    if (span < 60) { return seconds < 0 ? "in under a minute" : "just now"; }
    if (span < 3600) { amount = Math.floor(span / 60) + " min"; }
    else if (span < 172800) { amount = Math.floor(span / 3600) + " h"; }
    else { amount = Math.floor(span / 86400) + " days"; }
    return seconds < 0 ? "in " + amount : amount + " ago";
  }

  function localise() {
    var now = Date.now();
    var times = main.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var at = Date.parse(times[i].getAttribute("datetime"));
      if (isNaN(at)) { continue; }
      times[i].title = exact.format(new Date(at));
      times[i].textContent = ago(at, now);
    }
    main.setAttribute("data-times", "local");
  }

  localise();
  // A live update replaces main's content: localise what it brought.
  new MutationObserver(function (changes) {
    for (var i = 0; i < changes.length; i++) {
      if (changes[i].type === "childList" && changes[i].target === main) { localise(); return; }
    }
  }).observe(main, { childList: true });
  setInterval(localise, 30000);
})();
