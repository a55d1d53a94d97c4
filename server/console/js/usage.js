// Usage and its estimated cost per day, workflow or call (GET /api/v1/usage), the server's CSV export.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, fmtNumber, fmtMoney } from "./ui.js";

const KINDS = ["call_seconds", "stt_seconds", "llm_input_tokens", "llm_output_tokens", "tts_characters"];

function Bars({ groups }) {
  const values = groups.map((g) => (g.totals.call_seconds || 0) / 60);
  const max = Math.max(0.1, ...values);
  const width = 1000, height = 160, bw = Math.max(4, Math.min(40, (width - 40) / Math.max(1, groups.length) - 4));
  return html`<h2>Call minutes per ${groups.length && /^\d{4}-/.test(groups[0].key) ? "day" : "workflow"}</h2>
  <svg class="bars" viewBox="0 0 ${width} ${height}" role="img" aria-label="Call minutes per group">
    <text x="20" y="10">${fmtNumber(max, 1)} min</text>
    ${groups.map((g, i) => {
      const h = (values[i] / max) * (height - 30);
      const x = 20 + i * (bw + 4);
      return html`<g><rect x=${x} y=${height - 18 - h} width=${bw} height=${h}><title>${g.key}: ${fmtNumber(values[i], 1)} min</title></rect>
        ${groups.length <= 31 && /^\d{4}-/.test(g.key) ? html`<text x=${x + bw / 2} y=${height - 4} text-anchor="middle">${g.key.slice(-2)}</text>` : ""}</g>`;
    })}
  </svg>`;
}

// The server's CSV export (GET /api/v1/usage?format=csv), downloaded with this session's token.
async function downloadCsv(query, name) {
  const blob = await api(`/api/v1/usage?${query}&format=csv`, { blob: true });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function UsagePage() {
  const [groupBy, setGroupBy] = useState("day");
  const [days, setDays] = useState("30");
  const [error, setError] = useState(null);
  const [from] = useState(() => Date.now());
  const query = `group_by=${groupBy}&from=${encodeURIComponent(new Date(from - Number(days) * 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(from).toISOString())}`;
  const usage = useLoad(() => api(`/api/v1/usage?${query}`), [query]);
  const workflows = useLoad(() => api("/api/v1/workflows?limit=100&include_archived=true"), []);
  const names = new Map((workflows.data?.items || []).map((w) => [w.id, w.name]));
  const download = () => downloadCsv(query, `usage-${groupBy}.csv`).catch(setError);
  const u = usage.data;
  const label = { day: "Day", workflow: "Workflow", call: "Call" }[groupBy];
  const providers = (g) => g.lines.map((l) => `${l.kind.replace(/_/g, " ")} ${l.provider}${l.model ? "/" + l.model : ""}: ${fmtNumber(l.quantity, 1)}${l.cost ? ` (${fmtMoney(l.cost, u.currency)})` : ""}`).join(" · ");
  return html`<${Page} title="Usage" actions=${u ? html`<button class="secondary" onClick=${download}>Export CSV</button>` : null}>
    <div class="row" style="margin-bottom: 1rem">
      <label>Group by <select value=${groupBy} onChange=${(e) => setGroupBy(e.target.value)}><option value="day">Day</option><option value="workflow">Workflow</option><option value="call">Call</option></select></label>
      <label>Period <select value=${days} onChange=${(e) => setDays(e.target.value)}><option value="7">Last 7 days</option><option value="30">Last 30 days</option><option value="90">Last 90 days</option></select></label>
    </div>
    <${ErrorNote} error=${usage.error || error} />
    ${!u ? html`<${Loading} />` : html`
      <div class="cards"><div class="card"><div class="label">Estimated cost</div><div class="value" data-testid="usage-cost">${fmtMoney(u.cost, u.currency)}</div><div class="sub">${u.currency}</div></div>
        ${KINDS.map((k) => html`<div class="card"><div class="label">${k === "call_seconds" ? "call minutes" : k.replace(/_/g, " ")}</div><div class="value">${fmtNumber(k === "call_seconds" ? (u.totals[k] || 0) / 60 : u.totals[k] || 0, 1)}</div><div class="sub">${k === "call_seconds" ? `${fmtNumber(u.totals[k] || 0)} s` : ""}</div></div>`)}</div>
      ${u.groups.length ? html`${groupBy !== "call" ? html`<${Bars} groups=${u.groups} />` : ""}
      <div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">${label}</th><th scope="col" class="num">Calls</th><th scope="col" class="num">Minutes</th><th scope="col" class="num">Cost</th><th scope="col">By provider</th></tr></thead>
        <tbody>${u.groups.map((g) => html`<tr><td>${groupBy === "workflow" ? names.get(g.key) || g.key || "(no workflow)" : groupBy === "call" ? html`<${Link} href=${`/calls/${g.key}`}>${g.key.slice(0, 8)}</${Link}>` : g.key}</td><td class="num">${g.calls}</td>
          <td class="num">${fmtNumber((g.totals.call_seconds || 0) / 60, 1)}</td>
          <td class="num">${fmtMoney(g.cost, u.currency)}</td>
          <td>${providers(g)}</td></tr>`)}</tbody></table></div>`
      : html`<p>No usage in this period.</p>`}
      <p class="hint">Costs are estimates from this server's unit prices per provider (the PRICING setting); usage without a price counts as 0.</p>`}
  </${Page}>`;
}
