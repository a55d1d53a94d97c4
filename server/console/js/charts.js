// Hand-made SVG charts for the call page: the recording timeline (turns on two lanes, click
// one to play from there) and the per-turn latency waterfall.
import { html, fmtMs } from "./ui.js";

const LANES = ["user", "agent", "tool"];

export function Timeline({ turns, t0, duration, position, onSeek }) {
  const width = 1000, lane = 22, top = 6, height = top + LANES.length * (lane + 6) + 18;
  const scale = (s) => 70 + (Math.max(0, Math.min(s, duration)) / Math.max(duration, 0.001)) * (width - 80);
  const ticks = [];
  const step = duration > 120 ? 30 : duration > 30 ? 10 : 5;
  for (let s = 0; s <= duration; s += step) ticks.push(s);
  const key = (event, at) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); onSeek(at); } };
  return html`<svg class="timeline" viewBox="0 0 ${width} ${height}" role="group" aria-label="Recording timeline: click a turn to play it">
    ${LANES.map((name, i) => html`<text class="lane-label" x="0" y=${top + i * (lane + 6) + 15}>${name}</text>`)}
    ${turns.map((turn) => {
      const start = (new Date(turn.started_at) - t0) / 1000;
      const end = Math.max(start + 0.25, (new Date(turn.ended_at) - t0) / 1000);
      const y = top + LANES.indexOf(turn.speaker) * (lane + 6);
      const x = scale(start);
      return html`<g class="turn ${turn.speaker}" tabindex="0" role="button" data-turn=${turn.index}
          aria-label="Play turn ${turn.index + 1} (${turn.speaker}) from ${start.toFixed(1)} s"
          onClick=${() => onSeek(start)} onKeyDown=${(e) => key(e, start)}>
        <rect x=${x} y=${y} width=${Math.max(3, scale(end) - x)} height=${lane} rx="3" />
        <title>${turn.speaker} ${start.toFixed(1)} s: ${turn.text}</title>
      </g>`;
    })}
    ${ticks.map((s) => html`<text class="axis" x=${scale(s)} y=${height - 2} text-anchor="middle">${s}s</text>`)}
    <line class="playhead" x1=${scale(position)} x2=${scale(position)} y1="0" y2=${height - 14} />
  </svg>`;
}

const SEGMENTS = [
  ["stt", "STT final", (l) => [0, l.stt_final_ms]],
  ["llm", "First token", (l) => [l.stt_final_ms ?? 0, l.agent_first_token_ms]],
  ["tts", "First TTS audio", (l) => [l.agent_first_token_ms ?? l.stt_final_ms ?? 0, l.tts_first_audio_ms]],
  ["out", "First audio out", (l) => [l.tts_first_audio_ms ?? l.agent_first_token_ms ?? 0, l.first_audio_out_ms]],
];

export function Waterfall({ turns }) {
  const rows = turns.filter((t) => t.latency);
  if (!rows.length) return html`<p class="hint">No per-turn latency recorded for this call.</p>`;
  const max = Math.max(100, ...rows.flatMap((t) => Object.values(t.latency).filter((v) => v != null)));
  const width = 560, left = 56, right = 64, row = 20, height = 24 + rows.length * (row + 6);
  const x = (ms) => left + (ms / max) * (width - left - right);
  const gridStep = max > 4000 ? 1000 : max > 1500 ? 500 : max > 600 ? 200 : 100;
  const grid = [];
  for (let ms = 0; ms <= max; ms += gridStep) grid.push(ms);
  return html`<div>
    <div class="legend">${SEGMENTS.map(([cls, label]) => html`<span style="--swatch: var(--${cls}, currentColor)" class="lg-${cls}">${label}</span>`)}</div>
    <svg class="waterfall" viewBox="0 0 ${width} ${height}" role="img" data-testid="waterfall"
      aria-label="Latency per agent turn, from the end of the caller's speech: ${rows.map((t) => `turn ${t.index + 1} ${fmtMs(t.latency.first_audio_out_ms)}`).join(", ")}">
      ${grid.map((ms) => html`<line class="grid" x1=${x(ms)} x2=${x(ms)} y1="0" y2=${height - 14} /><text class="axis" x=${x(ms)} y=${height - 2} text-anchor="middle">${ms}</text>`)}
      ${rows.map((t, i) => {
        const y = 4 + i * (row + 6);
        return html`<g>
          <text x="0" y=${y + 14}>Turn ${t.index + 1}</text>
          ${SEGMENTS.map(([cls, label, span]) => {
            const [a, b] = span(t.latency);
            if (b == null) return null;
            return html`<rect class="seg-${cls}" x=${x(a)} y=${y} width=${Math.max(2, x(b) - x(a))} height=${row}><title>${label}: ${fmtMs(b)} (+${fmtMs(b - a)})</title></rect>`;
          })}
          <text x=${x(t.latency.first_audio_out_ms ?? t.latency.tts_first_audio_ms ?? 0) + 6} y=${y + 15}>${fmtMs(t.latency.first_audio_out_ms)}</text>
        </g>`;
      })}
    </svg></div>`;
}
