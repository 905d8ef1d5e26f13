import { CIFAR100_CLASSES, CIFAR10_CLASSES, CLASSES_BY_DATASET, FLOWERS102_CLASSES, PETS_CLASSES } from '../../src/text/classnames';
import { CIFAR_TEMPLATES, FLOWERS_TEMPLATES, IMAGENET_TEMPLATES, PETS_TEMPLATES, fillTemplate, promptsFor, templatesFor } from '../../src/text/templates';

describe('class names (CLIP data/prompts.md)', () => {
  it('have the right counts and no duplicates', () => {
    expect(CIFAR10_CLASSES).toHaveLength(10);
    expect(CIFAR100_CLASSES).toHaveLength(100);
    expect(FLOWERS102_CLASSES).toHaveLength(102);
    expect(PETS_CLASSES).toHaveLength(37);
    for (const list of Object.values(CLASSES_BY_DATASET)) expect(new Set(list).size).toBe(list.length);
  });

  it('spot checks: order and CLIP wording', () => {
    expect(CIFAR10_CLASSES[0]).toBe('airplane');
    expect(CIFAR10_CLASSES[9]).toBe('truck');
    expect(CIFAR100_CLASSES[1]).toBe('aquarium fish');
    expect(CIFAR100_CLASSES[99]).toBe('worm');
    expect(FLOWERS102_CLASSES[11]).toBe("colt's foot");
    expect(FLOWERS102_CLASSES[101]).toBe('blackberry lily');
    // Oxford-IIIT Pet in class-id order (list.txt: 1 Abyssinian, 2 american_bulldog, ..., 37 yorkshire_terrier)
    expect(PETS_CLASSES.slice(0, 3)).toEqual(['Abyssinian', 'american bulldog', 'american pit bull terrier']);
    expect(PETS_CLASSES[9]).toBe('British Shorthair');
    expect(PETS_CLASSES[36]).toBe('yorkshire terrier');
    const sorted = [...PETS_CLASSES].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    expect(sorted).toEqual([...PETS_CLASSES]);
  });
});

describe('templates (CLIP)', () => {
  it('have the right counts', () => {
    expect(CIFAR_TEMPLATES).toHaveLength(18);
    expect(FLOWERS_TEMPLATES).toEqual(['a photo of a {}, a type of flower.']);
    expect(PETS_TEMPLATES).toEqual(['a photo of a {}, a type of pet.']);
    expect(IMAGENET_TEMPLATES).toHaveLength(80);
    expect(new Set(IMAGENET_TEMPLATES).size).toBe(80);
    for (const t of [...CIFAR_TEMPLATES, ...IMAGENET_TEMPLATES]) expect(t.split('{}')).toHaveLength(2);
  });

  it('fill like str.format and build class-major prompt lists', () => {
    expect(fillTemplate('a photo of a {}.', 'cat')).toBe('a photo of a cat.');
    expect(templatesFor('cifar100')).toBe(CIFAR_TEMPLATES);
    expect(templatesFor('my-folder')).toBe(IMAGENET_TEMPLATES);
    const p = promptsFor(['cat', 'dog'], CIFAR_TEMPLATES);
    expect(p).toHaveLength(36);
    expect(p[0]).toBe('a photo of a cat.');
    expect(p[18]).toBe('a photo of a dog.');
    expect(p[35]).toBe('a photo of the big dog.');
  });
});
