// The reader's behaviour: keyboard shortcuts, read/star without a reload, mark read on
// open, local relative times. Every action also works without this script, as a form.
(function () {
  "use strict";

  const root = document.documentElement;
  root.classList.add("js");

  // --- talking to the server ---------------------------------------------------------

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function post(url) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    if (!response.ok) {
      throw new Error("POST " + url + " answered " + response.status);
    }
    return response.json();
  }

  // --- read and starred state --------------------------------------------------------

  function adjustCount(scope, delta) {
    document.querySelectorAll('[data-count="' + scope + '"]').forEach(function (badge) {
      const value = Math.max(0, (parseInt(badge.textContent, 10) || 0) + delta);
      badge.textContent = String(value);
      badge.classList.toggle("zero", value === 0);
    });
  }

  // The story's form posts to .../read or .../unread; its star button (formaction)
  // to .../star or .../unstar: keep both pointing at the next change.
  function updateForm(item) {
    const unread = item.classList.contains("unread");
    const starred = item.classList.contains("starred");
    const base = item.dataset.base;
    const form = item.querySelector("form.actions");
    if (!form) {
      return;
    }
    form.action = base + (unread ? "/read" : "/unread");
    form.querySelector(".toggle-read").textContent = unread ? "Mark read" : "Mark unread";
    const star = form.querySelector(".toggle-star");
    star.setAttribute("formaction", base + (starred ? "/unstar" : "/star"));
    star.textContent = starred ? "Unstar" : "Star";
  }

  function applyState(item, state) {
    const wasUnread = item.classList.contains("unread");
    const wasStarred = item.classList.contains("starred");
    item.classList.toggle("unread", state.unread);
    item.classList.toggle("starred", state.starred);
    if (wasUnread !== state.unread) {
      (item.dataset.scopes || "").split(" ").forEach(function (scope) {
        // The "Starred" entry counts starred stories, read or not.
        if (scope && scope !== "starred") {
          adjustCount(scope, state.unread ? 1 : -1);
        }
      });
    }
    if (wasStarred !== state.starred) {
      adjustCount("starred", state.starred ? 1 : -1);
    }
    updateForm(item);
  }

  // A visitor without a read state (a public server, not signed in) gets no forms:
  // nothing to post.
  function canMark(item) {
    return item.querySelector("form.actions") !== null;
  }

  function setRead(item, read) {
    if (!canMark(item)) {
      return Promise.resolve();
    }
    return post(item.dataset.base + (read ? "/read" : "/unread")).then(function (state) {
      applyState(item, state);
    });
  }

  function setStarred(item, starred) {
    if (!canMark(item)) {
      return Promise.resolve();
    }
    return post(item.dataset.base + (starred ? "/star" : "/unstar")).then(function (state) {
      applyState(item, state);
    });
  }

  function report(error) {
    const status = document.getElementById("status");
    if (status) {
      status.textContent = "Could not save: " + error.message;
    }
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    const item = form.closest("[data-base]");
    if (!form.matches("form.actions") || !item || form.dataset.plain) {
      return;
    }
    event.preventDefault();
    const button = event.submitter;
    const action = button && button.classList.contains("toggle-star")
      ? setStarred(item, !item.classList.contains("starred"))
      : setRead(item, item.classList.contains("unread"));
    action.catch(function () {
      form.dataset.plain = "yes"; // fall back to the plain form post
      form.requestSubmit(button);
    });
  });

  // --- relative times ----------------------------------------------------------------

  const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const UNITS = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];

  function relative(date, now) {
    const seconds = (date.getTime() - now) / 1000;
    const size = Math.abs(seconds);
    if (size < 60) {
      return "just now";
    }
    if (size >= 30 * 86400) {
      return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
    }
    for (const [unit, length] of UNITS) {
      if (size >= length) {
        return relativeFormat.format(Math.trunc(seconds / length), unit);
      }
    }
    return "";
  }

  function refreshTimes() {
    const now = Date.now();
    document.querySelectorAll("time[datetime]").forEach(function (element) {
      const date = new Date(element.getAttribute("datetime"));
      if (!isNaN(date.getTime())) {
        element.textContent = relative(date, now);
        element.title = date.toLocaleString();
      }
    });
  }

  // --- moving around -----------------------------------------------------------------

  let current = -1;

  function stories() {
    return Array.from(document.querySelectorAll("li.story"));
  }

  function select(index) {
    const items = stories();
    if (!items.length) {
      return null;
    }
    const chosen = Math.max(0, Math.min(index, items.length - 1));
    if (items[current]) {
      items[current].classList.remove("current");
    }
    current = chosen;
    const item = items[chosen];
    item.classList.add("current");
    item.scrollIntoView({ block: "nearest" });
    const title = item.querySelector(".title a");
    if (title) {
      title.focus({ preventScroll: true });
    }
    return item;
  }

  function selected() {
    const article = document.querySelector("article.item[data-base]");
    if (article) {
      return article;
    }
    const items = stories();
    return items[current] || select(0);
  }

  function follow(rel) {
    const link = document.querySelector('a[rel="' + rel + '"]');
    if (link) {
      window.location.href = link.href;
    }
  }

  function move(step) {
    if (document.querySelector("article.item")) {
      follow(step > 0 ? "next" : "prev"); // the story page: older / newer story
      return;
    }
    const items = stories();
    if (step > 0 && current >= items.length - 1 && current !== -1) {
      follow("next"); // past the last story: the next page
      return;
    }
    select(current === -1 ? 0 : current + step);
  }

  function openSelected() {
    const item = selected();
    if (item && item.dataset.href) {
      window.location.href = item.dataset.href;
    }
  }

  function openOriginal() {
    const item = selected();
    if (!item || !item.dataset.link) {
      return;
    }
    window.open(item.dataset.link, "_blank", "noopener,noreferrer");
    if (item.classList.contains("unread")) {
      setRead(item, true).catch(report);
    }
  }

  // --- help, menu and search ---------------------------------------------------------

  const help = document.getElementById("help");
  const helpToggle = document.querySelector(".help-toggle");
  const menuToggle = document.querySelector(".menu-toggle");
  const sidebar = document.getElementById("sidebar");

  function showHelp(show) {
    if (!help) {
      return;
    }
    help.hidden = !show;
    if (helpToggle) {
      helpToggle.setAttribute("aria-expanded", String(show));
    }
    if (show) {
      help.querySelector(".help-close").focus();
    }
  }

  if (helpToggle) {
    helpToggle.hidden = false;
    helpToggle.addEventListener("click", function () {
      showHelp(help.hidden);
    });
  }
  if (help) {
    help.querySelector(".help-close").addEventListener("click", function () {
      showHelp(false);
    });
    help.addEventListener("click", function (event) {
      if (event.target === help) {
        showHelp(false);
      }
    });
  }
  if (menuToggle && sidebar) {
    menuToggle.hidden = false;
    menuToggle.addEventListener("click", function () {
      const open = !sidebar.classList.contains("open");
      sidebar.classList.toggle("open", open);
      menuToggle.setAttribute("aria-expanded", String(open));
    });
  }

  function focusSearch() {
    const box = document.querySelector(".search-page input[name=q]") ||
      document.querySelector(".topbar input[name=q]");
    if (box) {
      box.focus();
      box.select();
    }
  }

  // --- keys --------------------------------------------------------------------------

  let pendingG = 0;

  function handleKey(key, target) {
    if (key === "Enter" && target.closest("a, button, summary, select")) {
      return false; // let the focused control do its own thing
    }
    if (pendingG && Date.now() - pendingG < 1500) {
      pendingG = 0;
      if (key === "a") {
        window.location.href = document.querySelector(".brand").href;
        return true;
      }
      return false;
    }
    pendingG = 0;
    switch (key) {
      case "j":
        move(1);
        return true;
      case "k":
        move(-1);
        return true;
      case "o":
      case "Enter":
        openSelected();
        return true;
      case "v":
        openOriginal();
        return true;
      case "m": {
        const chosen = selected();
        if (chosen) {
          setRead(chosen, chosen.classList.contains("unread")).catch(report);
        }
        return true;
      }
      case "s": {
        const chosen = selected();
        if (chosen) {
          setStarred(chosen, !chosen.classList.contains("starred")).catch(report);
        }
        return true;
      }
      case "/":
        focusSearch();
        return true;
      case "g":
        pendingG = Date.now();
        return true;
      case "?":
        showHelp(help.hidden);
        return true;
      default:
        return false;
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const target = event.target instanceof Element ? event.target : document.body;
    if (target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") {
        target.blur();
      }
      return;
    }
    if (event.key === "Escape" && help && !help.hidden) {
      showHelp(false);
      event.preventDefault();
      return;
    }
    if (handleKey(event.key, target)) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    const item = event.target.closest("li.story");
    if (item) {
      const index = stories().indexOf(item);
      if (index !== current) {
        const items = stories();
        if (items[current]) {
          items[current].classList.remove("current");
        }
        current = index;
        item.classList.add("current");
      }
    }
  });

  // --- on load -----------------------------------------------------------------------

  refreshTimes();
  window.setInterval(refreshTimes, 60 * 1000);

  if (window.location.hash.startsWith("#s")) {
    const target = document.getElementById(window.location.hash.slice(1));
    const index = stories().indexOf(target);
    if (index >= 0) {
      select(index);
    }
  }

  // Opening a story marks it read: a POST from here, so the page itself (a GET) never
  // changes state when it is prefetched, crawled or reloaded.
  const opened = document.querySelector('article.item[data-read-on-open="yes"]');
  if (opened) {
    setRead(opened, true).catch(report);
  }
})();
