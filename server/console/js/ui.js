// Shared bits: htm bound to Preact, navigation, formatting, small components.
import { h, render } from "preact";
import { useEffect, useState, useCallback } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);
export { render };

const routeListeners = new Set();
export function navigate(to, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", to); else history.pushState(null, "", to);
  for (const fn of routeListeners) fn();
  window.scrollTo(0, 0);
}
export function useLocation() {
  const [loc, setLoc] = useState(location.pathname + location.search);
  useEffect(() => {
    const update = () => setLoc(location.pathname + location.search);
    routeListeners.add(update);
    window.addEventListener("popstate", update);
    return () => { routeListeners.delete(update); window.removeEventListener("popstate", update); };
  }, []);
  return loc;
}

// A link that navigates without reloading; modifier-clicks behave as usual.
export function Link({ href, children, ...rest }) {
  const onClick = (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

// Load data once per key; returns {data, error, loading, reload}.
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const load = useCallback(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then((data) => live && setState({ data, error: null, loading: false }),
              (error) => live && setState({ data: null, error, loading: false }));
    return () => { live = false; };
  }, deps);
  useEffect(load, [load]);
  return { ...state, reload: load };
}

export function ErrorNote({ error }) {
  if (!error) return null;
  const details = (error.details || []).filter((d) => d && (d.message || d.field || d.pointer));
  return html`<div class="notice error" role="alert">
    <strong>${error.message || String(error)}</strong>
    ${details.length ? html`<ul>${details.map((d) => html`<li>${d.pointer || d.field ? html`<code>${d.pointer || d.field}</code> ` : ""}${d.message || d.code}</li>`)}</ul>` : ""}
  </div>`;
}

export function Loading({ what = "Loading" }) { return html`<p class="hint" role="status">${what}…</p>`; }

export function Page({ title, actions, children }) {
  useEffect(() => { document.title = `${title} · Switchboard`; }, [title]);
  return html`<section aria-labelledby="page-title">
    <div class="row" style="justify-content: space-between; align-items: center;">
      <h1 id="page-title" tabindex="-1">${title}</h1>
      ${actions ? html`<div class="row">${actions}</div>` : ""}
    </div>
    ${children}
  </section>`;
}

export const can = {
  // The API's role matrix: members read, admins manage, owners also manage roles.
  manage: (role) => role === "admin" || role === "owner",
  own: (role) => role === "owner",
};

export function fmtDate(value) {
  if (!value) return "";
  const d = new Date(value);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
export function fmtTime(value) {
  return value ? new Date(value).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "";
}
export function fmtDuration(seconds) {
  if (seconds == null) return "";
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}
export function fmtMs(value) { return value == null ? "–" : `${Math.round(value)} ms`; }
export function fmtNumber(value, digits = 0) {
  return value == null ? "–" : Number(value).toLocaleString(undefined, { maximumFractionDigits: digits });
}
export function fmtMoney(value, currency) {
  if (value == null) return "–";
  return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD", maximumFractionDigits: value && Math.abs(value) < 1 ? 4 : 2 }).format(value);
}
export function statusBadge(status) {
  const kind = status === "completed" ? "ok" : ["failed", "busy", "no-answer", "canceled"].includes(status) ? "bad" : "warn";
  return html`<span class="badge ${kind}">${status}</span>`;
}
export function percentile(values, p) {
  const sorted = values.filter((v) => v != null).sort((a, b) => a - b);
  if (!sorted.length) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}
export function formData(event) {
  event.preventDefault();
  return Object.fromEntries(new FormData(event.target).entries());
}
