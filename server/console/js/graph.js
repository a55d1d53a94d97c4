// The workflow graph drawn as SVG from the definition's nodes and edges: nodes in layers by
// distance from the start node, edges as curves. Nodes are buttons (Enter/Space/click select).
import { html } from "./ui.js";

const W = 150, H = 46, GX = 50, GY = 22;

function layers(nodes, edges) {
  const start = nodes.find((n) => n.type === "start") || nodes[0];
  const depth = new Map();
  if (start) depth.set(start.id, 0);
  const queue = start ? [start.id] : [];
  while (queue.length) {
    const id = queue.shift();
    for (const e of edges) {
      if (e.from === id && !depth.has(e.to) && nodes.some((n) => n.id === e.to)) {
        depth.set(e.to, depth.get(id) + 1);
        queue.push(e.to);
      }
    }
  }
  const maxDepth = Math.max(0, ...depth.values());
  for (const n of nodes) if (!depth.has(n.id)) depth.set(n.id, maxDepth + 1); // unreachable: last column
  const columns = [];
  for (const n of nodes) (columns[depth.get(n.id)] ||= []).push(n);
  return columns.filter(Boolean);
}

export function Graph({ definition, selected, onSelect }) {
  const nodes = Array.isArray(definition?.nodes) ? definition.nodes.filter((n) => n && typeof n.id === "string") : [];
  const edges = Array.isArray(definition?.edges) ? definition.edges.filter((e) => e && e.from && e.to) : [];
  if (!nodes.length) return html`<p class="hint">No nodes to draw.</p>`;
  const columns = layers(nodes, edges);
  const pos = new Map();
  const rows = Math.max(...columns.map((c) => c.length));
  columns.forEach((col, x) => col.forEach((n, y) => {
    const offset = ((rows - col.length) * (H + GY)) / 2;
    pos.set(n.id, { x: 10 + x * (W + GX), y: 10 + offset + y * (H + GY) });
  }));
  const width = 20 + columns.length * (W + GX) - GX;
  const height = 20 + rows * (H + GY) - GY;
  const key = (event, id) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); onSelect(id); } };
  return html`<div class="graph-wrap"><svg class="graph" width=${width} height=${height} viewBox="0 0 ${width} ${height}" role="group" aria-label="Workflow graph: ${nodes.length} nodes, ${edges.length} edges">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path class="arrow" d="M 0 0 L 10 5 L 0 10 z" /></marker></defs>
    ${edges.map((e) => {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) return null;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      const back = x2 <= x1;
      const d = back
        ? `M ${a.x + W / 2} ${a.y + H} C ${a.x + W / 2} ${a.y + H + 40}, ${b.x + W / 2} ${b.y + H + 40}, ${b.x + W / 2} ${b.y + H}`
        : `M ${x1} ${y1} C ${x1 + GX / 2} ${y1}, ${x2 - GX / 2} ${y2}, ${x2} ${y2}`;
      return html`<path class="edge" d=${d} marker-end="url(#arrow)"><title>${e.from} → ${e.to}: ${e.condition || ""}</title></path>`;
    })}
    ${nodes.map((n) => {
      const p = pos.get(n.id);
      const label = (n.name || n.id).slice(0, 20);
      return html`<g class="node ${n.type || ""} ${selected === n.id ? "selected" : ""}" transform="translate(${p.x},${p.y})"
          tabindex="0" role="button" aria-pressed=${selected === n.id}
          onClick=${() => onSelect(n.id)} onKeyDown=${(ev) => key(ev, n.id)} data-node=${n.id}>
        <title>Node ${n.name || n.id} (${n.type || "node"})</title>
        <rect width=${W} height=${H} rx="8" />
        <text x="10" y="19" font-weight="600">${label}</text>
        <text x="10" y="36" class="hint" opacity="0.75">${n.type || ""}</text>
      </g>`;
    })}
  </svg></div>`;
}
