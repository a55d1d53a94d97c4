// Settings: API keys, members and invitations, and (settings_more.js) providers, telephony,
// webhooks, tool secrets. Each action is shown only to the roles the API allows it to.
import { useState } from "preact/hooks";
import { api, changePassword, signOutEverywhere } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, can, fmtDate, formData } from "./ui.js";
import { Providers, Telephony, Webhooks, ToolSecrets, AuditLog } from "./settings_more.js";

const TABS = [["keys", "API keys"], ["members", "Members"], ["providers", "Providers"],
              ["telephony", "Carriers & numbers"], ["webhooks", "Webhooks"], ["secrets", "Tool secrets"], ["audit", "Audit log"], ["account", "Your account"]];

export function NeedsRole({ role, what }) {
  return html`<p class="hint" data-testid="needs-role">${what} needs the ${role} role.</p>`;
}

function ApiKeys({ me }) {
  const keys = useLoad(() => (can.manage(me.role) ? api("/api/v1/api-keys") : Promise.resolve([])), []);
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  if (!can.manage(me.role)) return html`<${NeedsRole} role="admin" what="Managing API keys" />`;
  const create = async (event) => {
    const data = formData(event);
    try { setCreated(await api("/api/v1/api-keys", { method: "POST", body: { name: data.name, role: data.role } })); event.target.reset(); keys.reload(); setError(null); } catch (e) { setError(e); }
  };
  const revoke = async (key) => {
    if (!confirm(`Revoke "${key.name}"? It stops working immediately.`)) return;
    try { await api(`/api/v1/api-keys/${key.id}`, { method: "DELETE" }); keys.reload(); } catch (e) { setError(e); }
  };
  return html`
    ${created && html`<div class="notice" role="alert" data-testid="new-key"><p><strong>Copy the key for “${created.name}” now: it is shown only once.</strong></p>
      <code class="secret">${created.key}</code>
      <div class="row" style="margin-top:.5rem"><button class="secondary" onClick=${() => navigator.clipboard?.writeText(created.key)}>Copy</button>
        <button class="secondary" onClick=${() => setCreated(null)}>Done</button></div></div>`}
    <form class="row panel" onSubmit=${create} aria-label="Create an API key">
      <label>Name <input name="name" required maxlength="100" /></label>
      <label>Role <select name="role"><option value="admin">admin</option><option value="member">member (read only)</option></select></label>
      <button type="submit">Create API key</button>
    </form>
    <${ErrorNote} error=${error || keys.error} />
    ${keys.data ? html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Actions</th></tr></thead>
      <tbody>${keys.data.map((k) => html`<tr><td>${k.name}</td><td><code>${k.prefix}…</code></td><td>${k.role}</td><td>${fmtDate(k.created_at)}</td><td>${fmtDate(k.last_used_at) || "never"}</td>
        <td>${k.revoked_at ? html`<span class="badge">revoked</span>` : html`<button class="danger" onClick=${() => revoke(k)}>Revoke</button>`}</td></tr>`)}</tbody></table></div>` : html`<${Loading} />`}`;
}

function Members({ me }) {
  const members = useLoad(() => api("/api/v1/organization/members"), []);
  const invites = useLoad(() => (can.manage(me.role) ? api("/api/v1/organization/invitations") : Promise.resolve([])), []);
  const [link, setLink] = useState(null);
  const [error, setError] = useState(null);
  const run = async (fn) => { try { await fn(); setError(null); members.reload(); invites.reload(); } catch (e) { setError(e); } };
  const invite = (event) => {
    const data = formData(event);
    const form = event.target;
    return run(async () => {
      const result = await api("/api/v1/organization/members", { method: "POST", body: { email: data.email, role: data.role } });
      setLink({ email: data.email, url: `${location.origin}/invitation#token=${encodeURIComponent(result.invite_token)}` });
      form.reset();
    });
  };
  const setRole = (m, role) => run(() => api(`/api/v1/organization/members/${m.user_id}`, { method: "PATCH", body: { role } }));
  const remove = (m) => confirm(m.user_id === me.user_id ? "Leave this organization?" : `Remove ${m.email}?`) &&
    run(() => api(`/api/v1/organization/members/${m.user_id}`, { method: "DELETE" }));
  const canRemove = (m) => m.user_id === me.user_id || (can.manage(me.role) && (m.role !== "owner" || can.own(me.role)));
  return html`
    ${can.manage(me.role) ? html`<form class="row panel" onSubmit=${invite} aria-label="Invite a member">
      <label>Email <input name="email" type="email" required /></label>
      <label>Role <select name="role"><option>member</option><option>admin</option>${can.own(me.role) ? html`<option>owner</option>` : ""}</select></label>
      <button type="submit">Invite</button>
    </form>` : html`<${NeedsRole} role="admin" what="Inviting members" />`}
    ${link && html`<div class="notice" role="alert" data-testid="invite-result"><p><strong>Send this invitation link to ${link.email}</strong>
      (shown once; it expires). New or existing accounts join through it.</p><code class="secret">${link.url}</code></div>`}
    <${ErrorNote} error=${error || members.error} />
    <h2>Members</h2>
    ${members.data ? html`<div class="table-wrap" tabindex="0"><table data-testid="members"><thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Joined</th><th scope="col">Actions</th></tr></thead>
      <tbody>${members.data.map((m) => html`<tr><td>${m.email}${m.user_id === me.user_id ? " (you)" : ""}</td><td>${m.name || ""}</td>
        <td>${can.own(me.role) && m.user_id !== me.user_id ? html`<label class="sr-only" for=${"role-" + m.user_id}>Role of ${m.email}</label>
          <select id=${"role-" + m.user_id} value=${m.role} onChange=${(e) => setRole(m, e.target.value)}><option>member</option><option>admin</option><option>owner</option></select>` : m.role}</td>
        <td>${fmtDate(m.created_at)}</td>
        <td>${canRemove(m) ? html`<button class="danger" onClick=${() => remove(m)}>${m.user_id === me.user_id ? "Leave" : "Remove"}</button>` : ""}</td></tr>`)}</tbody></table></div>` : html`<${Loading} />`}
    ${can.manage(me.role) && invites.data?.length ? html`<h2>Pending invitations</h2><div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Expires</th></tr></thead>
      <tbody>${invites.data.map((i) => html`<tr><td>${i.email}</td><td>${i.role}</td><td>${fmtDate(i.expires_at)}</td></tr>`)}</tbody></table></div>` : ""}`;
}

function Account({ me }) {
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const submit = async (event) => {
    const data = formData(event);
    const form = event.target;
    setError(null); setDone(false);
    if (data.new_password !== data.repeat) { setError(new Error("The two new passwords differ.")); return; }
    try { await changePassword(data.current_password, data.new_password); form.reset(); setDone(true); } catch (e) { setError(e); }
  };
  const everywhere = async () => {
    if (!confirm("Sign out on every device and browser, this one included?")) return;
    try { await signOutEverywhere(); } catch (e) { setError(e); }
  };
  return html`<dl class="kv panel"><dt>Email</dt><dd>${me.email}</dd><dt>Name</dt><dd>${me.name || "–"}</dd>
      <dt>Role here</dt><dd>${me.role}</dd></dl>
    <h2>Change your password</h2>
    <form class="stack" onSubmit=${submit}>
      <label>Current password <input name="current_password" type="password" autocomplete="current-password" required /></label>
      <label>New password <input name="new_password" type="password" autocomplete="new-password" minlength="10" required
        aria-describedby="new-password-hint" /></label>
      <p class="hint" id="new-password-hint" style="margin: -.5rem 0 0">At least 10 characters. Your other sessions are signed out.</p>
      <label>New password again <input name="repeat" type="password" autocomplete="new-password" minlength="10" required /></label>
      <${ErrorNote} error=${error} />
      ${done && html`<p role="status" class="badge ok">Password changed.</p>`}
      <button type="submit">Change password</button>
    </form>
    <h2>Sessions</h2>
    <button class="danger" onClick=${everywhere}>Sign out everywhere</button>`;
}

export function SettingsPage({ tab, me }) {
  const body = { keys: ApiKeys, members: Members, providers: Providers, telephony: Telephony, webhooks: Webhooks, secrets: ToolSecrets, audit: AuditLog, account: Account }[tab];
  return html`<${Page} title="Settings">
    <nav class="tabs" aria-label="Settings sections">${TABS.map(([id, label]) => html`<${Link} href=${`/settings/${id}`} aria-current=${tab === id ? "page" : undefined}>${label}</${Link}>`)}</nav>
    ${body ? html`<${body} me=${me} />` : html`<p>No such section.</p>`}
  </${Page}>`;
}
