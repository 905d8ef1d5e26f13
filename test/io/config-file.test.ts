import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigFileError, configFormatOf, findJsonErrorOffset, parseConfigText, readConfigFile } from '../../src/io/config-file';

describe('readConfigFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-cfg-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  }

  function errorOf(fn: () => unknown): ConfigFileError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigFileError);
      const e = err as ConfigFileError;
      expect(e.message).not.toContain('\n');
      return e;
    }
    throw new Error('expected a ConfigFileError');
  }

  it('reads JSON, YAML and YML', () => {
    const expected = { epochs: 3, lr: 0.001, model: { T: 4, neuron: { vReset: null } }, datasets: ['cifar10', 'pets'], amp: false };
    expect(readConfigFile(write('a.json', JSON.stringify(expected, null, 2)))).toEqual(expected);
    const yaml = 'epochs: 3\nlr: 1.0e-3\nmodel:\n  T: 4\n  neuron: {vReset: null}\ndatasets: [cifar10, pets]\namp: false\n';
    expect(readConfigFile(write('a.yaml', yaml))).toEqual(expected);
    expect(readConfigFile(write('A.YML', '# comment\n' + yaml))).toEqual(expected);
    expect(readConfigFile(write('bom.json', '\ufeff{"a": 1}'))).toEqual({ a: 1 });
  });

  it('reports JSON syntax errors with line and column on one line', () => {
    const p = write('bad.json', '{\n  "epochs": 3,\n  "lr": 0.1,\n}\n');
    const e = errorOf(() => readConfigFile(p));
    expect(e.message).toMatch(new RegExp(`^.*bad\\.json: invalid JSON at line 4, column 1: `));
    expect(e.line).toBe(4);
    expect(e.column).toBe(1);
    expect(e.path).toBe(p);
  });

  it('reports JSON errors without an engine position using its own locator', () => {
    const e = errorOf(() => readConfigFile(write('b.json', '{\n  "a": [1,\n  ]\n}')));
    expect(e.message).toMatch(/b\.json: invalid JSON at line 3, column 3: /);
    const eof = errorOf(() => readConfigFile(write('c.json', '{\n  "a": 1')));
    expect(eof.message).toMatch(/c\.json: invalid JSON at line 2, column 9: /);
    const empty = errorOf(() => readConfigFile(write('d.json', '')));
    expect(empty.message).toMatch(/d\.json: invalid JSON at line 1, column 1/);
  });

  it('reports YAML errors with line numbers on one line', () => {
    const e = errorOf(() => readConfigFile(write('bad.yaml', 'epochs: 3\nmodel:\n  T: 4\n   dim: [1, 2\nlr: 1\n')));
    expect(e.message).toMatch(/bad\.yaml: invalid YAML at line 3, column 6: Nested mappings are not allowed in compact mappings$/);
    expect([e.line, e.column]).toEqual([3, 6]);
    const flow = errorOf(() => readConfigFile(write('flow.yaml', 'a: 1\nb: [1, 2\n')));
    expect(flow.message).toMatch(/flow\.yaml: invalid YAML at line \d+, column \d+: .*\]/);
    const dup = errorOf(() => readConfigFile(write('dup.yml', 'a: 1\nb: 2\na: 3\n')));
    expect(dup.message).toMatch(/dup\.yml: invalid YAML at line 3, column 1: Map keys must be unique$/);
    expect(dup.line).toBe(3);
  });

  it('requires an object at the top level', () => {
    expect(errorOf(() => readConfigFile(write('l.yaml', '- a\n- b\n'))).message).toMatch(/l\.yaml: the top level must be an object of settings, got a list$/);
    expect(errorOf(() => readConfigFile(write('e.yaml', ''))).message).toMatch(/got nothing \(empty document\)/);
    expect(errorOf(() => readConfigFile(write('s.yml', 'just a string'))).message).toMatch(/got a string/);
    expect(errorOf(() => readConfigFile(write('n.json', '42'))).message).toMatch(/got a number/);
    expect(errorOf(() => readConfigFile(write('null.json', 'null'))).message).toMatch(/got nothing/);
  });

  it('rejects unsupported extensions, missing files and directories', () => {
    expect(errorOf(() => readConfigFile(write('c.toml', 'a = 1'))).message).toMatch(/unsupported config file extension \.toml \(expected \.json, \.yaml or \.yml\)/);
    const missing = path.join(dir, 'missing.yaml');
    expect(errorOf(() => readConfigFile(missing)).message).toBe(`config file not found: ${missing}`);
    const sub = path.join(dir, 'sub.json');
    fs.mkdirSync(sub);
    expect(errorOf(() => readConfigFile(sub)).message).toMatch(/is a directory/);
  });

  it('guards against YAML alias bombs', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [*${String.fromCharCode(96 + i)}, *${String.fromCharCode(96 + i)}, *${String.fromCharCode(96 + i)}, *${String.fromCharCode(96 + i)}, *${String.fromCharCode(96 + i)}, *${String.fromCharCode(96 + i)}, *${String.fromCharCode(96 + i)}, *${String.fromCharCode(96 + i)}, *${String.fromCharCode(96 + i)}]`);
    const e = errorOf(() => readConfigFile(write('bomb.yaml', bomb.join('\n') + '\n')));
    expect(e.message).toMatch(/bomb\.yaml: invalid YAML: /);
  });
});

describe('helpers', () => {
  it('configFormatOf', () => {
    expect(configFormatOf('x.json')).toBe('json');
    expect(configFormatOf('x.YAML')).toBe('yaml');
    expect(configFormatOf('x.yml')).toBe('yaml');
    expect(configFormatOf('x.txt')).toBeUndefined();
  });

  it('parseConfigText names the source', () => {
    expect(parseConfigText('a: 1', 'yaml', '--config')).toEqual({ a: 1 });
    expect(() => parseConfigText('[', 'json', '<stdin>')).toThrow(/^<stdin>: invalid JSON at line 1, column 2/);
  });

  it('findJsonErrorOffset agrees with JSON.parse on validity', () => {
    const valid = ['{}', '[]', ' {"a": [1, -2.5e+3, true, false, null, "x\\u00e9\\n"]} ', '0', '"s"'];
    for (const t of valid) expect(findJsonErrorOffset(t)).toBeUndefined();
    const invalid: [string, number][] = [
      ['{"a":1,}', 7],
      ['[1,]', 3],
      ['{"a" 1}', 5],
      ['01', 1],
      ['"abc', 4],
      ['"\\x"', 2],
      ['"\\u12g4"', 5],
      ['tru', 3],
      ['{} x', 3],
      ['', 0],
      ['-', 0],
      ['1.', 1],
    ];
    for (const [t, at] of invalid) {
      expect(() => JSON.parse(t)).toThrow();
      expect([t, findJsonErrorOffset(t)]).toEqual([t, at]);
    }
  });
});
