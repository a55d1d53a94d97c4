// The workflow editor: the definition as JSON with live validation (the draft is saved as
// you type and the API's problems are listed at their JSON pointer; click one to select it),
// the graph (click a node to edit its texts), publish, versions with diff and rollback.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, ErrorNote, Loading, navigate, can, fmtDate } from "./ui.js";
import { Graph } from "./graph.js";
import { locate, lineOf } from "./jsonpos.js";
import { contextDiff } from "./diff.js";

const pretty = (value) => JSON.stringify(value, null, 2);
const NODE_TEXTS = ["name", "greeting", "prompt", "say"];

function Problems({ problems, onPick }) {
  if (!problems.length) return html`<p class="badge ok" role="status" data-testid="valid">No problems: ready to publish.</p>`;
  return html`<div role="status"><p class="error"><strong>${problems.length} problem${problems.length > 1 ? "s" : ""}</strong></p>
    <ul class="problems" data-testid="problems">${problems.map((p) => html`<li>
      <button class="link" onClick=${() => onPick(p.pointer)}><code>${p.pointer || "/"}</code></button>
      ${" "}${p.message} <span class="hint">(${p.code})</span></li>`)}</ul></div>`;
}

function NodePanel({ node, editable, onChange }) {
  if (!node) return html`<p class="hint">Select a node in the graph to edit its texts.</p>`;
  return html`<div class="stack" style="max-width: none">
    <h3>Node <code>${node.id}</code> <span class="hint">${node.type}</span></h3>
    ${NODE_TEXTS.filter((k) => k in node || k !== "greeting" || node.type === "start").map((k) => html`
      <label>${k}<textarea rows=${k === "prompt" ? 4 : 2} readOnly=${!editable} value=${node[k] ?? ""}
        onInput=${(e) => onChange({ ...node, [k]: e.target.value })} /></label>`)}
  </div>`;
}

function Versions({ wf, versions, draftText, editable, onRollback }) {
  const [shown, setShown] = useState(null);
  const [error, setError] = useState(null);
  const view = async (v) => {
    try { setShown(await api(`/api/v1/workflows/${wf.id}/versions/${v.version}`)); } catch (e) { setError(e); }
  };
  if (!versions.length) return html`<p class="hint">Not published yet.</p>`;
  return html`<${ErrorNote} error=${error} />
    <div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Version</th><th scope="col">Published</th><th scope="col">Note</th><th scope="col">Actions</th></tr></thead>
    <tbody>${versions.map((v) => html`<tr>
      <td>v${v.version} ${wf.published_version === v.version ? html`<span class="badge ok">live</span>` : ""}</td>
      <td>${fmtDate(v.created_at)}</td><td>${v.note}</td>
      <td class="row"><button class="secondary" onClick=${() => view(v)}>Diff with draft</button>
        ${editable && wf.published_version !== v.version ? html`<button class="secondary" onClick=${() => onRollback(v.version)}>Roll back to v${v.version}</button>` : ""}</td>
    </tr>`)}</tbody></table></div>
    ${shown && html`<h3>v${shown.version} → draft</h3><pre class="panel" style="overflow-x:auto; font-size: .8rem" aria-label="Differences">${
      contextDiff(pretty(shown.definition), draftText).map(([op, line]) => html`<div style=${op === "+" ? "color: var(--ok)" : op === "-" ? "color: var(--danger)" : "opacity:.6"}>${op} ${line}</div>`)}</pre>`}`;
}

export function WorkflowEditor({ id, me }) {
  const editable = can.manage(me.role);
  const [wf, setWf] = useState(null);
  const [text, setText] = useState("");
  const [problems, setProblems] = useState([]);
  const [syntax, setSyntax] = useState(null);
  const [saveState, setSaveState] = useState("saved");
  const [error, setError] = useState(null);
  const [versions, setVersions] = useState([]);
  const [selected, setSelected] = useState(null);
  const [notice, setNotice] = useState(null);
  const timer = useRef(null);
  const area = useRef(null);

  const loadVersions = () => api(`/api/v1/workflows/${id}/versions`).then(setVersions, setError);
  const adopt = (row) => { setWf(row); setProblems(row.problems); };
  useEffect(() => {
    api(`/api/v1/workflows/${id}`).then((row) => { adopt(row); setText(pretty(row.definition)); }, setError);
    loadVersions();
    return () => clearTimeout(timer.current);
  }, [id]);

  const save = async (definition) => {
    setSaveState("saving");
    try {
      adopt(await api(`/api/v1/workflows/${id}`, { method: "PATCH", body: { definition } }));
      setSaveState("saved"); setError(null);
    } catch (e) {
      setSaveState("error");
      if (e.status === 422 && e.details.some((d) => d.pointer)) setProblems(e.details.filter((d) => d.pointer));
      else setError(e);
    }
  };
  const edit = (next) => {
    setText(next); setNotice(null);
    clearTimeout(timer.current);
    let definition;
    try { definition = JSON.parse(next); } catch (e) {
      const at = /position (\d+)/.exec(e.message);
      setSyntax(at ? `${e.message} (line ${lineOf(next, Number(at[1]))})` : e.message);
      setSaveState("unsaved");
      return;
    }
    setSyntax(null);
    if (!definition || typeof definition !== "object" || Array.isArray(definition)) { setSyntax("The definition must be a JSON object."); return; }
    setSaveState("unsaved");
    timer.current = setTimeout(() => save(definition), 500);
  };
  const pick = (pointer) => {
    // Body errors may point into the request ("/definition/nodes/0"); problems point into the definition.
    const inDefinition = pointer.startsWith("/definition/") ? pointer.slice("/definition".length) : pointer;
    const [start, end] = locate(text, inDefinition);
    const el = area.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(start, end);
    const line = lineOf(text, start);
    el.scrollTop = Math.max(0, (line - 3) * parseFloat(getComputedStyle(el).lineHeight || "18"));
  };
  let definition = null;
  try { definition = JSON.parse(text); } catch (_) { /* keep the last graph off while the JSON is broken */ }
  const nodes = Array.isArray(definition?.nodes) ? definition.nodes : [];
  const node = nodes.find((n) => n && n.id === selected);
  const changeNode = (next) => {
    const copy = { ...definition, nodes: nodes.map((n) => (n && n.id === next.id ? next : n)) };
    edit(pretty(copy));
  };
  const act = async (fn, message) => {
    setError(null); setNotice(null);
    try { await fn(); if (message) setNotice(message); } catch (e) {
      if (e.code === "workflow_invalid") setProblems(e.details); else setError(e);
    }
  };
  const publish = () => act(async () => {
    clearTimeout(timer.current);
    if (saveState !== "saved") await save(JSON.parse(text));
    const v = await api(`/api/v1/workflows/${id}/publish`, { method: "POST", body: { note: "" } });
    adopt(await api(`/api/v1/workflows/${id}`));
    await loadVersions();
    setNotice(`Published version ${v.version}: new calls run it.`);
  });
  const rollback = (version) => act(async () => {
    const row = await api(`/api/v1/workflows/${id}/rollback`, { method: "POST", body: { version } });
    adopt(row); setText(pretty(row.definition)); await loadVersions();
  }, `Rolled back to version ${version}.`);
  const duplicate = () => act(async () => navigate(`/workflows/${(await api(`/api/v1/workflows/${id}/duplicate`, { method: "POST" })).id}`));
  const archive = () => act(async () => {
    if (!confirm(`Archive "${wf.name}"? It disappears from the list and no new calls can start on it.`)) return;
    await api(`/api/v1/workflows/${id}/archive`, { method: "POST" });
    navigate("/workflows");
  });
  // Drafts and archived workflows can be deleted; a published one is archived first (409).
  const remove = () => act(async () => {
    if (!confirm(`Delete "${wf.name}" and its versions? Past calls keep their records.`)) return;
    await api(`/api/v1/workflows/${id}`, { method: "DELETE" });
    navigate("/workflows");
  });
  const exportDoc = () => act(async () => {
    const doc = await api(`/api/v1/workflows/${id}/export`);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([pretty(doc)], { type: "application/json" }));
    a.download = `${wf.name.replace(/[^\w.-]+/g, "_")}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });

  if (!wf) return error ? html`<${ErrorNote} error=${error} />` : html`<${Loading} />`;
  const status = { saved: "All changes saved", saving: "Saving…", unsaved: "Unsaved changes", error: "Not saved" }[saveState];
  const live = wf.archived ? "archived" : wf.published_version ? `published v${wf.published_version}` : "draft only";
  const actions = html`
    ${wf.published_version && !wf.archived ? html`<${Link} class="button secondary" href=${`/test?workflow=${wf.id}`}>Test</${Link}>` : ""}
    ${editable && !wf.archived ? html`<button onClick=${publish} disabled=${!!syntax || problems.length > 0 || saveState === "saving"}>Publish</button>` : ""}`;
  return html`<${Page} title=${wf.name} actions=${actions}>
    <p class="hint">${live} · ${editable && !wf.archived ? html`<span role="status" data-testid="save-state">${status}</span>` : "read-only"}</p>
    ${notice && html`<div class="notice" role="status">${notice}</div>`}
    <${ErrorNote} error=${error} />
    <div class="editor">
      <div>
        <label for="definition">Definition (JSON)</label>
        <textarea id="definition" class="code" ref=${area} spellcheck="false" readOnly=${!editable || wf.archived}
          aria-describedby="definition-check" value=${text} onInput=${(e) => edit(e.target.value)} />
        <div id="definition-check">
          ${syntax ? html`<p class="error" role="alert" data-testid="syntax">JSON syntax: ${syntax}</p>` : html`<${Problems} problems=${problems} onPick=${pick} />`}
        </div>
      </div>
      <div>
        <h2 style="margin-top: 0">Graph</h2>
        ${definition ? html`<${Graph} definition=${definition} selected=${selected} onSelect=${setSelected} />` : html`<p class="hint">Fix the JSON to see the graph.</p>`}
        <${NodePanel} node=${node} editable=${editable && !wf.archived} onChange=${changeNode} />
      </div>
    </div>
    <h2>Versions</h2>
    <${Versions} wf=${wf} versions=${versions} draftText=${text} editable=${editable && !wf.archived} onRollback=${rollback} />
    <h2>More</h2>
    <div class="row">
      <button class="secondary" onClick=${exportDoc}>Export JSON</button>
      ${editable ? html`<button class="secondary" onClick=${duplicate}>Duplicate</button>` : ""}
      ${editable && !wf.archived ? html`<button class="danger" onClick=${archive}>Archive</button>` : ""}
      ${editable && (wf.archived || !wf.published_version) ? html`<button class="danger" onClick=${remove}>Delete</button>` : ""}
    </div>
  </${Page}>`;
}
