/**
 * CLIP's prompt templates, copied exactly from openai/CLIP `data/prompts.md` (CIFAR-10,
 * CIFAR-100, Flowers102, OxfordPets) and `notebooks/Prompt_Engineering_for_ImageNet.ipynb`
 * (the 80 ImageNet templates, in the notebook's order; also LAION-AI/CLIP_benchmark's
 * `imagenet1k` list). `{}` is replaced by the class name, as Python's `str.format` does.
 */

/** CLIP's 18 templates for CIFAR-10 and CIFAR-100. */
export const CIFAR_TEMPLATES: readonly string[] = Object.freeze([
  'a photo of a {}.',
  'a blurry photo of a {}.',
  'a black and white photo of a {}.',
  'a low contrast photo of a {}.',
  'a high contrast photo of a {}.',
  'a bad photo of a {}.',
  'a good photo of a {}.',
  'a photo of a small {}.',
  'a photo of a big {}.',
  'a photo of the {}.',
  'a blurry photo of the {}.',
  'a black and white photo of the {}.',
  'a low contrast photo of the {}.',
  'a high contrast photo of the {}.',
  'a bad photo of the {}.',
  'a good photo of the {}.',
  'a photo of the small {}.',
  'a photo of the big {}.',
]);

/** CLIP's single Flowers102 template. */
export const FLOWERS_TEMPLATES: readonly string[] = Object.freeze(['a photo of a {}, a type of flower.']);

/** CLIP's single OxfordPets template. */
export const PETS_TEMPLATES: readonly string[] = Object.freeze(['a photo of a {}, a type of pet.']);

/** CLIP's 80 ImageNet templates: the default for image folders and other datasets. */
export const IMAGENET_TEMPLATES: readonly string[] = Object.freeze([
  'a bad photo of a {}.',
  'a photo of many {}.',
  'a sculpture of a {}.',
  'a photo of the hard to see {}.',
  'a low resolution photo of the {}.',
  'a rendering of a {}.',
  'graffiti of a {}.',
  'a bad photo of the {}.',
  'a cropped photo of the {}.',
  'a tattoo of a {}.',
  'the embroidered {}.',
  'a photo of a hard to see {}.',
  'a bright photo of a {}.',
  'a photo of a clean {}.',
  'a photo of a dirty {}.',
  'a dark photo of the {}.',
  'a drawing of a {}.',
  'a photo of my {}.',
  'the plastic {}.',
  'a photo of the cool {}.',
  'a close-up photo of a {}.',
  'a black and white photo of the {}.',
  'a painting of the {}.',
  'a painting of a {}.',
  'a pixelated photo of the {}.',
  'a sculpture of the {}.',
  'a bright photo of the {}.',
  'a cropped photo of a {}.',
  'a plastic {}.',
  'a photo of the dirty {}.',
  'a jpeg corrupted photo of a {}.',
  'a blurry photo of the {}.',
  'a photo of the {}.',
  'a good photo of the {}.',
  'a rendering of the {}.',
  'a {} in a video game.',
  'a photo of one {}.',
  'a doodle of a {}.',
  'a close-up photo of the {}.',
  'a photo of a {}.',
  'the origami {}.',
  'the {} in a video game.',
  'a sketch of a {}.',
  'a doodle of the {}.',
  'a origami {}.',
  'a low resolution photo of a {}.',
  'the toy {}.',
  'a rendition of the {}.',
  'a photo of the clean {}.',
  'a photo of a large {}.',
  'a rendition of a {}.',
  'a photo of a nice {}.',
  'a photo of a weird {}.',
  'a blurry photo of a {}.',
  'a cartoon {}.',
  'art of a {}.',
  'a sketch of the {}.',
  'a embroidered {}.',
  'a pixelated photo of a {}.',
  'itap of the {}.',
  'a jpeg corrupted photo of the {}.',
  'a good photo of a {}.',
  'a plushie {}.',
  'a photo of the nice {}.',
  'a photo of the small {}.',
  'a photo of the weird {}.',
  'the cartoon {}.',
  'art of the {}.',
  'a drawing of the {}.',
  'a photo of the large {}.',
  'a black and white photo of a {}.',
  'the plushie {}.',
  'a dark photo of a {}.',
  'itap of a {}.',
  'graffiti of the {}.',
  'a toy {}.',
  'itap of my {}.',
  'a photo of a cool {}.',
  'a photo of a small {}.',
  'a tattoo of the {}.',
]);

/** The default template list for a dataset name (CLIP's choice where CLIP has one). */
export const TEMPLATES_BY_DATASET: Readonly<Record<string, readonly string[]>> = Object.freeze({
  cifar10: CIFAR_TEMPLATES,
  cifar100: CIFAR_TEMPLATES,
  flowers102: FLOWERS_TEMPLATES,
  pets: PETS_TEMPLATES,
  imagenet: IMAGENET_TEMPLATES,
});

/** Templates for a dataset; CLIP's ImageNet list for anything else (image folders, shapes, ...). */
export function templatesFor(dataset: string): readonly string[] {
  return TEMPLATES_BY_DATASET[dataset] ?? IMAGENET_TEMPLATES;
}

/** `template.format(classname)`: every `{}` replaced by the class name. */
export function fillTemplate(template: string, className: string): string {
  return template.split('{}').join(className);
}

/** Every prompt of a class list and template list, class-major: prompts[c * T + t]. */
export function promptsFor(classNames: readonly string[], templates: readonly string[]): string[] {
  const out: string[] = [];
  for (const c of classNames) for (const t of templates) out.push(fillTemplate(t, c));
  return out;
}
