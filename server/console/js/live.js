// Live: calls in progress with their transcript so far and a hang-up button. Polls the calls
// API every 2 s (turns are written as they complete, from any instance); not yet an event stream.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, ErrorNote, can, fmtTime, fmtDuration } from "./ui.js";

const POLL_MS = 2000;
const LIVE = ["in-progress", "ringing", "queued"];

async function liveCalls() {
  const pages = await Promise.all(LIVE.map((s) => api(`/api/v1/calls?status=${s}&limit=20`)));
  const calls = pages.flatMap((p) => p.items).filter((c) => !c.ended_at);
  return Promise.all(calls.map((c) => api(`/api/v1/calls/${c.id}`).catch(() => ({ ...c, turns: [] }))));
}

export function LivePage({ me }) {
  const [calls, setCalls] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    let timer = null;
    const tick = async () => {
      try { const next = await liveCalls(); if (live) { setCalls(next); setError(null); } } catch (e) { if (live) setError(e); }
      if (live) timer = setTimeout(tick, POLL_MS);
    };
    tick();
    return () => { live = false; clearTimeout(timer); };
  }, []);
  const hangup = async (id) => {
    try { await api(`/api/v1/calls/${id}/hangup`, { method: "POST" }); } catch (e) { setError(e); }
  };
  return html`<${Page} title="Live calls">
    <p class="hint">Calls in progress, refreshed every ${POLL_MS / 1000} s.</p>
    <${ErrorNote} error=${error} />
    ${calls && !calls.length ? html`<p>No calls in progress. Start one from the <${Link} href="/test">Test</${Link}> page.</p>` : ""}
    ${(calls || []).map((c) => html`<article class="panel" aria-label=${`Live call ${c.id}`}>
      <div class="row" style="justify-content: space-between">
        <div><strong>${c.channel} · ${c.direction}</strong> ${c.from_number || ""} ${c.to_number ? `→ ${c.to_number}` : ""}
          <div class="hint">${c.status} since ${fmtTime(c.answered_at || c.started_at)} (${fmtDuration((Date.now() - new Date(c.answered_at || c.started_at)) / 1000)})</div></div>
        <div class="row"><${Link} class="button secondary" href=${`/calls/${c.id}`}>Open</${Link}>
          ${can.manage(me.role) ? html`<button class="danger" onClick=${() => hangup(c.id)}>Hang up</button>` : ""}</div>
      </div>
      <ol class="transcript" aria-live="polite">${(c.turns || []).slice(-6).map((t) => html`<li class=${t.speaker}><span class="meta">${t.speaker} · ${fmtTime(t.started_at)}</span>${t.text}</li>`)}</ol>
    </article>`)}
  </${Page}>`;
}
