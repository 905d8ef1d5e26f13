/**
 * Class-name and template files: JSON lists, dictionaries and text lines; the candidate sets of
 * the unseen-label experiments (replace, expand); default templates; errors.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  defaultTemplates,
  fillPrompt,
  hashJson,
  LabelFileError,
  parseClassNames,
  parseTemplates,
  promptsPerClass,
  readClassNamesFile,
  readTemplatesFile,
  resolveCandidates,
  SHAPES_TEMPLATES,
} from '../../src/eval/label-files';
import { CIFAR10_CLASSES } from '../../src/text/classnames';
import { CIFAR_TEMPLATES, FLOWERS_TEMPLATES, PETS_TEMPLATES } from '../../src/text/templates';
import { toErrorReport } from '../../src/cli/errors';
import { tmpDir } from '../helpers/eval-fixtures';

const C10 = [...CIFAR10_CLASSES];

function file(name: string, text: string): string {
  const f = path.join(tmpDir('labels-'), name);
  fs.writeFileSync(f, text);
  return f;
}

describe('default templates', () => {
  it("CLIP's lists for CIFAR (18), Flowers and Pets (1 each); simple ones for shapes; one for folders", () => {
    expect(defaultTemplates('cifar10')).toBe(CIFAR_TEMPLATES);
    expect(defaultTemplates('cifar100')).toHaveLength(18);
    expect(defaultTemplates('flowers102')).toBe(FLOWERS_TEMPLATES);
    expect(defaultTemplates('pets')).toBe(PETS_TEMPLATES);
    expect(defaultTemplates('shapes')).toBe(SHAPES_TEMPLATES);
    expect(SHAPES_TEMPLATES.length).toBeGreaterThan(1);
    expect(defaultTemplates('folder:/data/x')).toEqual(['a photo of a {}.']);
  });

  it('fills {} and {c}', () => {
    expect(fillPrompt('a photo of a {}.', 'cat')).toBe('a photo of a cat.');
    expect(fillPrompt('a {c} or {}?', 'dog')).toBe('a dog or dog?');
  });
});

describe('template files', () => {
  it('a JSON list, text lines (blank and # lines skipped) and a per-class dictionary', () => {
    expect(readTemplatesFile(file('t.json', '["a photo of a {}.", "art of the {c}."]'))).toEqual({ kind: 'list', templates: ['a photo of a {}.', 'art of the {c}.'] });
    expect(readTemplatesFile(file('t.txt', '# prompts\na photo of a {}.\n\n  a sketch of a {}.  \r\n'))).toEqual({ kind: 'list', templates: ['a photo of a {}.', 'a sketch of a {}.'] });
    const dict = readTemplatesFile(file('d.json', '{"cat": ["a small furry {}.", "a cat on a sofa"], "dog": "a loyal {}."}'));
    expect(dict).toEqual({ kind: 'per-class', prompts: { cat: ['a small furry {}.', 'a cat on a sofa'], dog: ['a loyal {}.'] } });
    expect(promptsPerClass(['cat', 'dog'], dict)).toEqual([['a small furry cat.', 'a cat on a sofa'], ['a loyal dog.']]);
  });

  it('errors: empty file, a template without {}, a dictionary missing or adding classes, bad JSON', () => {
    expect(() => parseTemplates('  \n', 't.txt')).toThrow(/t\.txt is empty/);
    expect(() => parseTemplates('[]', 't.json')).toThrow(/empty list/);
    expect(() => parseTemplates('# only a comment\n', 't.txt')).toThrow(/no entries/);
    expect(() => parseTemplates('["a photo"]', 't.json')).toThrow(/"a photo" has no \{\} placeholder/);
    expect(() => parseTemplates('[1]', 't.json')).toThrow(/entry 0 is 1, not a string/);
    expect(() => parseTemplates('{"cat": []}', 't.json')).toThrow(/non-empty list of strings/);
    expect(() => parseTemplates('{"cat": ', 't.json')).toThrow(/invalid JSON/);
    const spec = parseTemplates('{"cat": ["{}"], "zebra": ["{}"]}', 't.json');
    expect(() => promptsPerClass(['cat', 'dog'], spec, 't.json')).toThrow(/t\.json has prompts for unknown classes: "zebra"/);
    expect(() => promptsPerClass(['cat', 'dog', 'zebra'], spec, 't.json')).toThrow(/no prompts for 1 class: "dog"/);
    expect(() => readTemplatesFile('/no/such/templates.json')).toThrow(/cannot read the templates file \/no\/such\/templates\.json \(ENOENT\)/);
  });

  it('errors are user errors with exit status 4 and a fix', () => {
    let err: unknown;
    try {
      parseTemplates('', 't.txt');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabelFileError);
    const r = toErrorReport(err);
    expect(r).toMatchObject({ status: 4, code: 'E_LABEL_FILE', user: true });
    expect(r.fix).toBeDefined();
  });
});

describe('class-name files and candidate sets', () => {
  it('the dataset names by default', () => {
    const c = resolveCandidates(C10, undefined);
    expect(c).toMatchObject({ names: C10, numClasses: 10, mode: 'dataset', replaced: [], distractors: [], source: 'dataset' });
  });

  it('replace: a full list of K names, or a dictionary renaming some classes (by name or label index)', () => {
    const list = C10.map((n) => (n === 'horse' ? 'zebra' : n === 'ship' ? 'boat' : n));
    const fromList = resolveCandidates(C10, readClassNamesFile(file('c.txt', list.join('\n'))), { source: 'c.txt' });
    expect(fromList.mode).toBe('replace');
    expect(fromList.names).toEqual(list);
    expect(fromList.replaced).toEqual([
      { index: 7, from: 'horse', to: 'zebra' },
      { index: 8, from: 'ship', to: 'boat' },
    ]);
    const fromDict = resolveCandidates(C10, readClassNamesFile(file('c.json', '{"horse": "zebra", "8": "boat", "cat": "tabby cat"}')), { source: 'c.json' });
    expect(fromDict.names[3]).toBe('tabby cat');
    expect(fromDict.names[7]).toBe('zebra');
    expect(fromDict.names[8]).toBe('boat');
    expect(fromDict.replaced).toHaveLength(3);
    expect(fromDict.distractors).toEqual([]);
  });

  it('expand: more names than classes with expand, the extra ones are distractors', () => {
    const names = [...C10, 'lion', 'tiger', 'tractor'];
    const c = resolveCandidates(C10, parseClassNames(JSON.stringify(names)), { expand: true, source: 'x.json' });
    expect(c).toMatchObject({ mode: 'expand', numClasses: 10, distractors: ['lion', 'tiger', 'tractor'], replaced: [] });
    expect(c.names).toEqual(names);
  });

  it('errors: count mismatch without expand, too few names, unknown classes in a dictionary, duplicates, empty file', () => {
    const more = parseClassNames(JSON.stringify([...C10, 'lion']));
    expect(() => resolveCandidates(C10, more, { source: 'c.json', dataset: 'cifar10' })).toThrow(/c\.json has 11 class names but cifar10 has 10 classes; replacing names needs exactly 10/);
    try {
      resolveCandidates(C10, more, { source: 'c.json', dataset: 'cifar10' });
    } catch (e) {
      expect((e as LabelFileError).fix).toMatch(/--expand/);
    }
    expect(() => resolveCandidates(C10, parseClassNames('["a", "b"]'), { source: 'c.json', dataset: 'cifar10', expand: true })).toThrow(/has 2 class names but cifar10 has 10 classes/);
    expect(() => resolveCandidates(C10, parseClassNames('{"horse": "zebra", "unicorn": "pegasus", "42": "x"}'), { source: 'c.json', dataset: 'cifar10' })).toThrow(
      /c\.json renames classes that cifar10 does not have: "42", "unicorn"/,
    );
    expect(() => resolveCandidates(C10, parseClassNames(JSON.stringify([...C10, 'Cat'])), { expand: true })).toThrow(/candidate names 3 and 10 are both "Cat"/);
    expect(() => parseClassNames('\n\n', 'c.txt')).toThrow(/the classnames file c\.txt is empty/);
    expect(() => parseClassNames('{"horse": ""}', 'c.json')).toThrow(/new name of "horse" must be a non-empty string/);
    expect(() => parseClassNames('["cat", " "]', 'c.json')).toThrow(/entry 1 is an empty string/);
  });

  it('hashes are canonical (key order does not matter) and tell different sets apart', () => {
    expect(hashJson({ a: 1, b: [2, 3] })).toBe(hashJson({ b: [2, 3], a: 1 }));
    expect(hashJson(['cat', 'dog'])).not.toBe(hashJson(['dog', 'cat']));
    expect(hashJson(['cat'])).toMatch(/^[0-9a-f]{64}$/);
  });
});
