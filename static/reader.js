// The reader's behaviour: keyboard shortcuts, read/star without a reload, mark read on
// open (and, as an option, on scroll), the reading pane on wide screens, the theme and
// density toggles, local relative times. Every action also works without this script,
// as a link or a form.
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
    if (scope === "all") {
      showUnreadInTitle();
    }
  }

  // The page's title starts with the unread count of all stories: "(12) All stories".
  function showUnreadInTitle() {
    const badge = document.querySelector('.sidebar [data-count="all"]');
    if (!badge) {
      return;
    }
    const unread = parseInt(badge.textContent, 10) || 0;
    const title = document.title.replace(/^\(\d+\) /, "");
    document.title = unread ? "(" + unread + ") " + title : title;
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

  // A story can be on the page twice (its row in the list and the reading pane): both
  // change, the counts once.
  function applyState(item, state) {
    const wasUnread = item.classList.contains("unread");
    const wasStarred = item.classList.contains("starred");
    const copies = document.querySelectorAll('[data-base][data-id="' + item.dataset.id + '"]');
    copies.forEach(function (copy) {
      copy.classList.toggle("unread", state.unread);
      copy.classList.toggle("starred", state.starred);
      updateForm(copy);
    });
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
    if (button && button.classList.contains("mark-older")) {
      return; // "this and older read": the plain form post, and the list comes back
    }
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
  const onStoryPage = document.body.classList.contains("page-story");
  const pane = document.getElementById("pane");
  const wide = window.matchMedia("(min-width: 1100px)");

  function stories() {
    return Array.from(document.querySelectorAll("li.story"));
  }

  function usePane() {
    return pane !== null && wide.matches;
  }

  // ``push``: the story goes into the reading pane and the URL follows (false when
  // the URL already names it: on load, and on back/forward).
  function select(index, push) {
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
    if (push !== false && usePane()) {
      showInPane(item, true).catch(report);
    }
    return item;
  }

  function selected() {
    if (onStoryPage) {
      return document.querySelector("article.item[data-base]");
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
    if (onStoryPage) {
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

  // --- the reading pane --------------------------------------------------------------

  // The list's URL with ?s=<story>: what a reload or back/forward shows.
  function paneUrl(storyId) {
    const url = new URL(pane.dataset.list, window.location.href);
    if (storyId) {
      url.searchParams.set("s", storyId);
    }
    return url.pathname + url.search;
  }

  let paneRequest = 0;
  let shownId = storyInUrl(); // the story in the pane, as the URL names it

  async function showInPane(item, push) {
    const id = item.dataset.id;
    const scope = item.closest("[data-scope]");
    const request = ++paneRequest;
    shownId = id;
    const query = scope ? "?in=" + encodeURIComponent(scope.dataset.scope) : "";
    if (push) {
      window.history.pushState({ story: id }, "", paneUrl(id));
    }
    const response = await fetch(item.dataset.base + "/pane" + query, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!response.ok) {
      throw new Error("the story answered " + response.status);
    }
    const html = await response.text();
    if (request !== paneRequest) {
      return; // a later j/k won
    }
    pane.innerHTML = html; // our own template's output; the CSP forbids inline script
    pane.scrollTop = 0;
    refreshTimes();
    const article = pane.querySelector("article.item");
    if (article && article.dataset.readOnOpen === "yes") {
      article.dataset.readOnOpen = "no";
      await setRead(article, true);
    }
  }

  function storyInUrl() {
    return new URLSearchParams(window.location.search).get("s");
  }

  // Back and forward: show the story the URL names. A jump within the page (the
  // skip link, #s<id>) changes no story and does nothing.
  window.addEventListener("popstate", function () {
    const id = storyInUrl();
    if (!pane || id === shownId) {
      return;
    }
    const row = id ? document.getElementById("s" + id) : null;
    if (row && row.matches("li.story")) {
      select(stories().indexOf(row), false);
      showInPane(row, false).catch(report);
    } else {
      window.location.reload(); // the list without a story, or another page's story
    }
  });

  // A click on a story's title opens it in the pane on wide screens (a new tab with
  // a modifier key, as usual).
  document.addEventListener("click", function (event) {
    const link = event.target.closest("li.story .title a");
    if (!link || !usePane() || event.button !== 0 || event.ctrlKey || event.metaKey ||
        event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    select(stories().indexOf(link.closest("li.story")));
  });

  // A list's "3 sources", opened, also shows the story's related stories (fetched
  // once; without the script its link leads to the story page, which has them).
  document.addEventListener("toggle", function (event) {
    const sources = event.target;
    if (!(sources instanceof HTMLDetailsElement) || !sources.matches("li.story .sources") ||
        !sources.open || sources.dataset.related) {
      return;
    }
    sources.dataset.related = "loading";
    const item = sources.closest("li.story");
    const scope = item.closest("[data-scope]");
    const query = scope ? "?in=" + encodeURIComponent(scope.dataset.scope) : "";
    fetch(item.dataset.base + "/related" + query, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("the related stories answered " + response.status);
      }
      return response.text();
    }).then(function (html) {
      sources.querySelector(".reports").insertAdjacentHTML("afterend", html);
      sources.dataset.related = "yes";
      refreshTimes();
    }).catch(function (error) {
      delete sources.dataset.related;
      report(error);
    });
  }, true);

  // --- mark read on scroll (an option, remembered in this browser) -------------------

  const scrollOption = document.querySelector(".scroll-read");
  const SCROLL_KEY = "aggregator.readOnScroll";
  let scrollWatcher = null;

  function watchScrolling(on) {
    if (scrollWatcher) {
      scrollWatcher.disconnect();
      scrollWatcher = null;
    }
    if (!on) {
      return;
    }
    // A story whose row has gone up past the top of the window was scrolled past.
    scrollWatcher = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        const item = entry.target;
        if (!entry.isIntersecting && entry.boundingClientRect.bottom <= 0 &&
            item.classList.contains("unread")) {
          setRead(item, true).catch(report);
        }
      });
    });
    stories().forEach(function (item) {
      scrollWatcher.observe(item);
    });
  }

  if (scrollOption) {
    const box = scrollOption.querySelector("input");
    scrollOption.hidden = false;
    box.checked = window.localStorage.getItem(SCROLL_KEY) === "yes";
    box.addEventListener("change", function () {
      window.localStorage.setItem(SCROLL_KEY, box.checked ? "yes" : "no");
      watchScrolling(box.checked);
    });
    watchScrolling(box.checked);
  }

  // --- preferences: theme and density ------------------------------------------------

  const THEMES = ["system", "light", "dark"];

  function savePreference(form, name, value) {
    const body = new URLSearchParams({ [name]: value });
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: body,
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("the preference answered " + response.status);
      }
    });
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    const button = event.submitter;
    if (!button || !(form.matches(".theme-form") || form.matches(".density-form"))) {
      return;
    }
    event.preventDefault();
    const name = button.name;
    const value = button.value;
    if (name === "theme") {
      root.dataset.theme = value;
      const next = THEMES[(THEMES.indexOf(value) + 1) % THEMES.length];
      button.value = next;
      button.dataset.theme = value;
      button.title = "Theme: " + value + " (next: " + next + ")";
      button.querySelector(".theme-name").textContent = value[0].toUpperCase() + value.slice(1);
      const scheme = document.querySelector('meta[name="color-scheme"]');
      scheme.content = value === "system" ? "light dark" : value;
    } else {
      root.dataset.density = value;
      button.value = value === "compact" ? "cards" : "compact";
      button.setAttribute("aria-pressed", String(value === "compact"));
      const chosen = document.querySelector("li.story.current");
      if (chosen) {
        chosen.scrollIntoView({ block: "nearest" });
      }
    }
    savePreference(form, name, value).catch(report);
  });

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
    if (event.defaultPrevented) {
      return; // opened in the pane: already selected
    }
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

  showUnreadInTitle();

  const named = storyInUrl();
  if (pane && named && document.getElementById("s" + named)) {
    // The story in the pane (rendered with the page): its row is the selected one.
    select(stories().indexOf(document.getElementById("s" + named)), false);
  } else if (window.location.hash.startsWith("#s")) {
    const target = document.getElementById(window.location.hash.slice(1));
    const index = stories().indexOf(target);
    if (index >= 0) {
      select(index, false);
    }
  }

  // Opening a story marks it read: a POST from here, so the page itself (a GET) never
  // changes state when it is prefetched, crawled or reloaded.
  const opened = document.querySelector('article.item[data-read-on-open="yes"]');
  if (opened) {
    setRead(opened, true).catch(report);
  }
})();
