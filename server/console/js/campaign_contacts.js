// A campaign's contacts: the upload (a CSV file, or JSON pasted) with the API's row-by-row
// report, and the table (state filter, number search, pages) with each attempt's call.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, ErrorNote, Loading, useLoad, fmtDate, fmtTime, fmtDuration } from "./ui.js";
import { CONTACT_STATES, contactBadge, detailText } from "./campaigns.js";

const REASONS = {
  invalid_number: "not an E.164 number", invalid_time_zone: "unknown time zone", duplicate: "duplicate",
  do_not_call: "on the do-not-call list", missing_variables: "missing required variables",
  invalid_variable: "invalid variable", malformed_row: "malformed row",
};
const EXAMPLE = "phone_number,time_zone,first_name\n+14155550101,America/Los_Angeles,Ana";

function Report({ report }) {
  const refused = report.received - report.imported;
  return html`<div class="panel import-report" role="status" data-testid="import-report">
    <p><strong data-testid="imported">${report.imported} of ${report.received} row${report.received === 1 ? "" : "s"} imported.</strong>
      ${refused ? ` ${refused} refused:` : " None refused."}</p>
    ${refused ? html`<ul class="features">${Object.entries(report.rejected).map(([code, n]) => html`<li><span class="badge bad">${n}</span> ${REASONS[code] || code} <code>${code}</code></li>`)}</ul>` : ""}
    ${report.errors.length ? html`<div class="table-wrap" tabindex="0"><table data-testid="rejected-rows" aria-label="Refused rows">
      <thead><tr><th scope="col" class="num">Row</th><th scope="col">Phone number</th><th scope="col">Reason</th><th scope="col">Details</th></tr></thead>
      <tbody>${report.errors.map((e) => html`<tr><td class="num">${e.row}</td><td>${e.phone_number || "–"}</td><td><code>${e.code}</code></td><td>${e.message}</td></tr>`)}</tbody>
    </table></div>` : ""}
    ${report.errors_truncated ? html`<p class="hint">Only the first ${report.errors.length} refused rows are listed; the counts above cover all of them.</p>` : ""}
    <p class="hint">Row 1 is the first contact (the line after the CSV header). Good rows were kept; fix the refused ones and upload them again.</p>
  </div>`;
}

export function AddContacts({ campaign, onImported }) {
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [fileError, setFileError] = useState(null);
  const [jsonError, setJsonError] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (body, contentType, onFieldError) => {
    setBusy(true); setError(null); setFileError(null); setJsonError(null); setReport(null);
    try {
      setReport(await api(`/api/v1/campaigns/${campaign.id}/contacts`, { method: "POST", body, contentType }));
      onImported();
      return true;
    } catch (e) {
      // a file the API cannot read at all (400 at "file"), or a JSON shape it refuses (422 at /body/contacts)
      if ((e.status === 400 || e.status === 413 || e.status === 422) && onFieldError) onFieldError(e.details[0]?.message ? `${e.message}: ${detailText(e.details[0])}` : e.message);
      else setError(e);
      return false;
    } finally { setBusy(false); }
  };
  const uploadCsv = async (event) => {
    event.preventDefault();
    const form = event.target;
    const file = form.file.files[0];
    if (!file) { setFileError("Choose a CSV file."); return; }
    if (await send(file, "text/csv", setFileError)) form.reset();
  };
  const addJson = async (event) => {
    event.preventDefault();
    const form = event.target;
    let parsed;
    try { parsed = JSON.parse(form.contacts.value); } catch (e) { setJsonError(`Not JSON: ${e.message}`); return; }
    const body = Array.isArray(parsed) ? { contacts: parsed } : parsed; // a bare list is the contacts
    if (await send(body, undefined, setJsonError)) form.reset();
  };
  return html`<section aria-labelledby="add-contacts-title">
    <h2 id="add-contacts-title">Add contacts</h2>
    <div class="grid2">
      <form class="panel stack" onSubmit=${uploadCsv} aria-label="Upload a CSV of contacts">
        <label>CSV file <span class="hint">a phone_number column, optional time_zone, other columns become variables</span>
          <input type="file" name="file" accept=".csv,text/csv" aria-invalid=${fileError ? "true" : undefined} aria-describedby=${fileError ? "file-error" : undefined} /></label>
        ${fileError ? html`<span class="field-error" id="file-error" role="alert">${fileError}</span>` : ""}
        <pre class="hint example">${EXAMPLE}</pre>
        <button type="submit" disabled=${busy}>Upload CSV</button>
      </form>
      <form class="panel stack" onSubmit=${addJson} aria-label="Add contacts as JSON">
        <label>Or paste JSON <span class="hint">[{"phone_number": "+14155550101", "time_zone": "America/Chicago", "variables": {"first_name": "Ana"}}]</span>
          <textarea name="contacts" rows="5" class="code-small" spellcheck="false" required
            aria-invalid=${jsonError ? "true" : undefined} aria-describedby=${jsonError ? "json-error" : undefined}></textarea></label>
        ${jsonError ? html`<span class="field-error" id="json-error" role="alert">${jsonError}</span>` : ""}
        <button type="submit" disabled=${busy}>Add from JSON</button>
      </form>
    </div>
    ${busy ? html`<p class="hint" role="status">Importing…</p>` : ""}
    <${ErrorNote} error=${error} />
    ${report ? html`<${Report} report=${report} />` : ""}
  </section>`;
}

// A pending contact's next attempt; the API answers year 1 (its "-infinity") for "as soon as possible".
function nextAttempt(contact, campaign) {
  if (!contact.next_attempt_at) return "";
  const at = new Date(contact.next_attempt_at);
  if (at.getUTCFullYear() < 1970 || at <= Date.now()) return campaign.state === "running" && contact.state === "pending" ? "due now" : "";
  return `next ${fmtDate(at)}`;
}

function Attempts({ calls }) {
  if (!calls.length) return html`<span class="hint">none</span>`;
  return html`<ol class="call-attempts">${calls.map((a) => html`<li>
    <${Link} href=${`/calls/${a.call_id}`}>Attempt ${a.attempt} · ${a.outcome || a.state}</${Link}>
    <span class="hint"> ${fmtTime(a.dialed_at)}${a.duration_seconds != null ? ` · ${fmtDuration(a.duration_seconds)}` : ""} · from ${a.caller_id}</span>
    ${a.extracted && Object.keys(a.extracted).length ? html`<div class="hint">${Object.entries(a.extracted).map(([k, v]) => html`<code>${k}</code>=${typeof v === "string" ? v : JSON.stringify(v)} `)}</div>` : ""}
  </li>`)}</ol>`;
}

export function Contacts({ campaign, fingerprint, filter, setFilter }) {
  const [number, setNumber] = useState("");
  // pages restart when the filter changes
  const key = `${filter}|${number}`;
  const [paging, setPaging] = useState({ key, cursors: [null] });
  const cursors = paging.key === key ? paging.cursors : [null];
  const setCursors = (next) => setPaging({ key, cursors: next });
  const cursor = cursors[cursors.length - 1];
  const params = new URLSearchParams({ limit: "25" });
  if (filter) params.set("state", filter);
  if (number) params.set("phone_number", number);
  if (cursor) params.set("cursor", cursor);
  const page = useLoad(() => api(`/api/v1/campaigns/${campaign.id}/contacts?${params}`), [params.toString(), fingerprint]);
  const search = (event) => { event.preventDefault(); setNumber(event.target.number.value.trim()); };
  return html`<section aria-labelledby="contacts-title">
    <h2 id="contacts-title">Contacts</h2>
    <form class="row" role="search" aria-label="Filter contacts" onSubmit=${search}>
      <label>State <select value=${filter} onChange=${(e) => setFilter(e.target.value)} data-testid="state-filter">
        <option value="">Any</option>${CONTACT_STATES.map((s) => html`<option>${s}</option>`)}</select></label>
      <label>Phone number <input name="number" type="search" inputmode="tel" placeholder="+14155550101" size="16" /></label>
      <button type="submit" class="secondary">Find</button>
    </form>
    <${ErrorNote} error=${page.error} />
    ${!page.data ? html`<${Loading} what="Loading contacts" />` : page.data.items.length ? html`<div class="table-wrap" tabindex="0"><table data-testid="contacts">
      <thead><tr><th scope="col" class="num">Row</th><th scope="col">Phone number</th><th scope="col">State</th><th scope="col" class="num">Attempts</th>
        <th scope="col">Attempts and calls</th><th scope="col">Next / finished</th><th scope="col">Variables</th></tr></thead>
      <tbody>${page.data.items.map((c) => html`<tr>
        <td class="num">${c.row}</td><td>${c.phone_number}<div class="hint">${c.time_zone}</div></td>
        <td>${contactBadge(c.state)}</td><td class="num">${c.attempts}</td>
        <td><${Attempts} calls=${c.calls} /></td>
        <td>${c.finished_at ? fmtDate(c.finished_at) : nextAttempt(c, campaign)}</td>
        <td>${Object.entries(c.variables).map(([k, v]) => html`<code>${k}</code>=${String(v)} `)}</td>
      </tr>`)}</tbody></table></div>`
      : html`<p>${filter || number ? "No contacts match." : "No contacts yet."}</p>`}
    ${page.data ? html`<div class="row" style="margin-top:.75rem">
      <button class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
      <button class="secondary" disabled=${!page.data.next_cursor} onClick=${() => setCursors([...cursors, page.data.next_cursor])}>Next</button>
    </div>` : ""}
  </section>`;
}
