/**
 * Reading the runnable examples out of the Markdown docs (the convention is in docs/README.md):
 * fenced blocks, the `<!-- example -->` / `<!-- result: COMMAND [PATH] -->` markers in front of
 * them, the shell script a block stands for, and the keys of a documented JSON document (read
 * leniently: trimmed documents write `...` where values were left out).
 */

/** What the marker in front of a fenced block says. */
export type Marker =
  | { kind: 'example'; continue: boolean }
  | { kind: 'skip'; reason: string }
  | { kind: 'result'; command: string; path: string[] };

export interface DocBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string (`sh`, `json`, ...), '' when none. */
  lang: string;
  /** The lines between the fences. */
  body: string[];
  marker: Marker | null;
}

const FENCE = /^\s*(```+|~~~+)\s*([\w-]*)/;
const MARKER = /^\s*<!--\s*(example|result)\s*(?::\s*(.*?))?\s*-->\s*$/;

function parseMarker(kind: string, arg: string | undefined, where: string): Marker {
  const a = (arg ?? '').trim();
  if (kind === 'result') {
    const words = a.split(/\s+/).filter(Boolean);
    const pathWord = words.length > 1 && words[words.length - 1].startsWith('.') ? words.pop() : undefined;
    if (words.length === 0) throw new Error(`${where}: <!-- result: COMMAND [.PATH] --> needs the command`);
    return { kind: 'result', command: words.join(' '), path: pathWord ? pathWord.slice(1).split('.') : [] };
  }
  if (a === '') return { kind: 'example', continue: false };
  if (a === 'continue') return { kind: 'example', continue: true };
  const skip = /^skip\s*(?:\((.*)\)|[-:]\s*(.*))$/.exec(a);
  if (skip && (skip[1] ?? skip[2] ?? '').trim() !== '') return { kind: 'skip', reason: (skip[1] ?? skip[2]).trim() };
  throw new Error(`${where}: unknown example marker "${a}" (use <!-- example -->, <!-- example: continue --> or <!-- example: skip (REASON) -->)`);
}

/** Every fenced block of a Markdown document, with the marker that precedes it (blank lines may sit between). */
export function parseDoc(text: string, file = 'doc'): DocBlock[] {
  const lines = text.split('\n');
  const blocks: DocBlock[] = [];
  let pending: Marker | null = null;
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]);
    if (m) {
      pending = parseMarker(m[1], m[2], `${file}:${i + 1}`);
      continue;
    }
    const f = FENCE.exec(lines[i]);
    if (!f) {
      if (lines[i].trim() !== '') pending = null;
      continue;
    }
    const close = f[1];
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i].trim().startsWith(close) && lines[i].trim().replace(/[`~]/g, '') === ''); i++) body.push(lines[i]);
    // blocks indented inside a list item keep their indentation: strip the fence's
    const indent = /^\s*/.exec(lines[start])?.[0].length ?? 0;
    blocks.push({ line: start + 1, lang: f[2], body: body.map((l) => l.slice(Math.min(indent, /^\s*/.exec(l)?.[0].length ?? 0))), marker: pending });
    pending = null;
  }
  return blocks;
}

/** A block in transcript form: the commands after `$ ` (with `\` continuations) and the output each shows. */
export interface TranscriptStep {
  command: string;
  output: string[];
}

export function isTranscript(block: DocBlock): boolean {
  return block.body.some((l) => l.startsWith('$ '));
}

export function transcriptSteps(block: DocBlock): TranscriptStep[] {
  const steps: TranscriptStep[] = [];
  for (let i = 0; i < block.body.length; i++) {
    const l = block.body[i];
    if (l.startsWith('$ ')) {
      let cmd = l.slice(2);
      while (cmd.endsWith('\\') && i + 1 < block.body.length) cmd = `${cmd.slice(0, -1)} ${block.body[++i].trim()}`;
      steps.push({ command: cmd, output: [] });
    } else if (steps.length > 0) steps[steps.length - 1].output.push(l);
  }
  return steps;
}

/** Does a block show a spikeclip command (a line that runs `spikeclip ...`, or `$ spikeclip ...`)? */
export function showsCommand(block: DocBlock): boolean {
  return block.body.some((l) => /^\s*(\$ )?([A-Z_]+=\S+ )*spikeclip\s/.test(l) || /^\s+spikeclip\s/.test(l));
}

// --- lenient JSON -------------------------------------------------------------------------------

/** A documented JSON value: objects keep their keys in order, everything else is opaque. */
export type LooseValue = { object: Map<string, LooseValue> } | { array: LooseValue[] } | { scalar: string };

/**
 * Reads a documented JSON document leniently: `...` (or any bare words) where values, members or
 * items were left out, and trailing commas, are skipped. Only the structure and the keys matter.
 */
export function parseLooseJson(text: string): LooseValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const str = (): string => {
    let out = '';
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      out += text[i++];
    }
    i++;
    return out;
  };
  const bare = (): string => {
    const s = i;
    while (i < text.length && !'{}[],:"'.includes(text[i])) i++;
    return text.slice(s, i).trim();
  };
  const value = (): LooseValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const object = new Map<string, LooseValue>();
      for (;;) {
        ws();
        if (i >= text.length) return { object };
        if (text[i] === '}') {
          i++;
          return { object };
        }
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '"') {
          const k = str();
          ws();
          if (text[i] === ':') {
            i++;
            object.set(k, value());
          }
          continue;
        }
        if (text[i] === '{' || text[i] === '[') {
          value(); // junk
          continue;
        }
        if (bare() === '' && i < text.length) i++; // skip a stray ':' and go on
      }
    }
    if (c === '[') {
      i++;
      const array: LooseValue[] = [];
      for (;;) {
        ws();
        if (i >= text.length) return { array };
        if (text[i] === ']') {
          i++;
          return { array };
        }
        if (text[i] === ',') {
          i++;
          continue;
        }
        const before = i;
        const v = value();
        if ('scalar' in v && (v.scalar === '' || /^\.\.\./.test(v.scalar))) {
          if (i === before) i++;
          continue;
        }
        array.push(v);
      }
    }
    if (c === '"') return { scalar: str() };
    return { scalar: bare() };
  };
  return value();
}

/**
 * The keys a documented `--json` output promises: the members of the top-level object, or of its
 * `result` when the document is the whole envelope (`{"status", "result", ...}`).
 */
export function documentedKeys(jsonText: string): string[] {
  let v = parseLooseJson(jsonText);
  if ('object' in v && v.object.has('status') && v.object.has('result')) v = v.object.get('result') as LooseValue;
  if (!('object' in v)) throw new Error('the documented JSON is not an object');
  return [...v.object.keys()];
}

/** The value at `path` of a parsed JSON document (undefined when absent). */
export function atPath(doc: unknown, path: string[]): unknown {
  let v = doc;
  for (const p of path) {
    if (Array.isArray(v)) v = v[Number(p)];
    else if (v !== null && typeof v === 'object') v = (v as Record<string, unknown>)[p];
    else return undefined;
  }
  return v;
}
