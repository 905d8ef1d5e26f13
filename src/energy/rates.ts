/**
 * Given per-layer firing rates (`energy report --rates FILE`): parse them and match them to the
 * layers of an architecture, so energy can be computed without running any data (e.g. with a
 * paper's published rates).
 *
 * Accepted JSON:
 * - an object `{ "<layer>": rate, ... }`; a layer is named as the report names it
 *   (`image.block.0.mlp.mlp1_conv`), or without the encoder prefix (`block.0.mlp.mlp1_conv`,
 *   taken as the image encoder's; `fc1`/`fc2` as the text encoder's), or by a pattern with `*`
 *   (any run of characters: `image.block.*.mlp.mlp1_conv`, `*` alone for every layer); an exact
 *   name wins over a pattern, a longer pattern over a shorter one;
 * - a list of numbers: the rates of the spike-input (AC) layers in the order the report lists
 *   them (the image encoder's, optionally followed by the text encoder's);
 * - a list of `{ "layer": name, "rate": r }` (or `firingRate`) objects;
 * - a previous `energy report --json` document (or its `result`): its per-layer firing rates;
 * - an `eval` result file (its `firing_rates` list of `{ "layer", "rate" }`), or `eval --json`
 *   output holding exactly one result with firing rates; also any document with a `firingRates`
 *   list of `{ "layer", "rate" }`.
 *
 * Rates are fractions in [0, 1]. Only spike-input layers need one: a MAC layer's input is
 * real-valued. An encoder none of whose layers got a rate is left out of the report; one with
 * some but not all is an error naming the missing layers.
 */
import { BadInputError } from '../errors';
import type { LayerOpSpec } from '../models/describe';
import type { EncoderName } from './model';

export class RatesError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_RATES');
    this.name = 'RatesError';
  }
}

export type RatesSpec = { kind: 'map'; entries: Array<[string, number]> } | { kind: 'list'; rates: number[] };

function checkRate(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new RatesError(`${where}: a firing rate must be a number from 0 to 1, got ${JSON.stringify(v)}`);
  }
  return v;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the rates from parsed JSON (see the module comment for the accepted shapes). */
export function parseRates(json: unknown, source = 'rates file'): RatesSpec {
  // a report (or its --json envelope): take its layers' firing rates
  const report = isObject(json) && isObject(json.result) ? json.result : json;
  if (isObject(report) && Array.isArray(report.encoders)) {
    const entries: Array<[string, number]> = [];
    for (const e of report.encoders as unknown[]) {
      if (!isObject(e) || !Array.isArray(e.layers)) continue;
      for (const l of e.layers as unknown[]) {
        if (isObject(l) && typeof l.layer === 'string' && l.kind === 'ac' && l.firingRate !== null && l.firingRate !== undefined) {
          entries.push([l.layer, checkRate(l.firingRate, `${source}: ${l.layer}`)]);
        }
      }
    }
    if (entries.length === 0) throw new RatesError(`${source}: an energy report without per-layer firing rates`);
    return { kind: 'map', entries };
  }
  // an eval result file: {task: "zeroshot_classification", firing_rates: [{layer, rate, ...}]}
  if (isObject(report) && Array.isArray(report.firing_rates)) return parseRates(report.firing_rates, source);
  if (isObject(report) && report.firing_rates === null) {
    throw new RatesError(`${source}: this eval result has no firing rates (a teacher, or eval ran with --no-firing-rates)`);
  }
  // eval --json: {status, result: {results: [...]}}: exactly one result must carry rates
  if (isObject(report) && Array.isArray(report.results)) {
    const withRates = (report.results as unknown[]).filter((r) => isObject(r) && Array.isArray(r.firing_rates)) as Record<string, unknown>[];
    if (withRates.length === 1) return parseRates(withRates[0].firing_rates, source);
    throw new RatesError(
      withRates.length === 0
        ? `${source}: none of its eval results has firing rates`
        : `${source}: ${withRates.length} eval results with firing rates; pass one result file (eval --output) instead`,
    );
  }
  // any document with measured firing rates: {firingRates: [{layer, rate}]}
  if (isObject(report) && Array.isArray(report.firingRates)) return parseRates(report.firingRates, source);
  if (Array.isArray(json)) {
    if (json.length === 0) throw new RatesError(`${source}: an empty list`);
    if (json.every((v) => typeof v === 'number')) return { kind: 'list', rates: json.map((v, i) => checkRate(v, `${source}: item ${i}`)) };
    const entries: Array<[string, number]> = json.map((item, i) => {
      if (!isObject(item) || typeof item.layer !== 'string') throw new RatesError(`${source}: item ${i} must be a number or {"layer": name, "rate": r}`);
      return [item.layer, checkRate(item.rate ?? item.firingRate, `${source}: ${item.layer}`)];
    });
    return { kind: 'map', entries };
  }
  if (isObject(json)) {
    const entries = Object.entries(json).map(([k, v]) => [k, checkRate(v, `${source}: ${k}`)] as [string, number]);
    if (entries.length === 0) throw new RatesError(`${source}: no rates`);
    return { kind: 'map', entries };
  }
  throw new RatesError(`${source}: expected a JSON object {layer: rate}, a list of rates, or an energy report`);
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

export interface ResolvedRates {
  /** Rate per AC layer name; layers of a left-out encoder are absent. */
  rates: Map<string, number>;
  /** Encoders that got rates. */
  encoders: EncoderName[];
  /** Keys that named a MAC layer (ignored). */
  ignored: string[];
}

/**
 * Matches rates to the spike-input layers of the given encoders (layers in report order).
 * Unknown names, partially covered encoders and lists of the wrong length are errors.
 */
export function resolveRates(spec: RatesSpec, layers: Record<EncoderName, LayerOpSpec[]>, source = 'rates file'): ResolvedRates {
  const ac = (e: EncoderName) => layers[e].filter((l) => l.kind === 'ac');
  const imageAc = ac('image');
  const textAc = ac('text');
  const rates = new Map<string, number>();
  const ignored: string[] = [];
  if (spec.kind === 'list') {
    const n = spec.rates.length;
    if (n !== imageAc.length && n !== imageAc.length + textAc.length) {
      throw new RatesError(
        `${source}: a list of ${n} rates; this architecture has ${imageAc.length} spike-input image layers` +
          ` (${imageAc.length + textAc.length} with the text encoder's ${textAc.length}): ${[...imageAc, ...textAc].map((l) => l.name).join(', ')}`,
      );
    }
    [...imageAc, ...textAc].slice(0, n).forEach((l, i) => rates.set(l.name, spec.rates[i]));
    return { rates, encoders: n === imageAc.length ? ['image'] : ['image', 'text'], ignored };
  }
  const all = [...layers.image, ...layers.text];
  // a key's candidate full names: as given, or with the encoder prefix added
  const full = (key: string): string[] => {
    if (key.startsWith('image.') || key.startsWith('text.') || key === '*') return [key];
    return [`image.${key}`, `text.${key}`];
  };
  const exact = new Map<string, number>();
  const patterns: Array<{ key: string; re: RegExp; rate: number; used: boolean }> = [];
  const unknown: string[] = [];
  for (const [key, rate] of spec.entries) {
    if (key.includes('*')) {
      patterns.push(...full(key).map((k) => ({ key, re: globToRegExp(k), rate, used: false })));
      continue;
    }
    const hit = full(key).find((k) => all.some((l) => l.name === k));
    if (!hit) {
      unknown.push(key);
      continue;
    }
    const layer = all.find((l) => l.name === hit) as LayerOpSpec;
    if (layer.kind === 'mac') {
      ignored.push(key);
      continue;
    }
    exact.set(hit, rate);
  }
  if (unknown.length > 0) {
    throw new RatesError(
      `${source}: no layer named ${unknown.map((u) => JSON.stringify(u)).join(', ')}; the spike-input layers are ${[...imageAc, ...textAc].map((l) => l.name).join(', ')} (patterns with * are allowed)`,
    );
  }
  patterns.sort((a, b) => b.key.replace(/\*/g, '').length - a.key.replace(/\*/g, '').length);
  for (const l of [...imageAc, ...textAc]) {
    const e = exact.get(l.name);
    if (e !== undefined) {
      rates.set(l.name, e);
      continue;
    }
    const p = patterns.find((q) => q.re.test(l.name));
    if (p) {
      p.used = true;
      rates.set(l.name, p.rate);
    }
  }
  const unusedPatterns = [...new Set(patterns.filter((p) => !p.used).map((p) => p.key))].filter((k) => !patterns.some((p) => p.key === k && p.used));
  if (unusedPatterns.length > 0) {
    throw new RatesError(`${source}: the pattern${unusedPatterns.length > 1 ? 's' : ''} ${unusedPatterns.map((u) => JSON.stringify(u)).join(', ')} match${unusedPatterns.length > 1 ? '' : 'es'} no spike-input layer`);
  }
  const encoders: EncoderName[] = [];
  for (const [e, list] of [['image', imageAc], ['text', textAc]] as const) {
    const got = list.filter((l) => rates.has(l.name));
    if (got.length === 0) continue;
    if (got.length < list.length) {
      const missing = list.filter((l) => !rates.has(l.name)).map((l) => l.name);
      throw new RatesError(`${source}: no rate for ${missing.length} ${e} layer${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (give each, or a pattern such as "${e}.*")`);
    }
    encoders.push(e);
  }
  if (!encoders.includes('image')) {
    throw new RatesError(`${source}: no rates for the image encoder's layers (${imageAc.map((l) => l.name).join(', ')})`);
  }
  return { rates, encoders, ignored };
}
