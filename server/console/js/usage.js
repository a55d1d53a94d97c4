// Usage per day or per workflow (GET /api/v1/usage), CSV export; Billing (not configured yet).
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, fmtNumber } from "./ui.js";

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

function csv(summary) {
  const rows = [["group", "kind", "provider", "quantity"]];
  for (const g of summary.groups) for (const l of g.lines) rows.push([g.key, l.kind, l.provider, l.quantity]);
  return rows.map((r) => r.map((v) => `"${String(v).replace(/"/g, '""')}"`).join(",")).join("\n") + "\n";
}

export function UsagePage() {
  const [groupBy, setGroupBy] = useState("day");
  const [days, setDays] = useState("30");
  const from = new Date(Date.now() - Number(days) * 86_400_000).toISOString();
  const usage = useLoad(() => api(`/api/v1/usage?group_by=${groupBy}&from=${encodeURIComponent(from)}`), [groupBy, days]);
  const workflows = useLoad(() => api("/api/v1/workflows?limit=100&include_archived=true"), []);
  const names = new Map((workflows.data?.items || []).map((w) => [w.id, w.name]));
  const download = () => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([csv(usage.data)], { type: "text/csv" }));
    a.download = `usage-${groupBy}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  const u = usage.data;
  return html`<${Page} title="Usage" actions=${u ? html`<button class="secondary" onClick=${download}>Export CSV</button>` : null}>
    <div class="row" style="margin-bottom: 1rem">
      <label>Group by <select value=${groupBy} onChange=${(e) => setGroupBy(e.target.value)}><option value="day">Day</option><option value="workflow">Workflow</option></select></label>
      <label>Period <select value=${days} onChange=${(e) => setDays(e.target.value)}><option value="7">Last 7 days</option><option value="30">Last 30 days</option><option value="90">Last 90 days</option></select></label>
    </div>
    <${ErrorNote} error=${usage.error} />
    ${!u ? html`<${Loading} />` : html`
      <div class="cards">${KINDS.map((k) => html`<div class="card"><div class="label">${k === "call_seconds" ? "call minutes" : k.replace(/_/g, " ")}</div><div class="value">${fmtNumber(k === "call_seconds" ? (u.totals[k] || 0) / 60 : u.totals[k] || 0, 1)}</div><div class="sub">${k === "call_seconds" ? `${fmtNumber(u.totals[k] || 0)} s` : ""}</div></div>`)}</div>
      ${u.groups.length ? html`<${Bars} groups=${u.groups} />
      <div class="table-wrap"><table><thead><tr><th scope="col">${groupBy === "day" ? "Day" : "Workflow"}</th><th scope="col" class="num">Calls</th><th scope="col" class="num">Minutes</th><th scope="col">By provider</th></tr></thead>
        <tbody>${u.groups.map((g) => html`<tr><td>${groupBy === "workflow" ? names.get(g.key) || g.key : g.key}</td><td class="num">${g.calls}</td>
          <td class="num">${fmtNumber((g.totals.call_seconds || 0) / 60, 1)}</td>
          <td>${g.lines.map((l) => `${l.kind.replace(/_/g, " ")} ${l.provider}: ${fmtNumber(l.quantity, 1)}`).join(" · ")}</td></tr>`)}</tbody></table></div>`
      : html`<p>No usage in this period.</p>`}
      <p class="hint">Quantities, not money: this server has no price list yet.</p>`}
  </${Page}>`;
}

export function BillingPage() {
  const org = useLoad(() => api("/api/v1/organization"), []);
  return html`<${Page} title="Billing">
    <${ErrorNote} error=${org.error} />
    ${org.data && html`<dl class="kv panel"><dt>Organization</dt><dd>${org.data.name}</dd><dt>Plan</dt><dd>${org.data.plan}</dd>
      <dt>Concurrent calls</dt><dd>${org.data.max_concurrent_calls}</dd></dl>`}
    <div class="notice warn" role="status">Billing is not configured on this server: there are no invoices,
      included minutes, Checkout or Portal yet. The <${Link} href="/usage">Usage</${Link}> page shows what your calls used.</div>
  </${Page}>`;
}
