// Live: calls in progress with their transcript as it is spoken and a hang-up button, fed by
// the server's event stream (GET /api/v1/calls/events, Server-Sent Events): a snapshot, then
// call.started / call.updated / call.turns / call.ended. Reconnects when the stream closes.
import { useEffect, useReducer, useState } from "preact/hooks";
import { api, openStream } from "./api.js";
import { html, Link, Page, ErrorNote, can, fmtTime, fmtDuration } from "./ui.js";

const RECONNECT_MS = 2000;

function reduce(calls, [kind, data]) {
  const next = new Map(calls);
  switch (kind) {
    case "snapshot": return new Map(data.calls.map((c) => [c.id, c]));
    case "call.started": next.set(data.id, { ...data, turns: [] }); return next;
    case "call.updated": next.set(data.id, { ...data, turns: next.get(data.id)?.turns || [] }); return next;
    case "call.turns": {
      const call = next.get(data.call_id);
      if (call) next.set(data.call_id, { ...call, turns: [...call.turns, ...data.turns] });
      return next;
    }
    case "call.ended": next.delete(data.id); return next;
    default: return calls;
  }
}

// Parse one SSE message ("event: x\ndata: {...}"); comments and retry lines give null.
function parse(block) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  return data.length ? [kind, JSON.parse(data.join("\n"))] : null;
}

function useCallEvents() {
  const [calls, dispatch] = useReducer(reduce, null);
  const [state, setState] = useState({ connected: false, error: null });
  useEffect(() => {
    const abort = new AbortController();
    let stopped = false;
    (async () => {
      while (!stopped) {
        try {
          const response = await openStream("/api/v1/calls/events", abort.signal);
          setState({ connected: true, error: null });
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value.replace(/\r\n/g, "\n");
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const message = parse(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
              if (message) dispatch(message);
            }
          }
          if (!stopped) setState({ connected: false, error: null });
        } catch (error) {
          if (stopped) return;
          setState({ connected: false, error: error.status ? error : null });
          if (error.status === 401 || error.status === 403) return;
        }
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    })();
    return () => { stopped = true; abort.abort(); };
  }, []);
  return { calls: calls && [...calls.values()], ...state };
}

export function LivePage({ me }) {
  const { calls, connected, error } = useCallEvents();
  const [actionError, setActionError] = useState(null);
  const [, tick] = useState(0);
  useEffect(() => { const timer = setInterval(() => tick((n) => n + 1), 1000); return () => clearInterval(timer); }, []);
  const hangup = async (id) => {
    try { await api(`/api/v1/calls/${id}/hangup`, { method: "POST" }); } catch (e) { setActionError(e); }
  };
  return html`<${Page} title="Live calls">
    <p class="hint" role="status" data-testid="live-status">${connected ? "Live: calls appear as they start and speak." : "Connecting to the live feed…"}</p>
    <${ErrorNote} error=${error || actionError} />
    ${calls && !calls.length ? html`<p>No calls in progress. Start one from the <${Link} href="/test">Test</${Link}> page.</p>` : ""}
    ${(calls || []).map((c) => html`<article class="panel" aria-label=${`Live call ${c.id}`} key=${c.id}>
      <div class="row" style="justify-content: space-between">
        <div><strong>${c.channel} · ${c.direction}</strong> ${c.from_number || ""} ${c.to_number ? `→ ${c.to_number}` : ""}
          <div class="hint">${c.status} since ${fmtTime(c.answered_at || c.started_at)} (${fmtDuration((Date.now() - new Date(c.answered_at || c.started_at)) / 1000)})</div></div>
        <div class="row"><${Link} class="button secondary" href=${`/calls/${c.id}`}>Open</${Link}>
          ${can.manage(me.role) ? html`<button class="danger" onClick=${() => hangup(c.id)}>Hang up</button>` : ""}</div>
      </div>
      <ol class="transcript" aria-live="polite">${(c.turns || []).slice(-6).map((t) => html`<li class=${t.speaker}><span class="meta">${t.speaker} · ${fmtTime(t.started_at)}</span>${t.text}</li>`)}</ol>
    </article>`)}
  </${Page}>`;
}
