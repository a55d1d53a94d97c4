// Workflows: list (search, archived, pages), create from a template, import, and the editor.
import { useState } from "preact/hooks";
import { api, ApiError, serverHas } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, navigate, can, fmtDate, formData } from "./ui.js";
export { WorkflowEditor } from "./workflow_editor.js";

export function WorkflowList({ me }) {
  const [q, setQ] = useState("");
  const [archived, setArchived] = useState(false);
  const [cursors, setCursors] = useState([null]);
  const [error, setError] = useState(null);
  const cursor = cursors[cursors.length - 1];
  const params = new URLSearchParams({ limit: "20" });
  if (q) params.set("q", q);
  if (archived) params.set("include_archived", "true");
  if (cursor) params.set("cursor", cursor);
  const page = useLoad(() => api(`/api/v1/workflows?${params}`), [params.toString()]);
  const onImport = async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    try {
      const doc = JSON.parse(await file.text());
      const wf = await api("/api/v1/workflows/import", { method: "POST", body: doc });
      navigate(`/workflows/${wf.id}`);
    } catch (e) { setError(e instanceof ApiError ? e : new Error(`Could not import ${file.name}: ${e.message}`)); }
  };
  const actions = can.manage(me.role) ? html`
    <${Link} class="button" href="/workflows/new">New workflow</${Link}>
    <label class="button secondary">Import… <input type="file" accept="application/json,.json" class="sr-only" onChange=${onImport} /></label>` : null;
  return html`<${Page} title="Workflows" actions=${actions}>
    <${ErrorNote} error=${error} />
    <form class="row" role="search" onSubmit=${(e) => { e.preventDefault(); setQ(e.target.q.value.trim()); setCursors([null]); }}>
      <label>Search <input name="q" type="search" placeholder="Name or description" /></label>
      <label class="inline"><input type="checkbox" checked=${archived} onChange=${(e) => { setArchived(e.target.checked); setCursors([null]); }} /> Show archived</label>
      <button type="submit" class="secondary">Search</button>
    </form>
    <${ErrorNote} error=${page.error} />
    ${page.loading && !page.data ? html`<${Loading} />` : page.data && html`
      ${page.data.items.length === 0 ? html`<p>No workflows yet.${can.manage(me.role) ? html` <${Link} href="/workflows/new">Create one from a template</${Link}>.` : ""}</p>` : html`
      <div class="table-wrap" tabindex="0"><table>
        <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Updated</th><th scope="col">Actions</th></tr></thead>
        <tbody>${page.data.items.map((wf) => html`<tr>
          <td><${Link} href=${`/workflows/${wf.id}`}>${wf.name}</${Link}><div class="hint">${wf.description}</div></td>
          <td>${wf.archived ? html`<span class="badge">archived</span>` : wf.published_version
            ? html`<span class="badge ok">published v${wf.published_version}</span>` : html`<span class="badge warn">draft</span>`}</td>
          <td>${fmtDate(wf.updated_at)}</td>
          <td>${!wf.archived && wf.published_version ? html`<${Link} href=${`/test?workflow=${wf.id}`}>Test</${Link}>` : ""}</td>
        </tr>`)}</tbody>
      </table></div>`}
      <div class="row" style="margin-top: .75rem">
        <button class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
        <button class="secondary" disabled=${!page.data.next_cursor} onClick=${() => setCursors([...cursors, page.data.next_cursor])}>Next</button>
      </div>`}
  </${Page}>`;
}

// The server's templates (GET /api/v1/workflow-templates); a server without that route gets
// the one template its create call has always known. "Blank" is the API's minimal graph.
const BLANK = { id: null, name: "Blank", description: "A start node and an end node." };
const BUILTIN_TEMPLATES = [
  { id: "order_desk", name: "Order and billing desk", description: "Routes to orders or billing, looks up an order over HTTP, says goodbye." },
];

async function loadTemplates() {
  if (!(await serverHas("/api/v1/workflow-templates"))) return [...BUILTIN_TEMPLATES, BLANK];
  const result = await api("/api/v1/workflow-templates");
  const items = Array.isArray(result) ? result : result.items || [];
  return [...items.map((t) => ({ id: t.name ?? t.id, name: t.title || t.name, description: t.description || "",
                                 direction: t.direction })), BLANK];
}

export function WorkflowNew({ me }) {
  const templates = useLoad(loadTemplates, []);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (!can.manage(me.role)) return html`<${Page} title="New workflow"><p>Your role (${me.role}) can read workflows but not create them.</p></${Page}>`;
  const submit = async (event) => {
    const data = formData(event);
    const template = (templates.data || []).find((t) => String(t.id) === data.template);
    const body = { name: data.name, description: data.description || "" };
    if (template?.id) body.template = template.id;
    setBusy(true);
    try {
      const wf = await api("/api/v1/workflows", { method: "POST", body });
      navigate(`/workflows/${wf.id}`);
    } catch (e) { setError(e); setBusy(false); }
  };
  return html`<${Page} title="New workflow">
    <${ErrorNote} error=${templates.error || error} />
    ${templates.data ? html`<form class="stack" onSubmit=${submit}>
      <label>Name <input name="name" required maxlength="200" /></label>
      <label>Description <input name="description" maxlength="2000" /></label>
      <fieldset class="stack"><legend>Start from</legend>
        ${templates.data.map((t, i) => html`<label class="inline"><input type="radio" name="template" value=${String(t.id)} checked=${i === 0} />
          <span><strong>${t.name}</strong>${t.direction ? html` <span class="badge">${t.direction}</span>` : ""} <span class="hint">${t.description}</span></span></label>`)}
      </fieldset>
      <button type="submit" disabled=${busy}>Create workflow</button>
    </form>` : html`<${Loading} what="Loading templates" />`}
  </${Page}>`;
}
