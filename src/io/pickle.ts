/**
 * A safe pickle reader: a pickle virtual machine that can only build data.
 *
 * Python's pickle format is a small stack language whose GLOBAL/STACK_GLOBAL opcodes import any
 * Python callable and whose REDUCE/NEWOBJ/BUILD opcodes call it: loading an untrusted pickle with
 * Python runs arbitrary code. This reader executes nothing. Every global a pickle names is looked
 * up in an allow-list the caller passes (a Map from "module.name" to a JS value — usually a
 * function that builds the object from its arguments); any other global is refused with a
 * {@link PickleError} that names it ("refusing to load disallowed global os.system").
 *
 * Supported: protocols 0-5 as written by CPython's pickler for data (dicts, lists, tuples, sets,
 * numbers, strings, bytes, None, booleans), memo opcodes, persistent ids (through a caller
 * callback), and REDUCE/NEWOBJ/NEWOBJ_EX/BUILD on allow-listed globals. Not supported (refused):
 * INST/OBJ (protocol 0 class instances), the extension registry (EXT1/2/4) and out-of-band
 * buffers (NEXT_BUFFER/READONLY_BUFFER).
 *
 * Python values map to JS as: None -> null; bool -> boolean; int -> number (bigint beyond 2^53);
 * float -> number; str -> string; bytes/bytearray -> Uint8Array; list and tuple -> Array; dict ->
 * Map; set/frozenset -> Set. Python 2 `str` (STRING/BINSTRING) becomes a latin-1 JS string by
 * default (or a Uint8Array with `py2Strings: 'bytes'`), like Python 3's `encoding='latin1'`.
 *
 * Nothing larger than the input is allocated from a size field: every length is checked against
 * the bytes that remain.
 */
import { BadInputError } from '../errors';
import { oneLine } from './one-line';

/** Any problem with a pickle: malformed data, an unsupported opcode, a refused global. */
export class PickleError extends BadInputError {
  readonly source: string;
  readonly reason: string;

  constructor(source: string, reason: string) {
    super(oneLine(`${source}: ${reason}`), 'E_PICKLE');
    this.name = 'PickleError';
    this.source = source;
    this.reason = reason;
  }
}

/**
 * Allow-listed globals by "module.name". The value is pushed for GLOBAL/STACK_GLOBAL; REDUCE and
 * NEWOBJ call it with the argument tuple spread (so it must be a function then). Values that are
 * not functions (markers such as torch storage types) can be referenced but not called.
 */
export type PickleGlobals = ReadonlyMap<string, unknown>;

/**
 * An object built by an allow-listed global may implement BUILD (Python's `__setstate__`)
 * by a method under this symbol. Without one, BUILD on a Map or plain object stores the state as
 * attributes (see {@link pickleAttributes}).
 */
export const PICKLE_SETSTATE: unique symbol = Symbol('pickle.setstate');

/** Attributes set by BUILD on a dict-like object (e.g. the `_metadata` of a PyTorch state dict). */
export const PICKLE_ATTRS: unique symbol = Symbol('pickle.attrs');

export interface SetStateCapable {
  [PICKLE_SETSTATE](state: unknown): unknown;
}

export interface PickleOptions {
  /** Name of the file (or thing) the bytes came from, for error messages. */
  source?: string;
  /** Allowed globals; nothing else can be loaded. Default: none. */
  globals?: PickleGlobals;
  /** Called for BINPERSID/PERSID with the persistent id; without it, persistent ids are refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** How Python 2 `str` values are returned: latin-1 JS strings (default) or raw bytes. */
  py2Strings?: 'latin1' | 'bytes';
  /** Refuse nesting deeper than this many open MARKs (default 10,000). */
  maxMarkDepth?: number;
}

/** Attributes BUILD stored on a Map or object, if any. */
export function pickleAttributes(obj: unknown): Map<unknown, unknown> | undefined {
  if (typeof obj === 'object' && obj !== null) {
    const a = (obj as Record<symbol, unknown>)[PICKLE_ATTRS];
    if (a instanceof Map) return a;
  }
  return undefined;
}

/** Opcode names for messages. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');
type Slot = unknown;

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v === MARK) return 'MARK';
  if (Array.isArray(v)) return 'list/tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'function') return `global ${(v as { pickleName?: string }).pickleName ?? v.name}`;
  return typeof v;
}

/** The globals' names, attached for messages ("global torch.FloatStorage is not callable"). */
const GLOBAL_NAMES = new WeakMap<object, string>();

function globalName(v: unknown): string {
  if ((typeof v === 'object' || typeof v === 'function') && v !== null) {
    const n = GLOBAL_NAMES.get(v);
    if (n !== undefined) return n;
  }
  return describe(v);
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Little-endian two's complement bytes -> number (or bigint when outside the safe range). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  if (b.length <= 6) {
    let v = 0;
    for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i];
    if (b[b.length - 1] & 0x80) v -= 2 ** (8 * b.length);
    return v;
  }
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return narrow(v);
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Runs a pickle and returns the object it builds. */
export function unpickle(bytes: Uint8Array, opts: PickleOptions = {}): unknown {
  return new Unpickler(bytes, opts).load();
}

class Unpickler {
  private readonly b: Uint8Array;
  private readonly view: DataView;
  private readonly src: string;
  private readonly globals: PickleGlobals;
  private readonly opts: PickleOptions;
  private pos = 0;
  private stack: Slot[] = [];
  private readonly metastack: Slot[][] = [];
  private readonly memo = new Map<number, Slot>();

  constructor(bytes: Uint8Array, opts: PickleOptions) {
    this.b = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.src = opts.source ?? '<pickle>';
    this.globals = opts.globals ?? new Map();
    this.opts = opts;
  }

  private fail(reason: string): never {
    throw new PickleError(this.src, reason);
  }

  private need(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`invalid length ${n} for ${what}`);
    if (this.pos + n > this.b.length) {
      this.fail(`truncated pickle: ${what} needs ${n} bytes at offset ${this.pos} but only ${this.b.length - this.pos} remain`);
    }
  }

  private take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++];
  }

  private u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(this.b.length)) this.fail(`truncated pickle: ${what} declares ${v} bytes, more than the whole pickle`);
    return Number(v);
  }

  /** A text line ending in \n (protocol 0 arguments). */
  private line(what: string): string {
    const end = this.b.indexOf(0x0a, this.pos);
    if (end < 0) this.fail(`truncated pickle: ${what} has no terminating newline`);
    const s = latin1(this.b.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  private pop(what: string): Slot {
    if (this.stack.length === 0) this.fail(`stack underflow at ${what} (offset ${this.pos - 1})`);
    const v = this.stack.pop();
    if (v === MARK) this.fail(`unexpected MARK on the stack at ${what}`);
    return v;
  }

  private top(what: string): Slot {
    if (this.stack.length === 0) this.fail(`stack underflow at ${what} (offset ${this.pos - 1})`);
    const v = this.stack[this.stack.length - 1];
    if (v === MARK) this.fail(`unexpected MARK on the stack at ${what}`);
    return v;
  }

  /** Pops everything above the last MARK (and the mark itself). */
  private popMark(what: string): Slot[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (prev === undefined) this.fail(`${what} without a MARK (offset ${this.pos - 1})`);
    this.stack = prev;
    return items;
  }

  private py2String(bytes: Uint8Array): string | Uint8Array {
    return this.opts.py2Strings === 'bytes' ? new Uint8Array(bytes) : latin1(bytes);
  }

  private unicode(bytes: Uint8Array, what: string): string {
    try {
      return utf8.decode(bytes);
    } catch {
      // Python's pickler writes lone surrogates with 'surrogatepass'; accept them leniently.
      void what;
      return new TextDecoder('utf-8').decode(bytes);
    }
  }

  private findGlobal(module: string, name: string): unknown {
    const full = `${module}.${name}`;
    if (!this.globals.has(full)) {
      this.fail(`refusing to load disallowed global ${full} (this reader only rebuilds plain data${this.globals.size > 0 ? ` and ${[...this.globals.keys()].slice(0, 4).join(', ')}${this.globals.size > 4 ? ', ...' : ''}` : ''})`);
    }
    const v = this.globals.get(full);
    if ((typeof v === 'object' || typeof v === 'function') && v !== null && !GLOBAL_NAMES.has(v)) GLOBAL_NAMES.set(v, full);
    return v;
  }

  private call(fn: unknown, args: unknown, op: string): unknown {
    if (typeof fn !== 'function') this.fail(`${op}: ${globalName(fn)} is not callable`);
    if (!Array.isArray(args)) this.fail(`${op}: arguments of ${globalName(fn)} must be a tuple, got ${describe(args)}`);
    try {
      return (fn as (...a: unknown[]) => unknown)(...args);
    } catch (err) {
      if (err instanceof PickleError) throw err;
      this.fail(`${op} ${globalName(fn)}: ${(err as Error).message}`);
    }
  }

  private build(obj: unknown, state: unknown): void {
    if (typeof obj === 'object' && obj !== null && typeof (obj as Partial<SetStateCapable>)[PICKLE_SETSTATE] === 'function') {
      try {
        (obj as SetStateCapable)[PICKLE_SETSTATE](state);
      } catch (err) {
        if (err instanceof PickleError) throw err;
        this.fail(`BUILD: ${(err as Error).message}`);
      }
      return;
    }
    if (state === null) return;
    if ((obj instanceof Map || (typeof obj === 'object' && obj !== null && Object.getPrototypeOf(obj) === Object.prototype)) ) {
      // Python's default: obj.__dict__.update(state); state may be (dict, slotstate).
      let dict = state;
      if (Array.isArray(state) && state.length === 2) dict = state[0] ?? state[1];
      if (!(dict instanceof Map)) this.fail(`BUILD: cannot set state of type ${describe(state)} on ${describe(obj)}`);
      const attrs = pickleAttributes(obj) ?? new Map<unknown, unknown>();
      for (const [k, v] of dict) attrs.set(k, v);
      Object.defineProperty(obj, PICKLE_ATTRS, { value: attrs, enumerable: false, configurable: true });
      return;
    }
    this.fail(`BUILD: cannot set state on ${globalName(obj)} (offset ${this.pos - 1})`);
  }

  private setItems(dict: unknown, items: Slot[], op: string): void {
    if (items.length % 2 !== 0) this.fail(`${op}: odd number of items`);
    if (dict instanceof Map) {
      for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
      return;
    }
    const setter = dict as { set?: unknown } | null;
    if (typeof setter === 'object' && setter !== null && typeof setter.set === 'function') {
      for (let i = 0; i < items.length; i += 2) (setter.set as (k: unknown, v: unknown) => void).call(dict, items[i], items[i + 1]);
      return;
    }
    this.fail(`${op} on ${describe(dict)}`);
  }

  private appendItems(list: unknown, items: Slot[], op: string): void {
    if (Array.isArray(list)) {
      for (const it of items) list.push(it);
      return;
    }
    const l = list as { append?: unknown } | null;
    if (typeof l === 'object' && l !== null && typeof l.append === 'function') {
      for (const it of items) (l.append as (v: unknown) => void).call(list, it);
      return;
    }
    this.fail(`${op} on ${describe(list)}`);
  }

  private persistent(pid: unknown): unknown {
    if (this.opts.persistentLoad === undefined) this.fail('refusing a persistent id: this file is not expected to reference external storage');
    return this.opts.persistentLoad(pid);
  }

  private memoGet(i: number): Slot {
    if (!this.memo.has(i)) this.fail(`memo key ${i} is not defined (offset ${this.pos})`);
    return this.memo.get(i);
  }

  load(): unknown {
    const maxMarks = this.opts.maxMarkDepth ?? 10_000;
    const b = this.b;
    for (;;) {
      if (this.pos >= b.length) this.fail('truncated pickle: no STOP opcode');
      const op = b[this.pos++];
      switch (op) {
        case 0x80: {
          // PROTO
          const proto = this.u8('PROTO');
          if (proto > 5) this.fail(`unsupported pickle protocol ${proto}`);
          break;
        }
        case 0x95: // FRAME: the frame length only helps buffered readers
          this.u64('FRAME');
          break;
        case 0x2e: // STOP
          return this.pop('STOP');
        case 0x28: // MARK
          if (this.metastack.length >= maxMarks) this.fail(`more than ${maxMarks} nested MARKs`);
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x30: // POP
          if (this.stack.length === 0) {
            this.popMark('POP');
          } else {
            this.stack.pop();
          }
          break;
        case 0x31: // POP_MARK
          this.popMark('POP_MARK');
          break;
        case 0x32: // DUP
          this.stack.push(this.top('DUP'));
          break;
        // ---- numbers
        case 0x4a: // BININT
          this.stack.push(this.i32('BININT'));
          break;
        case 0x4b: // BININT1
          this.stack.push(this.u8('BININT1'));
          break;
        case 0x4d: // BININT2
          this.stack.push(this.u16('BININT2'));
          break;
        case 0x8a: {
          // LONG1
          const n = this.u8('LONG1');
          this.stack.push(decodeLong(this.take(n, 'LONG1')));
          break;
        }
        case 0x8b: {
          // LONG4
          const n = this.i32('LONG4');
          if (n < 0) this.fail('LONG4 with a negative length');
          this.stack.push(decodeLong(this.take(n, 'LONG4')));
          break;
        }
        case 0x49: {
          // INT (protocol 0): also "00"/"01" for False/True
          const s = this.line('INT').trim();
          if (s === '00') this.stack.push(false);
          else if (s === '01') this.stack.push(true);
          else if (/^[+-]?\d+$/.test(s)) this.stack.push(narrow(BigInt(s)));
          else this.fail(`INT: invalid literal ${JSON.stringify(s)}`);
          break;
        }
        case 0x4c: {
          // LONG (protocol 0)
          const s = this.line('LONG').trim().replace(/L$/, '');
          if (!/^[+-]?\d+$/.test(s)) this.fail(`LONG: invalid literal ${JSON.stringify(s)}`);
          this.stack.push(narrow(BigInt(s)));
          break;
        }
        case 0x47: // BINFLOAT (big-endian double)
          this.need(8, 'BINFLOAT');
          this.stack.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        case 0x46: {
          // FLOAT (protocol 0)
          const s = this.line('FLOAT').trim();
          const v = Number(s);
          if (s === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(s))) this.fail(`FLOAT: invalid literal ${JSON.stringify(s)}`);
          this.stack.push(v);
          break;
        }
        // ---- constants
        case 0x4e:
          this.stack.push(null);
          break;
        case 0x88:
          this.stack.push(true);
          break;
        case 0x89:
          this.stack.push(false);
          break;
        // ---- strings and bytes
        case 0x58: {
          // BINUNICODE
          const n = this.u32('BINUNICODE');
          this.stack.push(this.unicode(this.take(n, 'BINUNICODE'), 'BINUNICODE'));
          break;
        }
        case 0x8c: {
          const n = this.u8('SHORT_BINUNICODE');
          this.stack.push(this.unicode(this.take(n, 'SHORT_BINUNICODE'), 'SHORT_BINUNICODE'));
          break;
        }
        case 0x8d: {
          const n = this.u64('BINUNICODE8');
          this.stack.push(this.unicode(this.take(n, 'BINUNICODE8'), 'BINUNICODE8'));
          break;
        }
        case 0x56: {
          // UNICODE (protocol 0, raw-unicode-escape)
          const s = this.line('UNICODE').replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, c: string | undefined) =>
            String.fromCodePoint(parseInt((a ?? c) as string, 16)),
          );
          this.stack.push(s);
          break;
        }
        case 0x42: {
          const n = this.u32('BINBYTES');
          this.stack.push(new Uint8Array(this.take(n, 'BINBYTES')));
          break;
        }
        case 0x43: {
          const n = this.u8('SHORT_BINBYTES');
          this.stack.push(new Uint8Array(this.take(n, 'SHORT_BINBYTES')));
          break;
        }
        case 0x8e: {
          const n = this.u64('BINBYTES8');
          this.stack.push(new Uint8Array(this.take(n, 'BINBYTES8')));
          break;
        }
        case 0x96: {
          const n = this.u64('BYTEARRAY8');
          this.stack.push(new Uint8Array(this.take(n, 'BYTEARRAY8')));
          break;
        }
        case 0x54: {
          // BINSTRING (Python 2 str)
          const n = this.i32('BINSTRING');
          if (n < 0) this.fail('BINSTRING with a negative length');
          this.stack.push(this.py2String(this.take(n, 'BINSTRING')));
          break;
        }
        case 0x55: {
          const n = this.u8('SHORT_BINSTRING');
          this.stack.push(this.py2String(this.take(n, 'SHORT_BINSTRING')));
          break;
        }
        case 0x53: {
          // STRING (protocol 0): a quoted Python literal
          const s = this.line('STRING').trim();
          const q = s[0];
          if (s.length < 2 || (q !== '"' && q !== "'") || s[s.length - 1] !== q) this.fail('STRING: the argument must be quoted');
          const bytes = unescapePy2(s.slice(1, -1), (m) => this.fail(`STRING: ${m}`));
          this.stack.push(this.py2String(bytes));
          break;
        }
        // ---- containers
        case 0x7d: // EMPTY_DICT
          this.stack.push(new Map());
          break;
        case 0x5d: // EMPTY_LIST
          this.stack.push([]);
          break;
        case 0x29: // EMPTY_TUPLE
          this.stack.push([]);
          break;
        case 0x8f: // EMPTY_SET
          this.stack.push(new Set());
          break;
        case 0x85: // TUPLE1
          this.stack.push([this.pop('TUPLE1')]);
          break;
        case 0x86: {
          const b2 = this.pop('TUPLE2');
          const a = this.pop('TUPLE2');
          this.stack.push([a, b2]);
          break;
        }
        case 0x87: {
          const c = this.pop('TUPLE3');
          const b2 = this.pop('TUPLE3');
          const a = this.pop('TUPLE3');
          this.stack.push([a, b2, c]);
          break;
        }
        case 0x74: {
          // TUPLE (popMark replaces this.stack: take the items first, then push)
          const items = this.popMark('TUPLE');
          this.stack.push(items);
          break;
        }
        case 0x6c: {
          // LIST
          const items = this.popMark('LIST');
          this.stack.push(items);
          break;
        }
        case 0x64: {
          // DICT
          const items = this.popMark('DICT');
          const d = new Map();
          this.setItems(d, items, 'DICT');
          this.stack.push(d);
          break;
        }
        case 0x91: {
          // FROZENSET
          const items = this.popMark('FROZENSET');
          this.stack.push(new Set(items));
          break;
        }
        case 0x90: {
          // ADDITEMS
          const items = this.popMark('ADDITEMS');
          const s = this.top('ADDITEMS');
          if (!(s instanceof Set)) this.fail(`ADDITEMS on ${describe(s)}`);
          for (const it of items) s.add(it);
          break;
        }
        case 0x61: {
          // APPEND
          const v = this.pop('APPEND');
          this.appendItems(this.top('APPEND'), [v], 'APPEND');
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark('APPENDS');
          this.appendItems(this.top('APPENDS'), items, 'APPENDS');
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop('SETITEM');
          const k = this.pop('SETITEM');
          this.setItems(this.top('SETITEM'), [k, v], 'SETITEM');
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark('SETITEMS');
          this.setItems(this.top('SETITEMS'), items, 'SETITEMS');
          break;
        }
        // ---- memo
        case 0x71: // BINPUT
          this.memo.set(this.u8('BINPUT'), this.top('BINPUT'));
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32('LONG_BINPUT'), this.top('LONG_BINPUT'));
          break;
        case 0x70: {
          // PUT
          const s = this.line('PUT').trim();
          if (!/^\d+$/.test(s)) this.fail(`PUT: invalid memo key ${JSON.stringify(s)}`);
          this.memo.set(Number(s), this.top('PUT'));
          break;
        }
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top('MEMOIZE'));
          break;
        case 0x68: // BINGET
          this.stack.push(this.memoGet(this.u8('BINGET')));
          break;
        case 0x6a: // LONG_BINGET
          this.stack.push(this.memoGet(this.u32('LONG_BINGET')));
          break;
        case 0x67: {
          // GET
          const s = this.line('GET').trim();
          if (!/^\d+$/.test(s)) this.fail(`GET: invalid memo key ${JSON.stringify(s)}`);
          this.stack.push(this.memoGet(Number(s)));
          break;
        }
        // ---- globals and objects
        case 0x63: {
          // GLOBAL "module\nname\n"
          const module = this.line('GLOBAL');
          const name = this.line('GLOBAL');
          this.stack.push(this.findGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop('STACK_GLOBAL');
          const module = this.pop('STACK_GLOBAL');
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL: module and name must be strings');
          this.stack.push(this.findGlobal(module, name));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop('REDUCE');
          const fn = this.pop('REDUCE');
          this.stack.push(this.call(fn, args, 'REDUCE'));
          break;
        }
        case 0x81: {
          // NEWOBJ: cls.__new__(cls, *args)
          const args = this.pop('NEWOBJ');
          const cls = this.pop('NEWOBJ');
          this.stack.push(this.call(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
          const kwargs = this.pop('NEWOBJ_EX');
          const args = this.pop('NEWOBJ_EX');
          const cls = this.pop('NEWOBJ_EX');
          if (!(kwargs instanceof Map) || kwargs.size > 0) this.fail(`NEWOBJ_EX with keyword arguments for ${globalName(cls)} is not supported`);
          this.stack.push(this.call(cls, args, 'NEWOBJ_EX'));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop('BUILD');
          this.build(this.top('BUILD'), state);
          break;
        }
        case 0x51: // BINPERSID
          this.stack.push(this.persistent(this.pop('BINPERSID')));
          break;
        case 0x50: // PERSID
          this.stack.push(this.persistent(this.line('PERSID')));
          break;
        case 0x69:
        case 0x6f:
          this.fail(`refusing opcode ${OPCODE_NAMES[op]} (protocol 0 class instances are not supported)`);
          break;
        case 0x82:
        case 0x83:
        case 0x84:
          this.fail(`refusing opcode ${OPCODE_NAMES[op]} (the copyreg extension registry is not supported)`);
          break;
        case 0x97:
        case 0x98:
          this.fail(`refusing opcode ${OPCODE_NAMES[op]} (out-of-band buffers are not supported)`);
          break;
        default:
          this.fail(`invalid or unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${this.pos - 1}`);
      }
    }
  }
}

/** Python 2 string-literal escapes (for protocol 0 STRING) -> bytes. */
function unescapePy2(s: string, fail: (m: string) => never): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (s[i] !== '\\') {
      if (c > 0xff) fail('non-latin-1 character');
      out.push(c);
      continue;
    }
    const e = s[++i];
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '0': 0 };
    if (e === 'x') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('bad \\x escape');
      out.push(parseInt(h, 16));
      i += 2;
    } else if (e !== undefined && /[0-7]/.test(e)) {
      let j = i;
      while (j < s.length && j < i + 3 && /[0-7]/.test(s[j])) j++;
      out.push(parseInt(s.slice(i, j), 8) & 0xff);
      i = j - 1;
    } else if (e !== undefined && e in simple) {
      out.push(simple[e]);
    } else {
      fail(`unknown escape \\${e ?? ''}`);
    }
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// numpy arrays (CIFAR's python pickles and other numpy-in-pickle data)

/** numpy dtypes this reader can rebuild. */
export type NumpyDType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'int64' | 'float32' | 'float64' | 'bool';

export type NumpyData = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

/** A rebuilt numpy array: C order (Fortran-ordered input is reordered), little-endian values. */
export class NumpyArray {
  dtype: NumpyDType = 'uint8';
  shape: number[] = [];
  data: NumpyData = new Uint8Array(0);

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

/** numpy's dtype object as pickled: `numpy.dtype('u1', False, True)` then BUILD with its state. */
export class NumpyDTypeValue {
  readonly code: string;
  byteOrder = '|';

  constructor(code: string) {
    this.code = code;
  }

  [PICKLE_SETSTATE](state: unknown): void {
    // (version, byteorder, subdescr, names, fields, elsize, alignment, flags[, metadata])
    if (!Array.isArray(state) || state.length < 8) throw new Error('unexpected dtype state');
    if (typeof state[1] !== 'string') throw new Error('dtype byte order must be a string');
    if (state[2] !== null || state[3] !== null || state[4] !== null) throw new Error(`structured dtypes are not supported (dtype ${this.code})`);
    this.byteOrder = state[1];
  }

  resolve(): { dtype: NumpyDType; size: number } {
    const code = this.code.replace(/^[<>|=]/, '');
    if (this.byteOrder === '>' && !['u1', 'i1', 'b1'].includes(code)) throw new Error(`big-endian numpy arrays (dtype ${this.code}) are not supported`);
    const table: Record<string, [NumpyDType, number]> = {
      u1: ['uint8', 1], i1: ['int8', 1], b1: ['bool', 1], u2: ['uint16', 2], i2: ['int16', 2],
      u4: ['uint32', 4], i4: ['int32', 4], i8: ['int64', 8], f4: ['float32', 4], f8: ['float64', 8],
    };
    const t = table[code];
    if (t === undefined) throw new Error(`numpy dtype ${this.code} is not supported (plain numeric dtypes only)`);
    return { dtype: t[0], size: t[1] };
  }
}

function toBytes(raw: unknown): Uint8Array {
  if (raw instanceof Uint8Array) return raw;
  if (typeof raw === 'string') {
    // Python 2 str decoded as latin-1, or _codecs.encode output
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c > 0xff) throw new Error('array data string is not latin-1');
      out[i] = c;
    }
    return out;
  }
  throw new Error(`array data must be bytes, got ${describe(raw)} (object arrays are not supported)`);
}

function typedView(dtype: NumpyDType, bytes: Uint8Array, n: number): NumpyData {
  // Copy to an aligned buffer, then view.
  const copy = new Uint8Array(bytes); // a copy (Buffer.slice would be a view)
  const buf = copy.buffer;
  switch (dtype) {
    case 'uint8':
    case 'bool':
      return copy;
    case 'int8':
      return new Int8Array(buf, 0, n);
    case 'uint16':
      return new Uint16Array(buf, 0, n);
    case 'int16':
      return new Int16Array(buf, 0, n);
    case 'uint32':
      return new Uint32Array(buf, 0, n);
    case 'int32':
      return new Int32Array(buf, 0, n);
    case 'int64':
      return new BigInt64Array(buf, 0, n);
    case 'float32':
      return new Float32Array(buf, 0, n);
    case 'float64':
      return new Float64Array(buf, 0, n);
  }
}

/** Fortran (column-major) element order -> C (row-major). */
function fortranToC<T extends NumpyData>(data: T, shape: number[]): T {
  const n = data.length;
  const out = new (data.constructor as new (n: number) => T)(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  // Walk C order, compute the Fortran offset.
  const fstride = new Array<number>(rank);
  let s = 1;
  for (let d = 0; d < rank; d++) {
    fstride[d] = s;
    s *= shape[d];
  }
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += idx[d] * fstride[d];
    (out as unknown as { [k: number]: number | bigint })[i] = (data as unknown as { [k: number]: number | bigint })[off];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

class NumpyArrayBuilder extends NumpyArray {
  [PICKLE_SETSTATE](state: unknown): void {
    // (version, shape, dtype, is_fortran, rawdata) or the older 4-tuple without the version
    if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) throw new Error('unexpected ndarray state');
    const [shape, dt, fortran, raw] = state.length === 5 ? state.slice(1) : state;
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
      throw new Error('ndarray shape must be a tuple of non-negative integers');
    }
    if (!(dt instanceof NumpyDTypeValue)) throw new Error('ndarray dtype is missing');
    const { dtype, size } = dt.resolve();
    const bytes = toBytes(raw);
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (bytes.length !== n * size) {
      throw new Error(`ndarray of shape [${(shape as number[]).join(', ')}] and dtype ${dtype} needs ${n * size} bytes, the pickle has ${bytes.length}`);
    }
    this.dtype = dtype;
    this.shape = (shape as number[]).slice();
    const data = typedView(dtype, bytes, n);
    this.data = fortran === true || fortran === 1 ? fortranToC(data, this.shape) : data;
  }
}

const ndarrayMarker = function ndarray(): never {
  throw new Error('numpy.ndarray cannot be called directly');
};

function reconstruct(subtype: unknown, shape: unknown, typecode: unknown): NumpyArray {
  if (subtype !== ndarrayMarker) throw new Error('only numpy.ndarray can be reconstructed');
  void shape;
  void typecode;
  return new NumpyArrayBuilder();
}

function makeDtype(code: unknown, align?: unknown, copy?: unknown): NumpyDTypeValue {
  void align;
  void copy;
  if (typeof code !== 'string') throw new Error('dtype code must be a string');
  return new NumpyDTypeValue(code);
}

/** numpy scalars: numpy.core.multiarray.scalar(dtype, bytes) -> number (bigint for int64 beyond 2^53). */
function scalar(dt: unknown, raw: unknown): number | bigint | boolean {
  if (!(dt instanceof NumpyDTypeValue)) throw new Error('scalar needs a dtype');
  const { dtype, size } = dt.resolve();
  const bytes = toBytes(raw);
  if (bytes.length !== size) throw new Error(`scalar of dtype ${dtype} needs ${size} bytes, got ${bytes.length}`);
  const v = typedView(dtype, bytes, 1)[0];
  if (dtype === 'bool') return v !== 0;
  return typeof v === 'bigint' ? narrow(v) : v;
}

/** `_codecs.encode(str, 'latin1')`: how Python 3 pickles bytes at protocol 2. */
function codecsEncode(s: unknown, encoding: unknown): Uint8Array {
  if (typeof s !== 'string') throw new Error('_codecs.encode expects a string');
  const enc = typeof encoding === 'string' ? encoding.toLowerCase().replace(/[-_]/g, '') : 'utf8';
  if (enc === 'latin1' || enc === 'iso88591') return toBytes(s);
  if (enc === 'utf8') return new TextEncoder().encode(s);
  throw new Error(`_codecs.encode with encoding ${String(encoding)} is not supported`);
}

/**
 * Globals for numpy arrays of plain numeric dtypes (uint8 first of all: CIFAR's python pickles),
 * under numpy 1.x and 2.x module names, plus `_codecs.encode` for bytes pickled by Python 3 at
 * protocol 2.
 */
export const NUMPY_GLOBALS: PickleGlobals = new Map<string, unknown>([
  ['numpy.core.multiarray._reconstruct', reconstruct],
  ['numpy._core.multiarray._reconstruct', reconstruct],
  ['numpy.core.multiarray.scalar', scalar],
  ['numpy._core.multiarray.scalar', scalar],
  ['numpy.ndarray', ndarrayMarker],
  ['numpy.dtype', makeDtype],
  ['_codecs.encode', codecsEncode],
]);

/** The allow-list CIFAR's pickles need (numpy uint8 arrays); the same as {@link NUMPY_GLOBALS}. */
export const NUMPY_UINT8_GLOBALS: PickleGlobals = NUMPY_GLOBALS;

/**
 * Reads a pickle of plain data and numpy arrays (e.g. a CIFAR `data_batch_1`): dicts become Maps
 * (keys as strings: Python 2 str and Python 3 bytes keys are both returned as latin-1 strings when
 * `keys: 'string'`, the default), arrays {@link NumpyArray}.
 */
export function readNumpyPickle(bytes: Uint8Array, opts: { source?: string; keys?: 'string' | 'raw' } = {}): unknown {
  const value = unpickle(bytes, { source: opts.source ?? '<numpy pickle>', globals: NUMPY_GLOBALS, py2Strings: 'latin1' });
  return opts.keys === 'raw' ? value : stringKeys(value);
}

function stringKeys(v: unknown): unknown {
  if (v instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, x] of v) out.set(k instanceof Uint8Array ? latin1(k) : k, stringKeys(x));
    return out;
  }
  if (Array.isArray(v)) return v.map(stringKeys);
  return v;
}

/** Decodes bytes as latin-1 (how Python 2 str values and bytes keys come out). */
export function latin1String(bytes: Uint8Array): string {
  return latin1(bytes);
}
