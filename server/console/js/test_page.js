// Test a workflow: text chat (POST /workflows/{id}/chat) and a voice call over WebRTC.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { html, Link, Page, ErrorNote, Loading, useLoad, can } from "./ui.js";
import { VoiceCall } from "./voice.js";

function Chat({ workflowId, version, variables }) {
  const [lines, setLines] = useState([]);
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (message) => {
    setBusy(true); setError(null);
    try {
      const body = { session_id: session };
      if (message) body.message = message;
      if (version && !session) body.version = version;
      if (!session) body.variables = variables;
      const out = await api(`/api/v1/workflows/${workflowId}/chat`, { method: "POST", body });
      setSession(out.ended ? null : out.session_id);
      setLines((old) => [...old, ...(message ? [["user", message]] : []),
        ...out.tool_calls.map((t) => ["tool", `${t.name}(${JSON.stringify(t.arguments)}) → ${t.error || t.result}`]),
        ["agent", out.reply + (out.ended ? " (conversation ended)" : "")]]);
    } catch (e) { setError(e); }
    setBusy(false);
  };
  useEffect(() => { setLines([]); setSession(null); }, [workflowId]);
  return html`<div class="panel">
    <h2 style="margin-top:0">Text chat</h2>
    <ol class="transcript chat-log" aria-live="polite" aria-label="Chat">${lines.map(([who, text]) => html`<li class=${who}><span class="meta">${who}</span>${text}</li>`)}</ol>
    <${ErrorNote} error=${error} />
    ${session ? html`<form class="row" onSubmit=${(e) => { e.preventDefault(); const m = e.target.message.value.trim(); if (m) { e.target.reset(); send(m); } }}>
      <label style="flex:1">Your message <input name="message" autocomplete="off" maxlength="4000" /></label>
      <button type="submit" disabled=${busy}>Send</button>
      <button type="button" class="secondary" onClick=${() => { setSession(null); setLines([]); }}>Restart</button>
    </form>` : html`<button onClick=${() => { setLines([]); send(null); }} disabled=${busy}>Start a chat</button>`}
  </div>`;
}

function Voice({ workflowId, draft, variables }) {
  const [status, setStatus] = useState({ text: "Idle.", error: false });
  const [lines, setLines] = useState([]);
  const [active, setActive] = useState(false);
  const [lastCall, setLastCall] = useState(null);
  const call = useRef(null);
  const audio = useRef(null);
  const open = useRef({ user: null, agent: null });
  useEffect(() => () => call.current?.stop(), []);
  const line = (speaker, text, interim, append) => {
    if (!speaker) { open.current = { user: null, agent: null }; return; }
    setLines((old) => {
      const next = [...old];
      const at = open.current[speaker];
      if (at != null && next[at] && (interim || next[at].interim || append)) {
        next[at] = { speaker, text: append ? `${next[at].text} ${text}` : text, interim };
      } else {
        next.push({ speaker, text, interim });
        open.current[speaker] = next.length - 1;
      }
      if (speaker === "user" && !interim) open.current = { user: null, agent: null };
      if (speaker === "user") open.current.agent = null;
      return next;
    });
  };
  const start = async () => {
    setLines([]); setLastCall(null); setActive(true);
    call.current = new VoiceCall({
      status: (text, error = false) => setStatus({ text, error }),
      line,
      audio: (stream) => { if (audio.current) audio.current.srcObject = stream; },
      ended: (callId) => { setActive(false); setStatus({ text: "Call ended.", error: false }); setLastCall(callId); },
    });
    try { await call.current.start(workflowId, draft, variables); } catch (e) {
      setStatus({ text: `Could not start the call: ${e.message}`, error: true });
      call.current.stop(); setActive(false);
    }
  };
  return html`<div class="panel">
    <h2 style="margin-top:0">Voice call</h2>
    <div class="row">
      <button onClick=${start} disabled=${active}>Start a voice call</button>
      <button class="danger" onClick=${() => call.current?.stop()} disabled=${!active}>Hang up</button>
    </div>
    <p role="status" class=${status.error ? "error" : ""} data-testid="voice-status">${status.text}</p>
    <audio ref=${audio} autoplay></audio>
    <ol class="transcript" aria-live="polite" aria-label="Live transcript">${lines.map((l) => html`<li class="${l.speaker} ${l.interim ? "interim" : ""}"><span class="meta">${l.speaker}</span>${l.text}</li>`)}</ol>
    ${lastCall && html`<p><${Link} href=${`/calls/${lastCall}`}>Open this call's record</${Link}> (transcript, recording, latency).</p>`}
  </div>`;
}

// The workflow's declared inputs (definition.inputs), filled in as the call's variables.
function Inputs({ workflowId, values, onChange }) {
  const wf = useLoad(() => api(`/api/v1/workflows/${workflowId}`), [workflowId]);
  const inputs = (wf.data?.definition?.inputs || []).filter((i) => i && typeof i.name === "string");
  if (!inputs.length) return null;
  return html`<fieldset class="row"><legend>Call variables</legend>
    ${inputs.map((i) => html`<label>${i.name} ${i.description ? html`<span class="hint">${i.description}</span>` : ""}
      <input value=${values[i.name] || ""} placeholder=${i.default ?? ""} maxlength="500" onInput=${(e) => onChange(i.name, e.target.value)} /></label>`)}
  </fieldset>`;
}

export function TestPage({ me }) {
  if (!can.manage(me.role)) {
    return html`<${Page} title="Test"><p data-testid="needs-role">Testing runs the workflow with the organization's
      tools, secrets and provider keys, so it needs the admin role. You can read <${Link} href="/calls">calls</${Link}>.</p></${Page}>`;
  }
  return html`<${Tester} />`;
}

function Tester() {
  const list = useLoad(() => api("/api/v1/workflows?limit=100"), []);
  const wanted = new URLSearchParams(location.search).get("workflow");
  const [workflowId, setWorkflowId] = useState(wanted);
  const [draft, setDraft] = useState(false);
  const [values, setValues] = useState({});
  if (list.error) return html`<${Page} title="Test"><${ErrorNote} error=${list.error} /></${Page}>`;
  if (!list.data) return html`<${Page} title="Test"><${Loading} /></${Page}>`;
  const items = list.data.items;
  const chosen = items.find((w) => w.id === workflowId) || items.find((w) => w.published_version) || items[0];
  if (!chosen) return html`<${Page} title="Test"><p>No workflows yet. <${Link} href="/workflows/new">Create one</${Link}>.</p></${Page}>`;
  const canLive = !!chosen.published_version;
  const variables = Object.fromEntries(Object.entries(values[chosen.id] || {}).filter(([, v]) => v !== ""));
  const useDraft = draft || !canLive;
  return html`<${Page} title="Test">
    <div class="row">
      <label>Workflow <select value=${chosen.id} onChange=${(e) => setWorkflowId(e.target.value)}>
        ${items.map((w) => html`<option value=${w.id}>${w.name} ${w.published_version ? `(v${w.published_version})` : "(draft only)"}</option>`)}
      </select></label>
      <label class="inline"><input type="checkbox" checked=${useDraft} disabled=${!canLive} onChange=${(e) => setDraft(e.target.checked)} /> Test the draft</label>
    </div>
    <${Inputs} workflowId=${chosen.id} values=${values[chosen.id] || {}}
      onChange=${(name, value) => setValues({ ...values, [chosen.id]: { ...(values[chosen.id] || {}), [name]: value } })} />
    <p class="hint">Without provider keys, calls run on the offline engines (PocketSphinx, espeak-ng) and the offline scripted agent, which is not a language model.</p>
    <div class="grid2">
      <${Voice} key=${chosen.id + useDraft} workflowId=${chosen.id} draft=${useDraft} variables=${variables} />
      <${Chat} key=${"c" + chosen.id + useDraft} workflowId=${chosen.id} version=${useDraft ? null : chosen.published_version} variables=${variables} />
    </div>
  </${Page}>`;
}
