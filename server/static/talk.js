// /talk: sign in, pick a workflow, talk to it through the microphone over WebRTC.
// Signalling: POST /api/v1/webrtc/offer (then PATCH for late ICE candidates).
// Live transcript: RTVI messages pipecat sends over the "chat" data channel.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("sb_token"), pc: null, stream: null, callId: null,
                pcId: null, pendingCandidates: [], agentItem: null, interimItem: null };

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && state.token) { signOut(); throw new Error("session expired"); }
  if (!response.ok && response.status !== 204) {
    let message = response.statusText;
    try { message = (await response.json()).error?.message || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response.status === 204 ? null : response.json();
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function showSignedIn(signedIn) {
  $("signin").hidden = signedIn;
  $("call").hidden = !signedIn;
}

function signOut() {
  state.token = null;
  sessionStorage.removeItem("sb_token");
  showSignedIn(false);
}

async function loadWorkflows() {
  const page = await api("/api/v1/workflows?limit=100");
  const select = $("workflow");
  select.innerHTML = "";
  for (const wf of page.items) {
    const option = document.createElement("option");
    option.value = wf.id;
    option.textContent = wf.published_version ? `${wf.name} (v${wf.published_version})` : `${wf.name} (draft only)`;
    select.appendChild(option);
  }
  if (!page.items.length) setStatus("No workflows yet: create one through the API first.");
}

function addLine(speaker, text, interim = false) {
  const li = document.createElement("li");
  li.className = speaker + (interim ? " interim" : "");
  li.textContent = text;
  $("transcript").appendChild(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

function onMessage(event) {
  let message;
  try { message = JSON.parse(event.data); } catch (_) { return; }
  if (message.label !== "rtvi-ai") return;
  const data = message.data || {};
  switch (message.type) {
    case "user-transcription":
      if (data.final) {
        if (state.interimItem) { state.interimItem.remove(); state.interimItem = null; }
        addLine("user", data.text);
        state.agentItem = null;
      } else if (data.text) {
        if (!state.interimItem) state.interimItem = addLine("user", data.text, true);
        else state.interimItem.textContent = data.text;
      }
      break;
    case "user-started-speaking":
      state.agentItem = null;
      break;
    case "bot-tts-text":
      if (!data.text) break;
      if (!state.agentItem) state.agentItem = addLine("agent", data.text);
      else state.agentItem.textContent += " " + data.text;
      break;
    case "bot-stopped-speaking":
      state.agentItem = null;
      break;
  }
}

async function iceServers() {
  try { return (await api("/api/v1/webrtc/ice-servers")).ice_servers; } catch (_) { return []; }
}

function waitForGathering(pc, ms) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, ms);
  });
}

async function sendCandidates(candidates) {
  if (!candidates.length || !state.pcId) return;
  await api("/api/v1/webrtc/offer", { method: "PATCH", body: JSON.stringify({
    pc_id: state.pcId,
    candidates: candidates.map((c) => ({ candidate: c.candidate, sdp_mid: c.sdpMid, sdp_mline_index: c.sdpMLineIndex })),
  }) }).catch(() => {});
}

async function startCall() {
  const workflowId = $("workflow").value;
  if (!workflowId) return;
  $("start").disabled = true;
  $("transcript").innerHTML = "";
  $("summary").hidden = true;
  setStatus("Asking for the microphone…");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    const pc = new RTCPeerConnection({ iceServers: await iceServers() });
    state.pc = pc;
    state.pcId = null;
    state.pendingCandidates = [];
    const channel = pc.createDataChannel("chat");
    channel.onmessage = onMessage;
    // the server closes the peer when the call ends (hang-up, shutdown): the data channel
    // closes at once, long before the connection state notices
    channel.onclose = () => { if (state.pc === pc) endCall(); };
    pc.addTransceiver(state.stream.getAudioTracks()[0], { direction: "sendrecv" });
    pc.ontrack = (event) => { $("remote").srcObject = event.streams[0] || new MediaStream([event.track]); };
    pc.onicecandidate = (event) => {
      if (!event.candidate) return;
      if (state.pcId) sendCandidates([event.candidate]);
      else state.pendingCandidates.push(event.candidate);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") setStatus("Connected: speak now.");
      if (["failed", "closed", "disconnected"].includes(pc.connectionState)) endCall();
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc, 1500);
    setStatus("Connecting…");
    const answer = await api("/api/v1/webrtc/offer", { method: "POST", body: JSON.stringify({
      sdp: pc.localDescription.sdp, type: "offer", workflow_id: workflowId, test: $("draft").checked,
    }) });
    state.callId = answer.call_id;
    state.pcId = answer.pc_id;
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    const late = state.pendingCandidates.filter((c) => !pc.localDescription.sdp.includes(c.candidate));
    state.pendingCandidates = [];
    await sendCandidates(late);
    $("stop").disabled = false;
  } catch (error) {
    setStatus(`Could not start the call: ${error.message}`, true);
    teardown();
    $("start").disabled = false;
  }
}

function teardown() {
  const pc = state.pc;
  state.pc = null; // first: closing fires the data channel's onclose
  if (pc) { pc.onconnectionstatechange = null; pc.close(); }
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
}

async function endCall() {
  if (!state.pc) return;
  teardown();
  $("stop").disabled = true;
  $("start").disabled = false;
  setStatus("Call ended.");
  if (state.callId) showRecord(state.callId);
}

async function showRecord(callId) {
  // The server finalizes the call a moment after the peer closes.
  for (let attempt = 0; attempt < 20; attempt++) {
    const call = await api(`/api/v1/calls/${callId}`).catch(() => null);
    if (call && call.ended_at) return renderRecord(call);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function ms(value) { return value == null ? "" : `${Math.round(value)} ms`; }

function renderRecord(call) {
  const body = $("turns").querySelector("tbody");
  body.innerHTML = "";
  for (const turn of call.turns) {
    const row = document.createElement("tr");
    const lat = turn.latency || {};
    const cells = [turn.index, turn.speaker + (turn.interrupted ? " (interrupted)" : ""), turn.text,
                   ms(lat.stt_final_ms), ms(lat.agent_first_token_ms), ms(lat.tts_first_audio_ms), ms(lat.first_audio_out_ms)];
    for (const value of cells) {
      const td = document.createElement("td");
      td.textContent = String(value);
      row.appendChild(td);
    }
    body.appendChild(row);
  }
  const usage = call.usage.map((u) => `${u.kind} ${u.provider}: ${Math.round(u.quantity * 100) / 100}`).join(" · ");
  $("usage").textContent = `${call.status}, ${Math.round(call.duration_seconds || 0)} s, engine ${call.engine || "?"}. ${usage}`;
  $("summary").hidden = false;
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const tokens = await api("/api/v1/auth/login", { method: "POST", body: JSON.stringify({
      email: $("email").value, password: $("password").value }) });
    state.token = tokens.access_token;
    sessionStorage.setItem("sb_token", state.token);
    showSignedIn(true);
    await loadWorkflows();
  } catch (error) {
    alert(`Sign-in failed: ${error.message}`);
  }
});
$("start").addEventListener("click", startCall);
$("stop").addEventListener("click", endCall);
$("signout").addEventListener("click", () => { endCall(); signOut(); });

if (state.token) {
  showSignedIn(true);
  loadWorkflows().catch(() => signOut());
}
