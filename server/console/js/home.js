// Home: calls today, minutes this month, live calls, failures, p50/p95 voice-to-voice (24 h).
import { api } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, fmtMs, fmtNumber, fmtDate, statusBadge } from "./ui.js";

export function Home({ me }) {
  const summary = useLoad(() => api("/api/v1/console/summary"), []);
  const recent = useLoad(() => api("/api/v1/calls?limit=5"), []);
  // 00:00 UTC today, written in local time for the calls page's datetime-local filter.
  const today = new Date(); today.setUTCHours(0, 0, 0, 0);
  const local = new Date(today.getTime() - today.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  const s = summary.data;
  return html`<${Page} title="Home">
    <${ErrorNote} error=${summary.error || recent.error} />
    ${!s ? html`<${Loading} />` : html`<div class="cards" data-testid="summary">
      <${Link} class="card" href=${`/calls?from=${local}`}><div class="label">Calls today</div><div class="value">${s.calls_today}</div><div class="sub">since 00:00 UTC</div></${Link}>
      <${Link} class="card" href="/usage"><div class="label">Minutes this month</div><div class="value">${fmtNumber(s.minutes_this_period, 1)}</div><div class="sub">plan: ${s.plan || "none"}</div></${Link}>
      <${Link} class="card" href="/live"><div class="label">Live calls</div><div class="value">${s.live_calls}</div><div class="sub">not yet ended</div></${Link}>
      <${Link} class="card" href="/calls?status=failed"><div class="label">Failures today</div><div class="value">${s.failed_today}</div><div class="sub">status failed</div></${Link}>
      <div class="card"><div class="label">Voice-to-voice p50</div><div class="value">${fmtMs(s.voice_to_voice_p50_ms)}</div><div class="sub">last 24 h · ${s.voice_to_voice_turns} turns</div></div>
      <div class="card"><div class="label">Voice-to-voice p95</div><div class="value">${fmtMs(s.voice_to_voice_p95_ms)}</div><div class="sub">end of speech → first audio out</div></div>
    </div>`}
    <h2>Recent calls</h2>
    ${recent.data && (recent.data.items.length ? html`<ul>${recent.data.items.map((c) => html`<li><${Link} href=${`/calls/${c.id}`}>${fmtDate(c.started_at)}</${Link}> ${statusBadge(c.status)} ${c.channel}</li>`)}</ul>`
      : html`<p>No calls yet. <${Link} href="/workflows">Create a workflow</${Link}>, then call it from the <${Link} href="/test">Test</${Link}> page.</p>`)}
    <p class="hint">Signed in as ${me.email} (${me.role}).</p>
  </${Page}>`;
}
