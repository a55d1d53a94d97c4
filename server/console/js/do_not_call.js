// The organization's do-not-call list (GET/POST/DELETE /api/v1/do-not-call): numbers no
// campaign dials. Members read it; admins add and remove numbers. Adding a number also stops
// its pending contacts in every campaign (they become opted-out).
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Page, useLoad, ErrorNote, Loading, can, fmtDate } from "./ui.js";
import { CampaignTabs, detailText } from "./campaigns.js";
import { NeedsRole } from "./settings.js";

const SOURCES = { api: "added here or over the API", opt_out: "asked in a call (opt_out)", import: "imported" };

export function DoNotCallPage({ me }) {
  const admin = can.manage(me.role);
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(() => api(`/api/v1/do-not-call?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`), [cursor]);
  const [error, setError] = useState(null);
  const [numberError, setNumberError] = useState(null);
  const [notice, setNotice] = useState(null);
  const add = async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { phone_number: form.phone_number.value.trim(), reason: form.reason.value.trim() };
    setError(null); setNumberError(null); setNotice(null);
    try {
      const row = await api("/api/v1/do-not-call", { method: "POST", body });
      setNotice(`${row.phone_number} is on the do-not-call list: campaigns will not call it.`);
      form.reset();
      setCursors([null]); page.reload();
    } catch (e) {
      const at = e.details.find((d) => d.pointer === "/body/phone_number");
      if (e.status === 422 && at) setNumberError(detailText(at)); else setError(e);
    }
  };
  const remove = async (row) => {
    if (!confirm(`Take ${row.phone_number} off the do-not-call list? Campaigns may call it again (contacts it stopped stay opted-out).`)) return;
    setNotice(null);
    try { await api(`/api/v1/do-not-call/${encodeURIComponent(row.phone_number)}`, { method: "DELETE" }); page.reload(); } catch (e) { setError(e); }
  };
  return html`<${Page} title="Do-not-call list">
    <${CampaignTabs} current="/campaigns/do-not-call" />
    <p class="hint">Numbers no campaign of this organization dials: imports refuse them, and adding one stops its pending contacts. A caller who asks not to be called again in a call (the workflow tool <code>opt_out</code>) is added automatically.</p>
    ${admin ? html`<form class="row panel dnc-form" onSubmit=${add} aria-label="Add a number to the do-not-call list">
      <label>Phone number <input name="phone_number" required inputmode="tel" placeholder="+14155550101"
        aria-invalid=${numberError ? "true" : undefined} aria-describedby=${numberError ? "dnc-number-error" : undefined} />
        ${numberError ? html`<span class="field-error" id="dnc-number-error">${numberError}</span>` : ""}</label>
      <label class="grow">Reason <span class="hint">optional</span><input name="reason" maxlength="500" /></label>
      <button type="submit">Add number</button>
    </form>` : html`<${NeedsRole} role="admin" what="Changing the do-not-call list" />`}
    ${notice ? html`<div class="notice" role="status">${notice}</div>` : ""}
    <${ErrorNote} error=${error || page.error} />
    ${!page.data ? html`<${Loading} />` : page.data.items.length ? html`<div class="table-wrap" tabindex="0"><table data-testid="do-not-call">
      <thead><tr><th scope="col">Number</th><th scope="col">Reason</th><th scope="col">Source</th><th scope="col">Added</th>${admin ? html`<th scope="col">Actions</th>` : ""}</tr></thead>
      <tbody>${page.data.items.map((r) => html`<tr><td>${r.phone_number}</td><td>${r.reason}</td><td>${SOURCES[r.source] || r.source}</td><td>${fmtDate(r.created_at)}</td>
        ${admin ? html`<td><button class="danger" aria-label=${`Remove ${r.phone_number}`} onClick=${() => remove(r)}>Remove</button></td>` : ""}</tr>`)}</tbody></table></div>`
      : html`<p>The list is empty.</p>`}
    ${page.data ? html`<div class="row" style="margin-top:.75rem">
      <button class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
      <button class="secondary" disabled=${!page.data.next_cursor} onClick=${() => setCursors([...cursors, page.data.next_cursor])}>Older</button>
    </div>` : ""}
  </${Page}>`;
}
