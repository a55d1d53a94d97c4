// Where a JSON pointer lands in a JSON text: a small scanner that records the character
// range of every value by its pointer, so a problem reported at "/nodes/2/prompt" can be
// selected in the editor. Falls back to the nearest existing parent.
export function pointerRanges(text) {
  const ranges = new Map();
  let i = 0;
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const str = () => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const esc = (key) => String(key).replace(/~/g, "~0").replace(/\//g, "~1");
  const value = (pointer) => {
    ws();
    const start = i;
    const c = text[i];
    if (c === "{") {
      i++; ws();
      if (text[i] === "}") i++;
      else for (;;) {
        ws(); const key = str(); ws(); i++; // ':'
        value(`${pointer}/${esc(key)}`); ws();
        if (text[i] === ",") { i++; continue; }
        i++; break;
      }
    } else if (c === "[") {
      i++; ws();
      if (text[i] === "]") i++;
      else for (let n = 0; ; n++) {
        value(`${pointer}/${n}`); ws();
        if (text[i] === ",") { i++; continue; }
        i++; break;
      }
    } else if (c === '"') str();
    else { while (i < text.length && !",}] \t\n\r".includes(text[i])) i++; }
    ranges.set(pointer, [start, i]);
  };
  try { value(""); } catch (_) { /* invalid JSON: whatever was found */ }
  return ranges;
}

export function locate(text, pointer) {
  const ranges = pointerRanges(text);
  let p = pointer;
  while (p && !ranges.has(p)) p = p.slice(0, p.lastIndexOf("/"));
  return ranges.get(p) || [0, 0];
}

export function lineOf(text, offset) { return text.slice(0, offset).split("\n").length; }
