// The Sluice console: plain DOM, no library, no build step. Every call carries the key from
// sessionStorage as its bearer key; the key is never put in a URL or written to the console.
"use strict";

const KEY = "sluice.key";
const KEEP = 500; // events held in memory for the live view
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

class Unauthorized extends Error {}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new Unauthorized("The key was refused.");
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const reason = (data && (data.message || data.error || data.detail)) || response.statusText;
    const error = new Error(`${response.status}: ${typeof reason === "string" ? reason : JSON.stringify(reason)}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function pretty(json) {
  try {
    return JSON.stringify(typeof json === "string" ? JSON.parse(json) : json, null, 2);
  } catch {
    return String(json);
  }
}

// ---- sign-in and sections ----

function showSignedIn(signedIn) {
  $("sign-in").hidden = signedIn;
  $("tabs").hidden = !signedIn;
  if (!signedIn) for (const id of ["live", "usage", "customers"]) $(id).hidden = true;
}

function showTab(name) {
  for (const button of document.querySelectorAll("#tabs [data-tab]")) {
    const on = button.dataset.tab === name;
    button.setAttribute("aria-pressed", String(on));
    $(button.dataset.tab).hidden = !on;
  }
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY);
  live.stop();
  showSignedIn(false);
  $("sign-in-error").textContent = message;
  $("api-key").focus();
}

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    await api("GET", "/v1/rejections?limit=1");
  } catch (error) {
    signOut(error instanceof Unauthorized ? "That key was refused." : `Cannot reach Sluice: ${error.message}`);
    return;
  }
  $("api-key").value = "";
  showSignedIn(true);
  showTab("live");
  live.start();
}

function failed(error, status) {
  if (error instanceof Unauthorized) signOut("The key was refused; sign in again.");
  else status.textContent = error.message;
}

// ---- live events ----

// One server-sent-events stream read with fetch (EventSource cannot send a header).
function parseMessages(buffer, onMessage) {
  buffer = buffer.replace(/\r\n/g, "\n");
  let end;
  while ((end = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    const message = { id: null, data: [] };
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // a keepalive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") message.id = value;
      else if (field === "data") message.data.push(value);
    }
    if (message.id !== null && message.data.length) onMessage(message); // keepalives carry no id
  }
  return buffer;
}

const live = {
  events: [], // newest first
  lastOffset: 0,
  controller: null,
  paused: false,
  retry: null,
  backoff: 1000,
  refusals: null,

  start() {
    this.events = [];
    this.lastOffset = 0;
    this.paused = false;
    $("pause").textContent = "Pause";
    this.render();
    this.connect();
    this.pollRejections();
  },

  stop() {
    clearTimeout(this.retry);
    clearTimeout(this.refusals);
    this.refusals = null;
    if (this.controller) this.controller.abort();
    this.controller = null;
  },

  togglePause() {
    this.paused = !this.paused;
    $("pause").textContent = this.paused ? "Resume" : "Pause";
    if (this.paused) {
      this.stop();
      this.status("Paused");
    } else {
      this.connect();
      this.pollRejections();
    }
  },

  status(text) {
    $("stream-status").textContent = text;
  },

  async connect() {
    clearTimeout(this.retry);
    const controller = new AbortController();
    this.controller = controller;
    try {
      const response = await fetch(`/v1/events/stream?after=${this.lastOffset}`, {
        headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}`, Accept: "text/event-stream" },
        signal: controller.signal,
      });
      if (response.status === 401) throw new Unauthorized();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.status(`Live from offset ${this.lastOffset}`);
      this.backoff = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = parseMessages(buffer + value, (message) => this.receive(message));
      }
      throw new Error("the stream ended");
    } catch (error) {
      if (controller.signal.aborted) return; // paused or signed out
      if (error instanceof Unauthorized) return signOut("The key was refused; sign in again.");
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, 10000);
      this.status(`Disconnected (${error.message}); reconnecting from offset ${this.lastOffset}`);
      this.retry = setTimeout(() => this.connect(), wait);
    }
  },

  receive(message) {
    const offset = Number(message.id);
    if (!(offset > this.lastOffset)) return; // already shown
    this.lastOffset = offset;
    this.events.unshift(JSON.parse(message.data.join("\n")));
    if (this.events.length > KEEP) this.events.length = KEEP;
    this.scheduleRender();
  },

  scheduleRender() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.render();
    });
  },

  filters() {
    return {
      source: $("filter-source").value,
      name: $("filter-name").value.trim(),
      customer: $("filter-customer").value.trim(),
    };
  },

  render() {
    const { source, name, customer } = this.filters();
    const select = $("filter-source");
    const known = new Set([...select.options].map((option) => option.value));
    for (const event of this.events) {
      if (!known.has(event.source)) {
        known.add(event.source);
        select.append(el("option", { value: event.source }, event.source));
      }
    }
    const shown = this.events.filter(
      (event) =>
        (!source || event.source === source) &&
        (!name || event.name.includes(name)) &&
        (!customer || event.customerAlias.includes(customer)),
    );
    const list = $("events");
    const open = new Set([...list.querySelectorAll("details[open]")].map((node) => node.dataset.offset));
    list.replaceChildren(
      ...shown.map((event) => {
        const details = el(
          "details",
          { "data-offset": event.id },
          el("summary", {}, `${event.timestamp} · ${event.source} · ${event.name} · ${event.customerAlias} · ${event.ref}`),
          el("pre", {}, pretty(event)),
        );
        details.open = open.has(event.id);
        return el("li", { class: "event" }, details);
      }),
    );
    $("event-count").textContent = `(${shown.length} of ${this.events.length})`;
    renderRejections();
  },

  async pollRejections() {
    clearTimeout(this.refusals);
    try {
      const body = await api("GET", "/v1/rejections?limit=100");
      rejections = body.rejections;
      renderRejections();
    } catch (error) {
      if (error instanceof Unauthorized) return signOut("The key was refused; sign in again.");
    }
    if (!this.paused && sessionStorage.getItem(KEY)) {
      this.refusals = setTimeout(() => this.pollRejections(), 1000);
    }
  },
};

let rejections = [];

function renderRejections() {
  const { source, name } = live.filters();
  const shown = rejections.filter(
    (refusal) => (!source || refusal.source === source) && (!name || refusal.name.includes(name)),
  );
  $("rejections").replaceChildren(
    ...shown.map((refusal) =>
      el(
        "li",
        { class: "rejection" },
        el(
          "details",
          {},
          el(
            "summary",
            {},
            `${refusal.at} · ${refusal.source} · ${refusal.name || "(no name)"} · ${refusal.reason}: `,
            el("span", { class: "reason" }, `${refusal.message}${refusal.field ? ` (field ${refusal.field})` : ""}`),
          ),
          el("p", {}, `request ${refusal.requestId}`),
          el("pre", {}, pretty(refusal.event)),
        ),
      ),
    ),
  );
  $("rejection-count").textContent = `(${shown.length})`;
}

// ---- usage ----

const DAY_MS = 86400000;
const isoDay = (date) => date.toISOString().slice(0, 10);

// A stored meter as an inline meter of the usage query; null if its filter cannot be one.
const INLINE = { Equals: "eq", DoesntEqual: "neq", LargerThan: "gt", LargerEqualTo: "gte", LowerThan: "lt", LowerEqualTo: "lte" };
function inlineMeter(meter) {
  const { operator, field } = meter.aggregationMethod;
  const inline = { key: meter.name, eventName: meter.eventName, aggregation: field ? { operator, field } : { operator } };
  const conditions = (meter.filter && meter.filter.conditions) || [];
  if (conditions.length > 1) return null;
  const filters = [];
  for (const criterion of conditions.length ? conditions[0].criterions : []) {
    if (!INLINE[criterion.operator]) return null;
    filters.push({ field: criterion.field, operator: INLINE[criterion.operator], value: criterion.value });
  }
  if (filters.length) inline.filters = filters;
  return inline;
}

function barChart(title, days, values) {
  const width = 640, height = 180, pad = 24;
  const max = Math.max(...values, 0) || 1;
  const step = (width - 2 * pad) / Math.max(days.length, 1);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  const attrs = (node, map) => {
    for (const [name, value] of Object.entries(map)) node.setAttribute(name, value);
    return node;
  };
  attrs(svg, { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title} per day`, class: "chart" });
  const ns = (tag) => document.createElementNS("http://www.w3.org/2000/svg", tag);
  days.forEach((day, i) => {
    const h = ((height - 2 * pad) * values[i]) / max;
    const x = pad + i * step + step * 0.1;
    const bar = attrs(ns("rect"), { x, y: height - pad - h, width: step * 0.8, height: h, "data-day": day, "data-value": values[i] });
    bar.append(attrs(ns("title"), {}));
    bar.lastChild.textContent = `${day}: ${values[i]}`;
    const label = attrs(ns("text"), { x: x + step * 0.4, y: height - pad - h - 4, "text-anchor": "middle", class: "value" });
    label.textContent = String(values[i]);
    const date = attrs(ns("text"), { x: x + step * 0.4, y: height - 6, "text-anchor": "middle" });
    date.textContent = day.slice(5);
    svg.append(bar, label, date);
  });
  return el("figure", { class: "usage-chart", "data-meter": title }, svg, el("figcaption", {}, title));
}

async function showUsage() {
  const status = $("usage-status");
  const customer = $("usage-customer").value.trim();
  const from = $("usage-from").value;
  const to = $("usage-to").value;
  status.textContent = "Loading…";
  $("usage-charts").replaceChildren();
  $("usage-table").hidden = true;
  try {
    const meters = (await api("GET", "/meters?limit=100")).meters || [];
    const inline = meters.map(inlineMeter).filter(Boolean);
    const skipped = meters.length - inline.length;
    if (!inline.length) {
      status.textContent = meters.length ? "No meter here can be charted (their filters need the meters API)." : "No meters yet: create one with POST /meters.";
      return;
    }
    const end = new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS);
    const body = await api("POST", "/v2/events/aggregation", {
      customerId: customer,
      period: { startTime: `${from}T00:00:00Z`, endTime: end.toISOString() },
      meters: inline,
      groupBy: "day",
      fillDates: true,
    });
    const days = body.dataPoints.map((point) => point.group.slice(0, 10));
    const keys = inline.map((meter) => meter.key);
    const column = (key) => body.dataPoints.map((point) => Number(point.values[key] || 0));
    $("usage-charts").replaceChildren(...keys.map((key) => barChart(key, days, column(key))));
    const table = $("usage-table");
    table.tHead.replaceChildren(el("tr", {}, el("th", { scope: "col" }, "Day"), ...keys.map((key) => el("th", { scope: "col" }, key))));
    table.tBodies[0].replaceChildren(
      ...body.dataPoints.map((point, i) =>
        el("tr", {}, el("th", { scope: "row" }, days[i]), ...keys.map((key) => el("td", {}, String(Number(point.values[key] || 0))))),
      ),
    );
    table.tFoot.replaceChildren(
      el(
        "tr",
        {},
        el("th", { scope: "row" }, "Total"),
        ...keys.map((key) => el("td", { "data-meter": key, class: "total" }, String(column(key).reduce((a, b) => a + b, 0)))),
      ),
    );
    table.hidden = false;
    status.textContent = `${customer}, ${from} to ${to}` + (skipped ? ` (${skipped} meter(s) with filters the query cannot express left out)` : "");
  } catch (error) {
    failed(error, status);
  }
}

function usageFor(customer) {
  const today = new Date();
  $("usage-customer").value = customer;
  $("usage-from").value = isoDay(new Date(today.getTime() - 6 * DAY_MS));
  $("usage-to").value = isoDay(today);
  showTab("usage");
  showUsage();
}

// ---- customers ----

async function allCustomers() {
  const found = [];
  let cursor = null;
  do {
    const page = await api("GET", `/v1/customers?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    found.push(...page.customers);
    cursor = page.nextCursor;
  } while (cursor && found.length < 10000);
  return found;
}

async function searchCustomers() {
  const status = $("customer-status");
  const query = $("customer-query").value.trim().toLowerCase();
  status.textContent = "Searching…";
  try {
    const customers = (await allCustomers()).filter((customer) =>
      [customer.id, customer.name, customer.email, ...(customer.aliases || [])].some((text) => text && String(text).toLowerCase().includes(query)),
    );
    status.textContent = `${customers.length} customer(s)`;
    $("customer-results").replaceChildren(
      ...customers.map((customer) => {
        const button = el("button", { type: "button" }, `${customer.id}${customer.name ? ` (${customer.name})` : ""}`);
        button.addEventListener("click", () => showCustomer(customer));
        return el("li", {}, button);
      }),
    );
  } catch (error) {
    failed(error, status);
  }
}

async function showCustomer(customer) {
  const detail = $("customer-detail");
  const since = new Date(Date.now() - 7 * DAY_MS).toISOString();
  const names = [...new Set([customer.id, ...(customer.aliases || [])])];
  const usage = el("button", { type: "button" }, "Usage of the last 7 days");
  usage.addEventListener("click", () => usageFor(customer.id));
  detail.replaceChildren(
    el("h3", {}, customer.id),
    el("dl", {}, el("dt", {}, "Name"), el("dd", {}, customer.name || "—"), el("dt", {}, "Email"), el("dd", {}, customer.email || "—"), el("dt", {}, "Aliases"), el("dd", {}, (customer.aliases || []).join(", ") || "—")),
    el("pre", {}, pretty(customer.attributes || {})),
    usage,
    el("h4", {}, "Latest events (last 7 days)"),
  );
  detail.hidden = false;
  try {
    const pages = await Promise.all(
      names.map((name) => api("GET", `/v2/events?customerAlias=${encodeURIComponent(name)}&startTime=${encodeURIComponent(since)}&limit=1000`)),
    );
    const events = pages.flatMap((page) => page.events).sort((a, b) => Number(b.id) - Number(a.id)).slice(0, 20);
    detail.append(
      events.length
        ? el("ol", { class: "rows" }, ...events.map((event) => el("li", { class: "event" }, el("details", {}, el("summary", {}, `${event.timestamp} · ${event.name} · ${event.ref}`), el("pre", {}, pretty(event))))))
        : el("p", {}, "No events in the last 7 days."),
    );
  } catch (error) {
    failed(error, $("customer-status"));
  }
}

// ---- wiring ----

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("api-key").value.trim());
  });
  $("sign-out").addEventListener("click", () => signOut());
  for (const button of document.querySelectorAll("#tabs [data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("pause").addEventListener("click", () => live.togglePause());
  $("live-filters").addEventListener("input", () => live.render());
  $("live-filters").addEventListener("submit", (event) => event.preventDefault());
  $("usage-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showUsage();
  });
  $("customer-search").addEventListener("submit", (event) => {
    event.preventDefault();
    searchCustomers();
  });
  const today = new Date();
  $("usage-from").value = isoDay(new Date(today.getTime() - 6 * DAY_MS));
  $("usage-to").value = isoDay(today);
  if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY));
  else showSignedIn(false);
});
