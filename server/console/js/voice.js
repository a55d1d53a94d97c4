// A browser call over WebRTC (grown from /talk's talk.js): microphone in, the agent's audio
// out, live transcript from the RTVI messages pipecat sends on the "chat" data channel.
// Signalling: POST /api/v1/webrtc/offer, then PATCH for late ICE candidates.
import { api } from "./api.js";

function waitForGathering(pc, ms) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, ms);
  });
}

export class VoiceCall {
  // on: {status(text, isError), line(speaker, text, interim), ended(callId), audio(stream)}
  constructor(on) { this.on = on; this.pc = null; this.stream = null; this.callId = null; this.pcId = null; this.pending = []; }

  async start(workflowId, test, variables = {}) {
    this.on.status("Asking for the microphone…");
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    let servers = [];
    try { servers = (await api("/api/v1/webrtc/ice-servers")).ice_servers; } catch (_) { /* host candidates only */ }
    const pc = (this.pc = new RTCPeerConnection({ iceServers: servers }));
    const channel = pc.createDataChannel("chat");
    channel.onmessage = (event) => this.onMessage(event);
    // the server closes the peer when the call ends (hang-up, shutdown): the data channel
    // closes at once, long before the connection state notices
    channel.onclose = () => { if (this.pc === pc) this.stop(); };
    pc.addTransceiver(this.stream.getAudioTracks()[0], { direction: "sendrecv" });
    pc.ontrack = (event) => this.on.audio(event.streams[0] || new MediaStream([event.track]));
    pc.onicecandidate = (event) => {
      if (!event.candidate) return;
      if (this.pcId) this.sendCandidates([event.candidate]); else this.pending.push(event.candidate);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") this.on.status("Connected: speak now.");
      if (["failed", "closed", "disconnected"].includes(pc.connectionState)) this.stop();
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc, 1500);
    this.on.status("Connecting…");
    const answer = await api("/api/v1/webrtc/offer", { method: "POST", body: {
      sdp: pc.localDescription.sdp, type: "offer", workflow_id: workflowId, test, variables } });
    this.callId = answer.call_id;
    this.pcId = answer.pc_id;
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    const late = this.pending.filter((c) => !pc.localDescription.sdp.includes(c.candidate));
    this.pending = [];
    await this.sendCandidates(late);
    return this.callId;
  }

  async sendCandidates(candidates) {
    if (!candidates.length || !this.pcId) return;
    await api("/api/v1/webrtc/offer", { method: "PATCH", body: {
      pc_id: this.pcId,
      candidates: candidates.map((c) => ({ candidate: c.candidate, sdp_mid: c.sdpMid, sdp_mline_index: c.sdpMLineIndex })),
    } }).catch(() => {});
  }

  onMessage(event) {
    let message;
    try { message = JSON.parse(event.data); } catch (_) { return; }
    if (message.label !== "rtvi-ai") return;
    const data = message.data || {};
    switch (message.type) {
      case "user-transcription":
        if (data.text) this.on.line("user", data.text, !data.final);
        break;
      case "bot-tts-text":
        if (data.text) this.on.line("agent", data.text, false, true);
        break;
      case "user-started-speaking": case "bot-stopped-speaking":
        this.on.line(null);
        break;
    }
  }

  stop() {
    const pc = this.pc;
    if (!pc) return;
    this.pc = null; // first: closing fires the data channel's onclose
    pc.onconnectionstatechange = null;
    pc.close();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.on.ended(this.callId);
  }
}
