// Campaigns: the list (state and progress of each), the section tabs, and the bits the
// campaign pages share (state badges, the progress bar, ETA). The API lists campaigns without
// their progress, so the list asks GET /api/v1/campaigns/{id} for each one on the page.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, can, fmtDate, fmtNumber } from "./ui.js";

export const CONTACT_STATES = ["pending", "calling", "completed", "voicemail", "busy", "no-answer", "failed", "canceled", "opted-out"];
const FINAL = new Set(CONTACT_STATES.filter((s) => s !== "pending" && s !== "calling"));
export const POLL_MS = 3000;
// An API error detail as a sentence (pydantic's "Value error, " prefix dropped).
export const detailText = (d) => String(d?.message || d?.code || "").replace(/^Value error, /, "");

export function campaignBadge(state) {
  const kind = { running: "ok", completed: "ok", paused: "warn", canceled: "bad" }[state] || "";
  return html`<span class="badge ${kind}" data-testid="campaign-state">${state}</span>`;
}

export function contactBadge(state) {
  const kind = state === "completed" ? "ok" : ["failed", "busy", "no-answer", "opted-out"].includes(state) ? "bad" : state === "pending" ? "" : "warn";
  return html`<span class="badge ${kind}">${state}</span>`;
}

export function doneCount(progress) {
  return Object.entries(progress?.states || {}).reduce((n, [s, count]) => n + (FINAL.has(s) ? count : 0), 0);
}

// A campaign still moving: dialing, or calls in progress that will still change counts.
export function isLive(campaign) {
  return campaign?.state === "running" || (campaign?.progress?.states?.calling || 0) > 0;
}

// Contacts done of all, as a bar split by state (each segment's share of the contacts).
export function ProgressBar({ progress, label = "Contacts done" }) {
  const total = progress?.contacts || 0;
  const done = doneCount(progress);
  const pct = total ? Math.round((done / total) * 100) : 0;
  const shown = CONTACT_STATES.filter((s) => s !== "pending" && progress?.states?.[s]);
  return html`<div class="campaign-progress">
    <div class="stacked" role="progressbar" aria-label=${label} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct}
      aria-valuetext=${`${fmtNumber(done)} of ${fmtNumber(total)} contacts done (${pct} %)`}>
      ${shown.map((s) => html`<span class=${`seg st-${s}`} style=${`width:${(progress.states[s] / total) * 100}%`}></span>`)}
    </div>
    <span class="hint">${fmtNumber(done)} / ${fmtNumber(total)} done</span>
  </div>`;
}

export function fmtEta(seconds) {
  if (seconds == null) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function CampaignTabs({ current }) {
  const tabs = [["/campaigns", "Campaigns"], ["/campaigns/do-not-call", "Do-not-call list"]];
  return html`<nav class="tabs" aria-label="Campaign sections">${tabs.map(([href, label]) => html`<${Link} href=${href} aria-current=${current === href ? "page" : undefined}>${label}</${Link}>`)}</nav>`;
}

// Whether this organization's plan includes campaigns (GET /api/v1/billing features); unknown: yes.
export function usePlanAllowsCampaigns() {
  const billing = useLoad(() => api("/api/v1/billing").catch(() => null), []);
  return billing.data?.features?.campaigns !== false;
}

async function loadPage(cursor) {
  const params = new URLSearchParams({ limit: "20" });
  if (cursor) params.set("cursor", cursor);
  const page = await api(`/api/v1/campaigns?${params}`);
  // progress is only on a campaign's own GET: one request per campaign of this page
  const items = await Promise.all(page.items.map((c) => api(`/api/v1/campaigns/${c.id}`).catch(() => c)));
  return { ...page, items };
}

export function CampaignList({ me }) {
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(() => loadPage(cursor), [cursor]);
  const workflows = useLoad(() => api("/api/v1/workflows?limit=100&include_archived=true"), []);
  const allowed = usePlanAllowsCampaigns();
  const names = new Map((workflows.data?.items || []).map((w) => [w.id, w.name]));
  const live = (page.data?.items || []).some(isLive);
  useEffect(() => {
    if (!live) return undefined;
    const timer = setTimeout(page.reload, POLL_MS);
    return () => clearTimeout(timer);
  }, [page.data]);
  const actions = can.manage(me.role) && allowed ? html`<${Link} class="button" href="/campaigns/new">New campaign</${Link}>` : null;
  return html`<${Page} title="Campaigns" actions=${actions}>
    <${CampaignTabs} current="/campaigns" />
    ${!allowed ? html`<div class="notice warn" role="status">This organization's plan does not include campaigns. See <${Link} href="/billing">Billing</${Link}>.</div>` : ""}
    <${ErrorNote} error=${page.error} />
    ${page.loading && !page.data ? html`<${Loading} />` : page.data && html`
      ${page.data.items.length ? html`<div class="table-wrap" tabindex="0"><table data-testid="campaigns">
        <thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Workflow</th>
          <th scope="col" class="num">Attempts</th><th scope="col">Created</th></tr></thead>
        <tbody>${page.data.items.map((c) => html`<tr>
          <td><${Link} href=${`/campaigns/${c.id}`}>${c.name}</${Link}></td>
          <td>${campaignBadge(c.state)}</td>
          <td class="progress-cell">${c.progress ? html`<${ProgressBar} progress=${c.progress} label=${`${c.name}: contacts done`} />` : "–"}</td>
          <td>${names.get(c.workflow_id) || c.workflow_id.slice(0, 8)}</td>
          <td class="num">${fmtNumber(c.progress?.attempts)}</td>
          <td>${fmtDate(c.created_at)}</td>
        </tr>`)}</tbody></table></div>`
        : html`<p>No campaigns yet.${actions ? html` <${Link} href="/campaigns/new">Create one</${Link}>: a published workflow calls a list of contacts within your calling windows.` : ""}</p>`}
      <div class="row" style="margin-top:.75rem">
        <button class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
        <button class="secondary" disabled=${!page.data.next_cursor} onClick=${() => setCursors([...cursors, page.data.next_cursor])}>Older</button>
      </div>`}
  </${Page}>`;
}
