// Settings sections: provider credentials, carrier accounts and phone numbers, webhooks with
// their deliveries, tool secrets. Writes need the admin role; members only read.
import { useState } from "preact/hooks";
import { api, openapiDoc } from "./api.js";
import { html, useLoad, ErrorNote, Loading, can, fmtDate, formData } from "./ui.js";
import { NeedsRole } from "./settings.js";

function useAction(reload) {
  const [error, setError] = useState(null);
  const run = async (fn) => { try { await fn(); setError(null); reload?.(); return true; } catch (e) { setError(e); return false; } };
  return [error, run];
}

// Names the API accepts, read from its own OpenAPI description (no list kept here).
async function openapiEnum(schema, field) {
  const doc = await openapiDoc().catch(() => null);
  const prop = doc?.components?.schemas?.[schema]?.properties?.[field] || {};
  if (prop.enum) return prop.enum;
  const match = /One of: (.*)$/.exec(prop.description || "");
  return match ? match[1].split(",").map((s) => s.trim()) : [];
}

function table(headers, rows, empty = "None yet.") {
  if (!rows.length) return html`<p class="hint">${empty}</p>`;
  return html`<div class="table-wrap" tabindex="0"><table><thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

export function Providers({ me }) {
  const creds = useLoad(() => api("/api/v1/provider-credentials"), []);
  const [error, run] = useAction(creds.reload);
  const admin = can.manage(me.role);
  const save = (event) => {
    const data = formData(event);
    const form = event.target;
    const body = { api_key: data.api_key };
    if (data.base_url) body.base_url = data.base_url;
    run(() => api(`/api/v1/provider-credentials/${encodeURIComponent(data.provider)}`, { method: "PUT", body })).then((ok) => ok && form.reset());
  };
  return html`<p class="hint">Keys for the speech and language providers your calls use. Keys are stored encrypted and never shown again.</p>
    ${admin ? html`<form class="row panel" onSubmit=${save} aria-label="Store a provider key">
      <label>Provider <select name="provider">${["deepgram", "openai", "elevenlabs", "cartesia"].map((p) => html`<option>${p}</option>`)}</select></label>
      <label>API key <input name="api_key" type="password" autocomplete="off" required /></label>
      <label>Base URL <span class="hint">optional</span><input name="base_url" type="url" /></label>
      <button type="submit">Save key</button></form>` : html`<${NeedsRole} role="admin" what="Changing provider keys" />`}
    <${ErrorNote} error=${error || creds.error} />
    ${creds.data ? (creds.data.length ? table(["Provider", "Key", "Base URL", "Updated", ""], creds.data.map((c) => html`<tr><td>${c.provider}</td><td><code>…${c.key_hint}</code></td><td>${c.base_url || "default"}</td><td>${fmtDate(c.updated_at)}</td>
      <td>${admin ? html`<button class="danger" onClick=${() => confirm(`Delete the ${c.provider} key?`) && run(() => api(`/api/v1/provider-credentials/${c.provider}`, { method: "DELETE" }))}>Delete</button>` : ""}</td></tr>`))
      : html`<p>No provider keys: calls run on the offline engines.</p>`) : html`<${Loading} />`}`;
}

export function Telephony({ me }) {
  const accounts = useLoad(() => api("/api/v1/carriers"), []);
  const numbers = useLoad(() => api("/api/v1/phone-numbers"), []);
  const carriers = useLoad(() => openapiEnum("CarrierAccountIn", "carrier"), []);
  const workflows = useLoad(() => api("/api/v1/workflows?limit=100"), []);
  const reload = () => { accounts.reload(); numbers.reload(); };
  const [error, run] = useAction(reload);
  const admin = can.manage(me.role);
  const addAccount = (event) => {
    const data = formData(event);
    const form = event.target;
    const credentials = Object.fromEntries(data.credentials.split("\n").map((l) => l.trim()).filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]));
    run(() => api("/api/v1/carriers", { method: "POST", body: { carrier: data.carrier, name: data.name, credentials } })).then((ok) => ok && form.reset());
  };
  const addNumber = (event) => {
    const data = formData(event);
    const form = event.target;
    const body = { number: data.number, carrier_account_id: data.carrier_account_id };
    if (data.workflow_id) body.workflow_id = data.workflow_id;
    if (data.label) body.label = data.label;
    run(() => api("/api/v1/phone-numbers", { method: "POST", body })).then((ok) => ok && form.reset());
  };
  const wfName = new Map((workflows.data?.items || []).map((w) => [w.id, w.name]));
  return html`<${ErrorNote} error=${error || accounts.error || numbers.error} />
    <h2>Carrier accounts</h2>
    ${admin ? html`<form class="stack panel" onSubmit=${addAccount} aria-label="Add a carrier account">
      <div class="row"><label>Carrier <select name="carrier">${(carriers.data || []).map((c) => html`<option>${c}</option>`)}</select></label>
      <label>Name <input name="name" required maxlength="200" /></label></div>
      <label>Credentials <span class="hint">One <code>name=value</code> per line, as the carrier calls them (write-only).</span>
        <textarea name="credentials" rows="3" required spellcheck="false"></textarea></label>
      <button type="submit">Add account</button></form>` : html`<${NeedsRole} role="admin" what="Adding carrier accounts and numbers" />`}
    ${accounts.data ? table(["Carrier", "Name", "Account", "Created", ""], accounts.data.map((a) => html`<tr><td>${a.carrier}</td><td>${a.name}</td><td>${a.account_hint || ""}</td><td>${fmtDate(a.created_at)}</td>
      <td>${admin ? html`<button class="danger" onClick=${() => confirm(`Delete ${a.name}?`) && run(() => api(`/api/v1/carriers/${a.id}`, { method: "DELETE" }))}>Delete</button>` : ""}</td></tr>`)) : html`<${Loading} />`}
    <h2>Phone numbers</h2>
    ${admin && accounts.data?.length ? html`<form class="row panel" onSubmit=${addNumber} aria-label="Add a phone number">
      <label>Number (E.164) <input name="number" required placeholder="+14155550100" /></label>
      <label>Account <select name="carrier_account_id">${accounts.data.map((a) => html`<option value=${a.id}>${a.name}</option>`)}</select></label>
      <label>Answers with <select name="workflow_id"><option value="">nothing</option>${(workflows.data?.items || []).map((w) => html`<option value=${w.id}>${w.name}</option>`)}</select></label>
      <label>Label <input name="label" maxlength="200" /></label>
      <button type="submit">Add number</button></form>` : admin ? html`<p class="hint">Add a carrier account first, then its numbers.</p>` : ""}
    ${numbers.data ? table(["Number", "Carrier", "Answers with", "Label", ""], numbers.data.map((n) => html`<tr><td>${n.number}</td><td>${n.carrier}</td>
      <td>${admin ? html`<label class="sr-only" for=${"wf-" + n.id}>Workflow answering ${n.number}</label>
        <select id=${"wf-" + n.id} value=${n.workflow_id || ""} onChange=${(e) => run(() => api(`/api/v1/phone-numbers/${n.id}`, { method: "PATCH", body: { workflow_id: e.target.value || null } }))}>
          <option value="">nothing</option>${(workflows.data?.items || []).map((w) => html`<option value=${w.id}>${w.name}</option>`)}</select>`
        : wfName.get(n.workflow_id) || "–"}</td><td>${n.label || ""}</td>
      <td>${admin ? html`<button class="danger" onClick=${() => confirm(`Delete ${n.number}?`) && run(() => api(`/api/v1/phone-numbers/${n.id}`, { method: "DELETE" }))}>Delete</button>` : ""}</td></tr>`)) : html`<${Loading} />`}`;
}

function Deliveries({ hook }) {
  const list = useLoad(() => api(`/api/v1/webhooks/${hook.id}/deliveries`), [hook.id]);
  if (list.error) return html`<${ErrorNote} error=${list.error} />`;
  if (!list.data) return html`<${Loading} />`;
  if (!list.data.length) return html`<p class="hint">No deliveries yet.</p>`;
  return table(["Event", "Status", "Attempts", "Created"], list.data.map((d) => html`<tr><td>${d.event}</td><td>${d.status}</td>
    <td>${d.attempts.map((a) => `#${a.attempt} ${a.status_code ?? a.error ?? ""} (${a.duration_ms} ms)`).join(" · ")}</td><td>${fmtDate(d.created_at)}</td></tr>`));
}

export function Webhooks({ me }) {
  const admin = can.manage(me.role);
  const hooks = useLoad(() => (admin ? api("/api/v1/webhooks") : Promise.resolve([])), []);
  const [secret, setSecret] = useState(null);
  const [open, setOpen] = useState(null);
  const [error, run] = useAction(hooks.reload);
  if (!admin) return html`<${NeedsRole} role="admin" what="Managing webhooks" />`;
  const add = (event) => {
    const data = formData(event);
    const form = event.target;
    const events = ["call.ended", "call.analyzed", "usage.threshold"].filter((e) => data[e]);
    run(async () => { setSecret(await api("/api/v1/webhooks", { method: "POST", body: { url: data.url, events, description: data.description || "" } })); form.reset(); });
  };
  return html`<form class="stack panel" onSubmit=${add} aria-label="Add a webhook">
      <label>URL <input name="url" type="url" required placeholder="https://example.com/hooks/switchboard" /></label>
      <fieldset class="row"><legend>Events</legend><label class="inline"><input type="checkbox" name="call.ended" checked /> call.ended</label>
        <label class="inline"><input type="checkbox" name="call.analyzed" /> call.analyzed</label>
        <label class="inline"><input type="checkbox" name="usage.threshold" /> usage.threshold</label></fieldset>
      <label>Description <input name="description" maxlength="500" /></label>
      <button type="submit">Add webhook</button></form>
    ${secret?.secret && html`<div class="notice" role="alert"><strong>Signing secret (shown once):</strong> <code class="secret">${secret.secret}</code></div>`}
    <${ErrorNote} error=${error || hooks.error} />
    ${hooks.data ? table(["URL", "Events", "Active", ""], hooks.data.map((h) => html`<tr><td>${h.url}<div class="hint">${h.description}</div></td><td>${h.events.join(", ")}</td><td>${h.active ? "yes" : "no"}</td>
      <td class="row"><button class="secondary" aria-expanded=${open === h.id} onClick=${() => setOpen(open === h.id ? null : h.id)}>Deliveries</button>
        <button class="secondary" onClick=${() => run(() => api(`/api/v1/webhooks/${h.id}`, { method: "PATCH", body: { active: !h.active } }))}>${h.active ? "Pause" : "Resume"}</button>
        <button class="secondary" onClick=${() => confirm("Issue a new signing secret? The old one stops working.") &&
          run(async () => setSecret(await api(`/api/v1/webhooks/${h.id}`, { method: "PATCH", body: { rotate_secret: true } })))}>Rotate secret</button>
        <button class="danger" onClick=${() => confirm(`Delete the webhook to ${h.url}?`) && run(() => api(`/api/v1/webhooks/${h.id}`, { method: "DELETE" }))}>Delete</button></td></tr>
      ${open === h.id ? html`<tr><td colspan="4"><${Deliveries} hook=${h} /></td></tr>` : ""}`)) : html`<${Loading} />`}`;
}

export function ToolSecrets({ me }) {
  const admin = can.manage(me.role);
  const secrets = useLoad(() => (admin ? api("/api/v1/tool-secrets") : Promise.resolve([])), []);
  const [error, run] = useAction(secrets.reload);
  if (!admin) return html`<${NeedsRole} role="admin" what="Managing tool secrets" />`;
  const save = (event) => {
    const data = formData(event);
    const form = event.target;
    run(() => api(`/api/v1/tool-secrets/${encodeURIComponent(data.name)}`, { method: "PUT", body: { value: data.value } })).then((ok) => ok && form.reset());
  };
  return html`<p class="hint">Values your workflow's HTTP tools use as <code>{{secret.NAME}}</code>; stored encrypted, never shown again.</p>
    <form class="row panel" onSubmit=${save} aria-label="Store a tool secret">
      <label>Name <input name="name" required /></label>
      <label>Value <input name="value" type="password" autocomplete="off" required /></label>
      <button type="submit">Save secret</button></form>
    <${ErrorNote} error=${error || secrets.error} />
    ${secrets.data ? table(["Name", "Hint", "Updated", ""], secrets.data.map((s) => html`<tr><td><code>${s.name}</code></td><td>${s.hint}</td><td>${fmtDate(s.updated_at)}</td>
      <td><button class="danger" onClick=${() => confirm(`Delete ${s.name}?`) && run(() => api(`/api/v1/tool-secrets/${encodeURIComponent(s.name)}`, { method: "DELETE" }))}>Delete</button></td></tr>`)) : html`<${Loading} />`}`;
}

export function AuditLog({ me }) {
  const admin = can.manage(me.role);
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(() => (admin ? api(`/api/v1/audit-log?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)
    : Promise.resolve(null)), [cursor]);
  const members = useLoad(() => api("/api/v1/organization/members"), []);
  if (!admin) return html`<${NeedsRole} role="admin" what="Reading the audit log" />`;
  const who = new Map((members.data || []).map((m) => [m.user_id, m.email]));
  return html`<${ErrorNote} error=${page.error} />
    ${page.data ? html`${page.data.items.length ? table(["When", "Who", "Action", "Target", "Details", "IP"], page.data.items.map((e) => html`<tr>
      <td>${fmtDate(e.created_at)}</td><td>${e.actor_user_id ? who.get(e.actor_user_id) || e.actor_user_id.slice(0, 8) : e.actor_api_key_id ? "API key" : "CLI"}</td>
      <td><code>${e.action}</code></td><td>${e.target_type} ${e.target_id.slice(0, 12)}</td>
      <td><code>${JSON.stringify(e.details)}</code></td><td>${e.ip || ""}</td></tr>`)) : html`<p>No entries yet.</p>`}
      <div class="row" style="margin-top:.75rem">
        <button class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
        <button class="secondary" disabled=${!page.data.next_cursor} onClick=${() => setCursors([...cursors, page.data.next_cursor])}>Older</button>
      </div>` : html`<${Loading} />`}`;
}
