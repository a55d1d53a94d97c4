// A new campaign: name, workflow, caller ids (a carrier account, a pool of numbers),
// schedule (dates, calling windows per weekday, time zone), pacing, retry and voicemail
// policies, shared variables. The API's 422 details point at what is wrong (RFC 6901,
// "/body/schedule/windows/mon/0/end"); each is shown at the field that edits that pointer or,
// as the workflow editor does, at its nearest parent that has a field.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, navigate, can } from "./ui.js";
import { CampaignTabs, detailText } from "./campaigns.js";

const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];
const RETRY_OUTCOMES = ["busy", "no-answer", "failed", "voicemail"];
const ZONES = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

function initial() {
  const weekday = () => [{ start: "09:00", end: "18:00" }];
  return {
    name: "", workflow_id: "", carrier_account_id: "", caller_ids: [],
    starts_at: "", ends_at: "", time_zone: BROWSER_ZONE, use_contact_time_zone: true, any_time: false,
    windows: { mon: weekday(), tue: weekday(), wed: weekday(), thu: weekday(), fri: weekday(), sat: [], sun: [] },
    max_concurrent_calls: "1", calls_per_minute: "30",
    retry_on: ["busy", "no-answer"], max_attempts: "3", backoff_seconds: "900", backoff_multiplier: "1",
    vm_detect: true, vm_action: "hangup", vm_text: "",
    variables: [{ name: "", value: "" }], required_variables: "",
  };
}

// Minutes east of UTC of ``zone`` at the instant ``utcMs``.
function zoneOffset(utcMs, zone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(utcMs)).map((p) => [p.type, p.value]));
  return (Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second) - utcMs) / 60_000;
}

// A datetime-local value read in ``zone`` ("2026-12-01T09:00" in Europe/Paris) as an ISO instant.
export function zonedIso(local, zone) {
  const [date, time] = local.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  try {
    let utc = wall - zoneOffset(wall, zone) * 60_000;
    utc = wall - zoneOffset(utc, zone) * 60_000; // the offset at the instant itself (DST edges)
    return new Date(utc).toISOString();
  } catch (_) {
    return new Date(wall).toISOString(); // an unknown zone: the API reports it at its field
  }
}

// Where each API detail is shown: the field editing its pointer, or the nearest parent's.
export function placeErrors(details, known) {
  const at = {};
  const rest = [];
  for (const d of details) {
    let p = d.pointer || "";
    while (p && !known.has(p)) p = p.slice(0, p.lastIndexOf("/"));
    const below = (d.pointer || "").slice(p.length).split("/").filter(Boolean).join(" ");
    const message = detailText(d);
    if (p) (at[p] ||= []).push(below && !/^\d+$/.test(below) ? `${below}: ${message}` : message);
    else rest.push(d);
  }
  return { at, rest };
}

function toBody(f) {
  const num = (v) => (v === "" ? undefined : Number(v));
  const schedule = { time_zone: f.time_zone.trim(), use_contact_time_zone: f.use_contact_time_zone };
  if (f.starts_at) schedule.starts_at = zonedIso(f.starts_at, schedule.time_zone);
  if (f.ends_at) schedule.ends_at = zonedIso(f.ends_at, schedule.time_zone);
  if (!f.any_time) schedule.windows = Object.fromEntries(Object.entries(f.windows).filter(([, w]) => w.length));
  const body = {
    name: f.name.trim(), workflow_id: f.workflow_id || null, schedule,
    max_concurrent_calls: num(f.max_concurrent_calls), calls_per_minute: num(f.calls_per_minute),
    retry: { retry_on: f.retry_on, max_attempts: num(f.max_attempts), backoff_seconds: num(f.backoff_seconds), backoff_multiplier: num(f.backoff_multiplier) },
    voicemail: { detect: f.vm_detect, action: f.vm_action, ...(f.vm_action === "message" ? { text: f.vm_text } : {}) },
    variables: Object.fromEntries(f.variables.filter((v) => v.name.trim()).map((v) => [v.name.trim(), v.value])),
    required_variables: f.required_variables.split(",").map((s) => s.trim()).filter(Boolean),
  };
  if (f.carrier_account_id) body.carrier_account_id = f.carrier_account_id;
  if (f.caller_ids.length) body.caller_ids = f.caller_ids;
  return body;
}

function knownPointers(f) {
  const known = ["name", "workflow_id", "carrier_account_id", "caller_ids", "schedule/starts_at", "schedule/ends_at",
    "schedule/time_zone", "schedule/windows", "max_concurrent_calls", "calls_per_minute", "retry/retry_on", "retry/max_attempts",
    "retry/backoff_seconds", "retry/backoff_multiplier", "voicemail", "voicemail/action", "voicemail/text", "variables", "required_variables"];
  for (const [day, list] of Object.entries(f.windows)) list.forEach((_, i) => known.push(`schedule/windows/${day}/${i}`));
  return new Set(known.map((k) => `/body/${k}`));
}

const errId = (pointer) => "err" + pointer.replace(/[^A-Za-z0-9]+/g, "-");

export function CampaignNew({ me }) {
  const [f, setF] = useState(initial);
  const [errors, setErrors] = useState({ at: {}, rest: [] });
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);
  const workflows = useLoad(() => api("/api/v1/workflows?limit=100"), []);
  const accounts = useLoad(() => api("/api/v1/carriers"), []);
  const numbers = useLoad(() => api("/api/v1/phone-numbers"), []);
  if (!can.manage(me.role)) return html`<${Page} title="New campaign"><p>Your role (${me.role}) can follow campaigns but not create them.</p></${Page}>`;

  const set = (patch) => setF((old) => ({ ...old, ...patch }));
  const published = (workflows.data?.items || []).filter((w) => w.published_version && !w.archived);
  const callers = (numbers.data || []).filter((n) => n.caller_id_allowed && (!f.carrier_account_id || n.carrier_account_id === f.carrier_account_id));
  const err = (p) => errors.at[`/body/${p}`];
  const a11y = (p) => (err(p) ? { "aria-invalid": "true", "aria-describedby": errId(`/body/${p}`) } : {});
  const group = (p) => (err(p) ? { "aria-describedby": errId(`/body/${p}`) } : {}); // fieldsets: described, not "invalid"
  const note = (p) => (err(p) ? html`<span class="field-error" id=${errId(`/body/${p}`)}>${err(p).join("; ")}</span>` : "");
  // the error sits beside the label (described by, not part of, the field's name)
  const field = (p, label, input, hint) => html`<div class="field"><label>${label}${hint ? html` <span class="hint">${hint}</span>` : ""}${input}</label>${note(p)}</div>`;
  const text = (p, key, props = {}) => html`<input value=${f[key]} onInput=${(e) => set({ [key]: e.target.value })} ...${a11y(p)} ...${props} />`;
  const toggle = (list, item, on) => (on ? [...list, item] : list.filter((x) => x !== item));
  const setWindow = (day, i, patch) => set({ windows: { ...f.windows, [day]: f.windows[day].map((w, j) => (j === i ? { ...w, ...patch } : w)) } });
  const setVariable = (i, patch) => set({ variables: f.variables.map((v, j) => (j === i ? { ...v, ...patch } : v)) });
  const workflowId = f.workflow_id || published[0]?.id || "";

  const submit = async (event) => {
    event.preventDefault();
    const body = toBody({ ...f, workflow_id: workflowId });
    const local = [];
    if (!f.any_time && !Object.keys(body.schedule.windows).length) local.push({ pointer: "/body/schedule/windows", message: "add a calling window, or call at any time" });
    setFailure(null);
    if (local.length) { setErrors(placeErrors(local, knownPointers(f))); return; }
    setBusy(true);
    try {
      const created = await api("/api/v1/campaigns", { method: "POST", body });
      navigate(`/campaigns/${created.id}`);
    } catch (e) {
      setBusy(false);
      if (e.status === 422 && e.details.length) {
        const placed = placeErrors(e.details, knownPointers(f));
        setErrors(placed);
        setFailure({ message: `${e.details.length} field${e.details.length > 1 ? "s need" : " needs"} fixing: see the form.`, details: placed.rest });
        // the first field with a problem gets the focus
        setTimeout(() => {
          const first = document.querySelector("form[data-testid=campaign-form] :is([aria-invalid=true], .field-error)");
          (first?.matches(".field-error") ? first.closest(".field, fieldset")?.querySelector("input, select, textarea") : first)?.focus();
        }, 0);
      } else { setErrors({ at: {}, rest: [] }); setFailure(e); }
    }
  };

  if (workflows.error || accounts.error || numbers.error) return html`<${Page} title="New campaign"><${ErrorNote} error=${workflows.error || accounts.error || numbers.error} /></${Page}>`;
  if (!workflows.data || !accounts.data || !numbers.data) return html`<${Page} title="New campaign"><${Loading} /></${Page}>`;
  return html`<${Page} title="New campaign">
    <${CampaignTabs} current="/campaigns" />
    ${!published.length ? html`<div class="notice warn" role="status">A campaign calls with a published workflow: <${Link} href="/workflows">publish one</${Link}> first.</div>` : ""}
    ${!callers.length && !f.carrier_account_id ? html`<div class="notice warn" role="status">No caller-id number yet: add one under <${Link} href="/settings/telephony">Carriers & numbers</${Link}>.</div>` : ""}
    <${ErrorNote} error=${failure} />
    <form class="campaign-form" onSubmit=${submit} data-testid="campaign-form" aria-label="New campaign">
      ${field("name", "Name", text("name", "name", { required: true, maxlength: 200 }))}
      ${field("workflow_id", "Workflow", html`<select value=${workflowId} onChange=${(e) => set({ workflow_id: e.target.value })} ...${a11y("workflow_id")}>
        ${published.map((w) => html`<option value=${w.id}>${w.name} (v${w.published_version})</option>`)}</select>`, "published workflows")}

      <fieldset><legend>Calling from</legend>
        ${field("carrier_account_id", "Carrier account", html`<select value=${f.carrier_account_id} ...${a11y("carrier_account_id")}
          onChange=${(e) => set({ carrier_account_id: e.target.value, caller_ids: [] })}>
          <option value="">Any</option>${accounts.data.map((a) => html`<option value=${a.id}>${a.name} (${a.carrier})</option>`)}</select>`)}
        <fieldset class="choices" ...${group("caller_ids")}><legend>Caller ids <span class="hint">none ticked: the first number${f.carrier_account_id ? " of the account" : ""}; several: used in turn</span></legend>
          ${callers.length ? callers.map((n) => html`<label class="inline"><input type="checkbox" checked=${f.caller_ids.includes(n.number)}
            onChange=${(e) => set({ caller_ids: callers.map((c) => c.number).filter((x) => (x === n.number ? e.target.checked : f.caller_ids.includes(x))) })} />
            ${n.number}${n.label ? ` · ${n.label}` : ""}</label>`) : html`<p class="hint">No caller-id number${f.carrier_account_id ? " on this account" : ""}.</p>`}
          ${note("caller_ids")}</fieldset>
      </fieldset>

      <fieldset><legend>Schedule</legend>
        <div class="row">
          ${field("schedule/starts_at", "Start", text("schedule/starts_at", "starts_at", { type: "datetime-local" }), "optional")}
          ${field("schedule/ends_at", "End", text("schedule/ends_at", "ends_at", { type: "datetime-local" }), "optional")}
          ${field("schedule/time_zone", "Time zone", text("schedule/time_zone", "time_zone", { list: "zones", required: true, autocomplete: "off" }), "dates and windows")}
          <datalist id="zones">${ZONES.map((z) => html`<option value=${z}></option>`)}</datalist>
        </div>
        <label class="inline"><input type="checkbox" checked=${f.use_contact_time_zone} onChange=${(e) => set({ use_contact_time_zone: e.target.checked })} />
          Windows apply in each contact's own time zone (else in the campaign's)</label>
        <label class="inline"><input type="checkbox" checked=${f.any_time} onChange=${(e) => set({ any_time: e.target.checked })} /> Call at any time (no windows)</label>
        ${!f.any_time ? html`<fieldset class="windows" ...${group("schedule/windows")}><legend>Calling windows <span class="hint">a day without a window has no calls; end 00:00 = midnight</span></legend>
          ${DAYS.map(([day, name]) => html`<div class="day" role="group" aria-label=${name}>
            <span class="day-name">${name}</span>
            <div class="day-windows">
              ${f.windows[day].map((w, i) => html`<div class="row window">
                <label>From <input type="time" required value=${w.start} onInput=${(e) => setWindow(day, i, { start: e.target.value })} ...${a11y(`schedule/windows/${day}/${i}`)} /></label>
                <label>To <input type="time" required value=${w.end} onInput=${(e) => setWindow(day, i, { end: e.target.value })} ...${a11y(`schedule/windows/${day}/${i}`)} /></label>
                <button type="button" class="secondary" aria-label=${`Remove ${name} window ${i + 1}`} onClick=${() => set({ windows: { ...f.windows, [day]: f.windows[day].filter((_, j) => j !== i) } })}>Remove</button>
                ${note(`schedule/windows/${day}/${i}`)}</div>`)}
              ${!f.windows[day].length ? html`<span class="hint">no calls</span>` : ""}
              <button type="button" class="link" aria-label=${`Add a window on ${name}`} onClick=${() => set({ windows: { ...f.windows, [day]: [...f.windows[day], { start: "09:00", end: "17:00" }] } })}>Add a window</button>
            </div></div>`)}
          ${note("schedule/windows")}</fieldset>` : ""}
      </fieldset>

      <fieldset><legend>Pacing</legend><div class="row">
        ${field("max_concurrent_calls", "Calls at once", text("max_concurrent_calls", "max_concurrent_calls", { type: "number", min: 1, max: 500, required: true }), "max_concurrent_calls")}
        ${field("calls_per_minute", "Dials per minute", text("calls_per_minute", "calls_per_minute", { type: "number", min: 1, max: 6000, required: true }), "calls_per_minute")}
      </div></fieldset>

      <fieldset><legend>Retries</legend>
        <fieldset class="choices" ...${group("retry/retry_on")}><legend>Try again after</legend>
          ${RETRY_OUTCOMES.map((o) => html`<label class="inline"><input type="checkbox" checked=${f.retry_on.includes(o)}
            onChange=${(e) => set({ retry_on: RETRY_OUTCOMES.filter((x) => (x === o ? e.target.checked : f.retry_on.includes(x))) })} /> ${o}</label>`)}
          ${note("retry/retry_on")}</fieldset>
        <div class="row">
          ${field("retry/max_attempts", "Attempts per contact", text("retry/max_attempts", "max_attempts", { type: "number", min: 1, max: 10, required: true }))}
          ${field("retry/backoff_seconds", "Wait before retrying (s)", text("retry/backoff_seconds", "backoff_seconds", { type: "number", min: 0, max: 604800, required: true }))}
          ${field("retry/backoff_multiplier", "Each later wait ×", text("retry/backoff_multiplier", "backoff_multiplier", { type: "number", min: 1, max: 10, step: "0.1", required: true }))}
        </div></fieldset>

      <fieldset ...${group("voicemail")}><legend>Voicemail</legend>
        <label class="inline"><input type="checkbox" checked=${f.vm_detect} onChange=${(e) => set({ vm_detect: e.target.checked })} /> Detect answering machines</label>
        ${field("voicemail/action", "On a machine", html`<select value=${f.vm_action} onChange=${(e) => set({ vm_action: e.target.value })} ...${a11y("voicemail/action")}>
          <option value="hangup">Hang up</option><option value="message">Leave a message</option></select>`)}
        ${f.vm_action === "message" ? field("voicemail/text", "Message", html`<textarea rows="2" maxlength="1000" value=${f.vm_text} onInput=${(e) => set({ vm_text: e.target.value })} ...${a11y("voicemail/text")} />`) : ""}
        ${note("voicemail")}</fieldset>

      <fieldset ...${group("variables")}><legend>Shared variables <span class="hint">input variables every contact gets (a contact's own columns win)</span></legend>
        ${f.variables.map((v, i) => html`<div class="row">
          <label>Variable name <input value=${v.name} pattern="[A-Za-z_][A-Za-z0-9_]{0,63}" onInput=${(e) => setVariable(i, { name: e.target.value })} /></label>
          <label class="grow">Value <input value=${v.value} maxlength="2000" onInput=${(e) => setVariable(i, { value: e.target.value })} /></label>
          <button type="button" class="secondary" aria-label=${`Remove variable ${i + 1}`} onClick=${() => set({ variables: f.variables.filter((_, j) => j !== i) })}>Remove</button></div>`)}
        <button type="button" class="link" onClick=${() => set({ variables: [...f.variables, { name: "", value: "" }] })}>Add a variable</button>
        ${note("variables")}
        ${field("required_variables", "Required per contact", text("required_variables", "required_variables", { placeholder: "first_name, appointment" }), "comma-separated; rows without them are refused")}
      </fieldset>
      <div class="row"><button type="submit" disabled=${busy || !published.length}>Create campaign</button>
        <${Link} href="/campaigns">Cancel</${Link}></div>
    </form>
  </${Page}>`;
}
