// One call: summary, recording player with the turns on its timeline, transcript by speaker
// and time, latency waterfall, events, extracted variables, usage.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, can, fmtDate, fmtTime, fmtDuration, fmtMs, fmtNumber, fmtMoney, statusBadge } from "./ui.js";
import { Timeline, Waterfall } from "./charts.js";

function Player({ call }) {
  const [url, setUrl] = useState(null);
  const [error, setError] = useState(null);
  const [position, setPosition] = useState(0);
  const [duration, setDuration] = useState(call.duration_seconds || 0);
  const audio = useRef(null);
  useEffect(() => {
    if (!call.has_recording || !call.ended_at) return undefined;
    let objectUrl = null;
    api(`/api/v1/calls/${call.id}/recording`, { blob: true })
      .then((blob) => { objectUrl = URL.createObjectURL(blob); setUrl(objectUrl); }, setError);
    return () => { if (objectUrl) URL.revokeObjectURL(objectUrl); };
  }, [call.id]);
  // The recording starts with the caller's first audio, i.e. when the call was answered.
  const t0 = new Date(call.answered_at || call.started_at);
  const seek = (seconds) => {
    const el = audio.current;
    if (!el) return;
    el.currentTime = Math.max(0, seconds);
    el.play().catch(() => {});
  };
  return html`<div class="panel">
    <h2 style="margin-top:0">Recording</h2>
    ${!call.has_recording ? html`<p class="hint">This call was not recorded.</p>` : !call.ended_at ? html`<p class="hint">The recording is available when the call ends.</p>` : ""}
    <${ErrorNote} error=${error} />
    ${url && html`<audio ref=${audio} controls src=${url} style="width:100%" data-testid="recording"
      onTimeUpdate=${(e) => setPosition(e.target.currentTime)}
      onLoadedMetadata=${(e) => Number.isFinite(e.target.duration) && setDuration(e.target.duration)}></audio>`}
    ${call.turns.length > 0 && html`<div class="scroll-x" tabindex="0"><${Timeline} turns=${call.turns} t0=${t0} duration=${Math.max(duration, 1)} position=${position} onSeek=${seek} /></div>`}
    <p class="hint">Left channel: caller · right channel: agent. Click a turn to play from there.</p>
  </div>`;
}

function Transcript({ call }) {
  const t0 = new Date(call.answered_at || call.started_at);
  if (!call.turns.length) return html`<p class="hint">No transcript.</p>`;
  return html`<ol class="transcript" data-testid="transcript">${call.turns.map((t) => {
    const at = (new Date(t.started_at) - t0) / 1000;
    const text = t.speaker === "tool" && t.tool ? `${t.tool.name || "tool"}(${JSON.stringify(t.tool.arguments || {})}) → ${t.tool.error || t.tool.result || ""}` : t.text;
    return html`<li class=${t.speaker}><span class="meta">${t.speaker} · ${at.toFixed(1)} s · ${fmtTime(t.started_at)}${t.node ? ` · node ${t.node}` : ""}${t.interrupted ? " · interrupted" : ""}${t.latency ? ` · ${fmtMs(t.latency.first_audio_out_ms)} to first audio` : ""}</span>${text}</li>`;
  })}</ol>`;
}

function Kv({ value }) {
  const entries = Object.entries(value || {});
  if (!entries.length) return html`<p class="hint">None.</p>`;
  return html`<dl class="kv">${entries.map(([k, v]) => html`<dt>${k}</dt><dd>${v == null ? "–" : typeof v === "string" ? v : JSON.stringify(v)}</dd>`)}</dl>`;
}

function Deliveries({ id }) {
  const { data, error } = useLoad(() => api(`/api/v1/calls/${id}/webhook-deliveries`), [id]);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<${Loading} />`;
  if (!data.length) return html`<p class="hint">No webhook deliveries for this call (none subscribed to call.ended or call.analyzed, or not sent yet).</p>`;
  return html`<div class="table-wrap" tabindex="0"><table data-testid="deliveries"><thead><tr><th scope="col">Event</th><th scope="col">Endpoint</th><th scope="col">Status</th><th scope="col">Attempts</th></tr></thead>
    <tbody>${data.map((d) => html`<tr><td>${d.event}</td><td><code>${d.url}</code></td>
      <td><span class="badge ${d.status === "delivered" ? "ok" : d.status === "failed" ? "bad" : "warn"}">${d.status}</span></td>
      <td><ol class="attempts">${d.attempts.map((a) => html`<li>${fmtTime(a.at)}: ${a.status_code ? `HTTP ${a.status_code}` : a.error || "no answer"}${a.error && a.status_code ? ` (${a.error})` : ""} · ${a.duration_ms} ms</li>`)}</ol></td></tr>`)}</tbody></table></div>`;
}

export function CallPage({ id, me }) {
  const { data: call, error, reload } = useLoad(() => api(`/api/v1/calls/${id}`), [id]);
  const [actionError, setActionError] = useState(null);
  useEffect(() => {
    if (!call || call.ended_at) return undefined;
    const timer = setTimeout(reload, 2000); // still live: refresh until it ends
    return () => clearTimeout(timer);
  }, [call]);
  if (error) return html`<${Page} title="Call"><${ErrorNote} error=${error} /></${Page}>`;
  if (!call) return html`<${Page} title="Call"><${Loading} /></${Page}>`;
  const hangup = async () => {
    try { await api(`/api/v1/calls/${id}/hangup`, { method: "POST" }); reload(); } catch (e) { setActionError(e); }
  };
  const v2v = call.turns.map((t) => t.latency?.first_audio_out_ms).filter((v) => v != null);
  const actions = !call.ended_at && can.manage(me.role) ? html`<button class="danger" onClick=${hangup}>Hang up</button>` : null;
  return html`<${Page} title=${`Call ${fmtDate(call.started_at)}`} actions=${actions}>
    <p><${Link} href="/calls">← All calls</${Link}></p>
    <${ErrorNote} error=${actionError} />
    <div class="cards">
      <div class="card"><div class="label">Status</div><div class="value">${statusBadge(call.status)}</div><div class="sub">${call.end_reason || ""}</div></div>
      <div class="card"><div class="label">Duration</div><div class="value">${fmtDuration(call.duration_seconds) || "–"}</div></div>
      <div class="card"><div class="label">Turns</div><div class="value">${call.turns.length}</div><div class="sub">${call.turns.filter((t) => t.interrupted).length} interrupted</div></div>
      <div class="card"><div class="label">Estimated cost</div><div class="value" data-testid="call-cost">${fmtMoney(call.cost, call.currency)}</div></div>
      <div class="card"><div class="label">Voice-to-voice</div><div class="value">${v2v.length ? fmtMs(Math.min(...v2v)) : "–"}</div><div class="sub">${v2v.length ? `best · worst ${fmtMs(Math.max(...v2v))}` : "no agent turns"}</div></div>
    </div>
    <dl class="kv panel">
      <dt>Workflow</dt><dd>${call.workflow_id ? html`<${Link} href=${`/workflows/${call.workflow_id}`}>${call.workflow_version ? `version ${call.workflow_version}` : "draft"}</${Link}>` : "–"}${call.test ? " (test)" : ""}</dd>
      <dt>Channel</dt><dd>${call.channel} · ${call.direction}</dd>
      <dt>From → to</dt><dd>${call.from_number || "–"} → ${call.to_number || "–"}</dd>
      <dt>Agent engine</dt><dd>${call.engine || "–"}</dd>
      <dt>Started</dt><dd>${fmtDate(call.started_at)}${call.answered_at ? ` · answered ${fmtTime(call.answered_at)}` : ""}${call.ended_at ? ` · ended ${fmtTime(call.ended_at)}` : ""}</dd>
      <dt>Call id</dt><dd><code>${call.id}</code></dd>
    </dl>
    <${Player} call=${call} />
    <div class="grid2">
      <section><h2>Transcript</h2><${Transcript} call=${call} /></section>
      <section><h2>Latency per turn</h2><p class="hint">Milliseconds from the end of the caller's speech.</p><div class="scroll-x" tabindex="0"><${Waterfall} turns=${call.turns} /></div></section>
    </div>
    <div class="grid2">
      <section><h2>Summary and extracted variables</h2>
        ${call.summary ? html`<p>${call.summary}</p>` : html`<p class="hint">No summary (post-call analysis has not run for this call).</p>`}
        <${Kv} value=${call.extracted} />
        <h3>Input variables</h3><${Kv} value=${call.variables} /></section>
      <section><h2>Usage</h2>
        ${call.usage.length ? html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Kind</th><th scope="col">Provider</th><th scope="col">Model</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Cost</th></tr></thead>
          <tbody>${call.usage.map((u) => html`<tr><td>${u.kind}</td><td>${u.provider}</td><td>${u.model || ""}</td><td class="num">${fmtNumber(u.quantity, 2)}</td><td class="num">${fmtMoney(u.cost, call.currency)}</td></tr>`)}</tbody></table></div>`
          : html`<p class="hint">No usage recorded.</p>`}
        <p class="hint">Estimated from the server's unit prices (PRICING); unpriced usage counts as 0.</p></section>
    </div>
    <h2>Events</h2>
    ${call.events.length ? html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Time</th><th scope="col">Kind</th><th scope="col">Data</th></tr></thead>
      <tbody>${call.events.map((e) => html`<tr><td>${fmtTime(e.at)}</td><td>${e.kind}</td><td><code>${JSON.stringify(e.data)}</code></td></tr>`)}</tbody></table></div>`
      : html`<p class="hint">No events (failover, transfer, DTMF, handoffs) in this call.</p>`}
    ${can.manage(me.role) ? html`<h2>Webhook deliveries</h2><${Deliveries} key=${call.ended_at || "live"} id=${id} />` : ""}
  </${Page}>`;
}
