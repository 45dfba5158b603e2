// The web UI's only script (no build step, no library): the action buttons call the REST API
// with the CSRF header, and the status header is polled, fast while a sync runs.
"use strict";
(function () {
  var FAST_MS = 2000, SLOW_MS = 15000;
  var notice = document.getElementById("notice");
  var pending = null; // {history: entries before the action} until a new entry appears
  var timer = null;

  function say(text, isError) {
    notice.textContent = text;
    notice.className = isError ? "notice error" : "notice";
  }

  function status() { return document.getElementById("status"); }

  function act(button) {
    var url = button.getAttribute("data-url");
    var kind = button.getAttribute("data-action");
    var before = status() ? Number(status().getAttribute("data-history")) : 0;
    button.disabled = true;
    say(kind + " requested…");
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-GitOps-CSRF": "1"},
      body: button.getAttribute("data-body") || "{}"
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var data = {};
        try { data = JSON.parse(text); } catch (e) { data = {error: text}; }
        if (!resp.ok) {
          var why = data.error || data.message || resp.statusText;
          if (resp.status === 401) { why = "your session has expired: sign in again"; }
          if (resp.status === 403) { why = "not allowed: " + why; }
          throw new Error(why);
        }
        return data;
      });
    }).then(function () {
      button.disabled = false;
      if (kind === "pin") { say("pinned"); refresh(true); return; }  // unpin syncs: followed below
      pending = {history: before, kind: kind};
      say(kind + " requested: waiting for it to be applied…");
      schedule(0);
    }).catch(function (err) {
      button.disabled = false;
      say(kind + " failed: " + err.message, true);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (button && !button.disabled) { act(button); }
  });

  function fetchDoc(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}}).then(function (resp) {
      if (!resp.ok) { throw new Error(resp.status + " " + resp.statusText); }
      return resp.text();
    }).then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }

  // the rest of the page (the tree, the history...) once a new history entry is there
  function refreshContent() {
    var content = document.getElementById("content");
    if (!content) { return Promise.resolve(); }
    return fetchDoc(location.href).then(function (doc) {
      var fresh = doc.getElementById("content");
      if (fresh) { content.replaceWith(fresh); }
    });
  }

  function refresh(content) {
    var current = status();
    if (!current) { return; }
    var seen = Number(current.getAttribute("data-history"));
    fetchDoc(current.getAttribute("data-poll-url")).then(function (doc) {
      var fresh = doc.getElementById("status");
      if (!fresh) { return; }
      var focused = document.activeElement && current.contains(document.activeElement)
        ? document.activeElement.getAttribute("data-action") : null;
      current.replaceWith(fresh);
      if (focused) {
        var again = fresh.querySelector('button[data-action="' + focused + '"]');
        if (again) { again.focus(); }
      }
      var now = Number(fresh.getAttribute("data-history"));
      var running = fresh.getAttribute("data-running") === "true";
      if (pending && now > pending.history && !running) {
        say(pending.kind + " finished: history entry " + now);
        pending = null;
        content = true;
      }
      if (content || now !== seen) { return refreshContent(); }
    }).catch(function () { /* the next poll tries again */ }).then(function () { schedule(); });
  }

  function schedule(delay) {
    clearTimeout(timer);
    var current = status();
    if (!current) { return; }
    var busy = pending || current.getAttribute("data-running") === "true";
    if (delay === undefined) { delay = busy ? FAST_MS : SLOW_MS; }
    timer = setTimeout(function () {
      if (document.hidden) { schedule(); return; }
      refresh(false);
    }, delay);
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) { schedule(0); } });
  schedule();
})();
