// Calls: the list with the filters the API offers (search in transcripts, status, workflow,
// direction, number, end reason, date range) and pages; the filters live in the URL.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, fmtDate, fmtDuration, statusBadge } from "./ui.js";

const STATUSES = ["queued", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled"];
const DIRECTIONS = ["inbound", "outbound", "browser"];
const END_REASONS = ["completed", "agent_ended", "caller_hangup", "caller_idle", "idle_timeout", "max_duration", "canceled", "error",
  "ended_by_api", "transferred", "voicemail", "concurrency_limit", "dial_failed", "never_connected", "busy", "no-answer", "failed"];
const FIELDS = ["q", "status", "workflow_id", "direction", "number", "end_reason", "from", "to"];

export function CallList() {
  const initial = new URLSearchParams(location.search);
  const [filters, setFilters] = useState(Object.fromEntries(FIELDS.map((k) => [k, initial.get(k) || ""])));
  const [cursors, setCursors] = useState([null]);
  const workflows = useLoad(() => api("/api/v1/workflows?limit=100&include_archived=true"), []);
  const params = new URLSearchParams({ limit: "25" });
  for (const [k, v] of Object.entries(filters)) if (v) params.set(k, k === "from" || k === "to" ? new Date(v).toISOString() : v);
  const cursor = cursors[cursors.length - 1];
  if (cursor) params.set("cursor", cursor);
  const page = useLoad(() => api(`/api/v1/calls?${params}`), [params.toString()]);
  const names = new Map((workflows.data?.items || []).map((w) => [w.id, w.name]));
  const apply = (event) => {
    event.preventDefault();
    const f = Object.fromEntries(new FormData(event.target).entries());
    setFilters(f); setCursors([null]);
    const shown = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
    history.replaceState(null, "", `/calls${shown.toString() ? "?" + shown : ""}`);
  };
  return html`<${Page} title="Calls">
    <form class="row panel" onSubmit=${apply} aria-label="Filter calls">
      <label class="grow">Search transcripts <input type="search" name="q" value=${filters.q} maxlength="200" placeholder='refund, "a phrase", -word' /></label>
      <label>Status <select name="status" value=${filters.status}><option value="">Any</option>${STATUSES.map((s) => html`<option>${s}</option>`)}</select></label>
      <label>Workflow <select name="workflow_id" value=${filters.workflow_id}><option value="">Any</option>
        ${(workflows.data?.items || []).map((w) => html`<option value=${w.id}>${w.name}</option>`)}</select></label>
      <label>Direction <select name="direction" value=${filters.direction}><option value="">Any</option>${DIRECTIONS.map((d) => html`<option>${d}</option>`)}</select></label>
      <label>Number <input name="number" value=${filters.number} inputmode="tel" pattern="\\+?[0-9]{1,20}" title="Digits of the from or to number" size="14" /></label>
      <label>End reason <select name="end_reason" value=${filters.end_reason}><option value="">Any</option>${END_REASONS.map((r) => html`<option>${r}</option>`)}</select></label>
      <label>From <input type="datetime-local" name="from" value=${filters.from} /></label>
      <label>To <input type="datetime-local" name="to" value=${filters.to} /></label>
      <button type="submit">Apply</button>
    </form>
    <${ErrorNote} error=${page.error} />
    ${page.loading && !page.data ? html`<${Loading} />` : page.data && html`
      ${page.data.items.length ? html`<div class="table-wrap" tabindex="0"><table data-testid="calls">
        <thead><tr><th scope="col">Started</th><th scope="col">Workflow</th><th scope="col">Channel</th><th scope="col">From → to</th>
          <th scope="col">Status</th><th scope="col" class="num">Duration</th><th scope="col">End reason</th></tr></thead>
        <tbody>${page.data.items.map((c) => html`<tr>
          <td><${Link} href=${`/calls/${c.id}`}>${fmtDate(c.started_at)}</${Link}>${c.test ? html` <span class="badge">test</span>` : ""}</td>
          <td>${names.get(c.workflow_id) || (c.workflow_id ? c.workflow_id.slice(0, 8) : "–")}${c.workflow_version ? ` v${c.workflow_version}` : ""}</td>
          <td>${c.channel} · ${c.direction}</td>
          <td>${c.from_number || "–"} → ${c.to_number || "–"}</td>
          <td>${statusBadge(c.status)}</td>
          <td class="num">${fmtDuration(c.duration_seconds)}</td>
          <td>${c.end_reason || ""}</td>
        </tr>`)}</tbody></table></div>` : html`<p>No calls match. Make one from the <${Link} href="/test">Test</${Link}> page.</p>`}
      <div class="row" style="margin-top:.75rem">
        <button class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
        <button class="secondary" disabled=${!page.data.next_cursor} onClick=${() => setCursors([...cursors, page.data.next_cursor])}>Older</button>
      </div>`}
  </${Page}>`;
}
