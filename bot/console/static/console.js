// 工友助手 staff console: live counts, the live handoff list and conversation, countdowns.
// Short polling (no websocket, no CDN); every request carries the session cookie.
(function () {
  "use strict";
  function countdown(seconds) {
    var s = Math.abs(seconds), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var t = d ? d + " 天 " + h + " 小时" : h ? h + " 小时 " + m + " 分" : m + " 分钟";
    return seconds < 0 ? "超时 " + t : "剩 " + t;
  }
  function tickCountdowns() {
    document.querySelectorAll(".countdown[data-seconds]").forEach(function (el) {
      var left = parseInt(el.dataset.seconds, 10) - 30;
      el.dataset.seconds = left;
      el.textContent = countdown(left);
    });
  }
  function toast(text) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { el.hidden = true; }, 8000);
  }
  function setBadge(id, count) {
    var el = document.getElementById(id);
    if (!el) return 0;
    var before = parseInt(el.dataset.count || "0", 10);
    el.dataset.count = count;
    el.textContent = count;
    el.hidden = !count;
    return count - before;
  }
  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      if (r.status === 401 || r.redirected) { location.reload(); throw new Error("logged out"); }
      return r.json();
    });
  }
  function pollCounts() {
    getJSON("/console/live").then(function (data) {
      if (setBadge("alert-badge", data.unread) > 0 && data.latest) toast("新提醒：" + data.latest);
      if (setBadge("handoff-badge", data.waiting) > 0) toast("有职工在等待人工回复");
    }).catch(function () {});
  }
  function pollHandoffs(list) {
    fetch(list.dataset.feed, {credentials: "same-origin"}).then(function (r) { return r.text(); })
      .then(function (html) { list.innerHTML = html; }).catch(function () {});
  }
  function pollChat(chat) {
    getJSON(chat.dataset.feed + "?after=" + encodeURIComponent(chat.dataset.after || "")).then(function (data) {
      if (data.html) {
        chat.insertAdjacentHTML("beforeend", data.html);
        window.scrollTo(0, document.body.scrollHeight);
      }
      if (data.after) chat.dataset.after = data.after;
    }).catch(function () {});
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!document.body.dataset.csrf) return; // the log-in page
    setInterval(tickCountdowns, 30000);
    setInterval(pollCounts, 5000);
    var list = document.getElementById("handoff-list");
    if (list) setInterval(function () { pollHandoffs(list); }, 3000);
    var chat = document.getElementById("chat");
    if (chat) setInterval(function () { pollChat(chat); }, 2000);
  });
})();
