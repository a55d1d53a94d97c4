// One campaign: progress (contacts per state, attempts, answer rate, minutes, cost when the
// API reports it, ETA), start/pause/resume/cancel for admins, its settings, the results CSV,
// contacts (campaign_contacts.js). Refreshed every few seconds while it dials or calls are up
// (the live event stream carries calls, not campaign progress).
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, can, fmtDate, fmtNumber, fmtMoney, fmtDuration } from "./ui.js";
import { CONTACT_STATES, POLL_MS, ProgressBar, campaignBadge, fmtEta, isLive } from "./campaigns.js";
import { Contacts, AddContacts } from "./campaign_contacts.js";

// The state changes each action makes (the API's rules; it answers 409 to any other).
const ACTIONS = [
  ["start", "Start", ["draft"], ""], ["pause", "Pause", ["running"], "secondary"],
  ["resume", "Resume", ["paused"], ""], ["cancel", "Cancel campaign", ["draft", "running", "paused"], "danger"],
];
const DAY_NAMES = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };

// cost may arrive as a number (with progress.currency) or as {amount, currency}
function costOf(progress, campaign) {
  const cost = progress?.cost;
  if (cost == null) return null;
  if (typeof cost === "object") return { amount: cost.amount ?? cost.total ?? cost.value, currency: cost.currency };
  return { amount: cost, currency: progress.currency || campaign.currency };
}

function inZone(value, zone) {
  if (!value) return "";
  try {
    return new Date(value).toLocaleString(undefined, { timeZone: zone, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  } catch (_) { return fmtDate(value); }
}

function Settings({ campaign, workflowName }) {
  const s = campaign.schedule;
  const windows = s.windows ? Object.entries(s.windows) : null;
  const vars = Object.entries(campaign.variables || {});
  return html`<dl class="kv panel" data-testid="campaign-settings">
    <dt>Workflow</dt><dd><${Link} href=${`/workflows/${campaign.workflow_id}`}>${workflowName || campaign.workflow_id}</${Link}></dd>
    <dt>Caller ids</dt><dd>${campaign.caller_ids.join(", ")}</dd>
    <dt>Pacing</dt><dd>${campaign.max_concurrent_calls} at once · ${campaign.calls_per_minute} dials per minute</dd>
    <dt>Dates</dt><dd>${s.starts_at || s.ends_at ? `${s.starts_at ? `from ${inZone(s.starts_at, s.time_zone)}` : ""} ${s.ends_at ? `until ${inZone(s.ends_at, s.time_zone)}` : ""}` : "no limits"}</dd>
    <dt>Windows</dt><dd>${!windows ? "any time" : windows.length ? windows.map(([d, ws]) => `${DAY_NAMES[d] || d} ${ws.map((w) => `${w.start.slice(0, 5)}–${w.end.slice(0, 5)}`).join(", ")}`).join(" · ") : "none (no calls)"}
      ${" "}<span class="hint">(${s.use_contact_time_zone ? `each contact's time zone, else ${s.time_zone}` : s.time_zone})</span></dd>
    <dt>Retries</dt><dd>${campaign.retry.max_attempts} attempt${campaign.retry.max_attempts > 1 ? "s" : ""}${campaign.retry.retry_on.length ? ` · again after ${campaign.retry.retry_on.join(", ")} · wait ${fmtDuration(campaign.retry.backoff_seconds)}${campaign.retry.backoff_multiplier > 1 ? ` ×${campaign.retry.backoff_multiplier} each time` : ""}` : " · no retries"}</dd>
    <dt>Voicemail</dt><dd>${campaign.voicemail.detect ? (campaign.voicemail.action === "message" ? `leave a message: “${campaign.voicemail.text}”` : "detected, hang up") : "not detected"}</dd>
    <dt>Shared variables</dt><dd>${vars.length ? vars.map(([k, v]) => html`<code>${k}</code>=${v} `) : "none"}</dd>
    <dt>Required per contact</dt><dd>${campaign.required_variables.length ? campaign.required_variables.map((v) => html`<code>${v}</code> `) : "none"}</dd>
  </dl>`;
}

function Progress({ campaign, onPick }) {
  const p = campaign.progress;
  if (!p) return html`<${Loading} what="Loading progress" />`;
  const cost = costOf(p, campaign);
  return html`<section class="panel" aria-labelledby="progress-title" data-testid="campaign-progress">
    <h2 id="progress-title" style="margin-top:0">Progress</h2>
    <${ProgressBar} progress=${p} />
    <ul class="state-counts" aria-label="Contacts per state">${CONTACT_STATES.map((s) => html`<li>
      <button type="button" class="link" data-state=${s} onClick=${() => onPick(s)}>
        <span class=${`swatch st-${s}`}></span>${s} <strong>${fmtNumber(p.states[s] || 0)}</strong><span class="sr-only"> contacts: list them</span></button></li>`)}</ul>
    <div class="cards compact">
      <div class="card"><div class="label">Contacts</div><div class="value" data-testid="contacts-total">${fmtNumber(p.contacts)}</div></div>
      <div class="card"><div class="label">Attempts</div><div class="value" data-testid="attempts">${fmtNumber(p.attempts)}</div><div class="sub">${fmtNumber(p.answered)} answered</div></div>
      <div class="card"><div class="label">Answer rate</div><div class="value" data-testid="answer-rate">${p.answer_rate == null ? "–" : `${fmtNumber(p.answer_rate * 100, 1)} %`}</div><div class="sub">of ended attempts</div></div>
      <div class="card"><div class="label">Minutes</div><div class="value">${fmtNumber(p.minutes, 1)}</div><div class="sub">call time so far</div></div>
      ${cost ? html`<div class="card"><div class="label">Estimated cost</div><div class="value" data-testid="campaign-cost">${fmtMoney(cost.amount, cost.currency)}</div><div class="sub">server's unit prices; unpriced: 0</div></div>` : ""}
      <div class="card"><div class="label">ETA</div><div class="value">${fmtEta(p.eta_seconds)}</div><div class="sub">${campaign.state === "running" ? "at the pace so far" : "while running"}</div></div>
    </div>
  </section>`;
}

async function downloadResults(campaign) {
  const blob = await api(`/api/v1/campaigns/${campaign.id}/results.csv`, { blob: true });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `campaign-${campaign.name.replace(/[^\w.-]+/g, "_")}.csv`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function CampaignPage({ id, me }) {
  const { data: campaign, error, reload } = useLoad(() => api(`/api/v1/campaigns/${id}`), [id]);
  const workflows = useLoad(() => api("/api/v1/workflows?limit=100&include_archived=true"), []);
  const [actionError, setActionError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [filter, setFilter] = useState("");
  const admin = can.manage(me.role);
  useEffect(() => {
    if (!isLive(campaign)) return undefined;
    const timer = setTimeout(reload, POLL_MS);
    return () => clearTimeout(timer);
  }, [campaign]);
  if (error) return html`<${Page} title="Campaign"><${ErrorNote} error=${error} /></${Page}>`;
  if (!campaign) return html`<${Page} title="Campaign"><${Loading} /></${Page}>`;
  const act = async (action, label) => {
    if (action === "cancel" && !confirm(`Cancel “${campaign.name}”? Contacts not yet called are not called; calls in progress finish.`)) return;
    setBusy(true); setActionError(null);
    try { await api(`/api/v1/campaigns/${id}/${action}`, { method: "POST" }); reload(); } catch (e) { setActionError({ ...e, message: `${label}: ${e.message}` }); }
    setBusy(false);
  };
  const actions = admin ? ACTIONS.filter(([, , from]) => from.includes(campaign.state)).map(([action, label, , kind]) => html`
    <button class=${kind} disabled=${busy || (action === "start" && !campaign.progress?.contacts)} onClick=${() => act(action, label)}>${label}</button>`) : null;
  const name = (workflows.data?.items || []).find((w) => w.id === campaign.workflow_id)?.name;
  // what the contacts table shows changes with the counts: it reloads when they move
  const fingerprint = JSON.stringify([campaign.progress?.states, campaign.progress?.attempts]);
  const pick = (state) => { setFilter(state); document.getElementById("contacts-title")?.scrollIntoView(); };
  return html`<${Page} title=${campaign.name} actions=${actions}>
    <p><${Link} href="/campaigns">← All campaigns</${Link}></p>
    <p class="row" style="align-items:center">${campaignBadge(campaign.state)}
      <span class="hint">created ${fmtDate(campaign.created_at)}${campaign.started_at ? ` · started ${fmtDate(campaign.started_at)}` : ""}${campaign.finished_at ? ` · finished ${fmtDate(campaign.finished_at)}` : ""}</span>
      ${isLive(campaign) ? html`<span class="hint" role="status">Refreshing every ${POLL_MS / 1000} s</span>` : ""}</p>
    ${admin && campaign.state === "draft" && !campaign.progress?.contacts ? html`<p class="hint">Add contacts below, then start the campaign.</p>` : ""}
    <${ErrorNote} error=${actionError} />
    <${Progress} campaign=${campaign} onPick=${pick} />
    <h2>Settings</h2>
    <${Settings} campaign=${campaign} workflowName=${name} />
    <h2>Results</h2>
    <p class="row" style="align-items:center"><button class="secondary" onClick=${() => downloadResults(campaign).catch(setActionError)}>Download results (CSV)</button>
      <span class="hint">one line per contact: state, attempts, last outcome and call, variables, extracted variables</span></p>
    ${admin && !["completed", "canceled"].includes(campaign.state) ? html`<${AddContacts} campaign=${campaign} onImported=${reload} />` : ""}
    <${Contacts} campaign=${campaign} fingerprint=${fingerprint} filter=${filter} setFilter=${setFilter} />
  </${Page}>`;
}
