/**
 * A tiny Oxford-IIIT Pet in the official layout: `images.tar.gz` (`images/<Breed>_<n>.jpg`, plus a
 * stray `.mat` like the real archive has) or the `images/` folder, and `annotations.tar.gz`
 * (`annotations/list.txt` with its six comment lines, `trainval.txt`, `test.txt`, a README and a
 * trimap) or the `annotations/` folder. Images are tiny solid-colour JPEGs made with sharp.
 */
import * as fs from 'fs';
import * as path from 'path';
import { flowerColour, tinyJpeg } from './fixtures-flowers';
import { WriterEntry, writeTarGz } from './tar-writer';

/** The dataset's own breed names in CLASS-ID order (1..37), as its file names spell them. */
export const PET_BREEDS = [
  'Abyssinian', 'american_bulldog', 'american_pit_bull_terrier', 'basset_hound', 'beagle', 'Bengal', 'Birman', 'Bombay',
  'boxer', 'British_Shorthair', 'chihuahua', 'Egyptian_Mau', 'english_cocker_spaniel', 'english_setter', 'german_shorthaired',
  'great_pyrenees', 'havanese', 'japanese_chin', 'keeshond', 'leonberger', 'Maine_Coon', 'miniature_pinscher', 'newfoundland',
  'Persian', 'pomeranian', 'pug', 'Ragdoll', 'Russian_Blue', 'saint_bernard', 'samoyed', 'scottish_terrier', 'shiba_inu',
  'Siamese', 'Sphynx', 'staffordshire_bull_terrier', 'wheaten_terrier', 'yorkshire_terrier',
];

const LIST_HEADER = [
  '#Image CLASS-ID SPECIES BREED ID',
  '#ID: 1:37 Class Ids',
  '#SPECIES: 1:Cat 2:Dog',
  '#BREED ID: 1-25:Cat 1:12:Dog',
  '#All images with 1st letter as captial are cat images',
  '#images with small first letter are dog images',
];

/** The annotation line of image `<breed of class id>_<n>`. */
export function petLine(classId: number, n: number): string {
  const breed = PET_BREEDS[classId - 1];
  const cat = breed[0] === breed[0].toUpperCase();
  const breedId = PET_BREEDS.slice(0, classId).filter((b) => (b[0] === b[0].toUpperCase()) === cat).length;
  return `${breed}_${n} ${classId} ${cat ? 1 : 2} ${breedId}`;
}

export interface PetsFixtureOptions {
  dir: string;
  as: 'archive' | 'folder';
  /** [classId, n] of the trainval and test images. */
  trainval?: Array<[number, number]>;
  test?: Array<[number, number]>;
  /** Replace (or drop with null) annotation files by name (list.txt, trainval.txt, test.txt). */
  override?: Record<string, string | null>;
  missingImages?: string[];
  /** Put everything under oxford-iiit-pet/ (torchvision's layout). */
  torchvisionLayout?: boolean;
}

export const DEFAULT_TRAINVAL: Array<[number, number]> = [
  [1, 100],
  [2, 7],
  [6, 12],
  [15, 3],
  [37, 190],
  [1, 101],
];
export const DEFAULT_TEST: Array<[number, number]> = [
  [2, 8],
  [33, 4],
  [15, 9],
];

/** Colour of an image, from its position in the concatenated trainval+test list. */
export function petColour(k: number): [number, number, number] {
  return flowerColour(k + 1);
}

export async function makePetsFixture(opts: PetsFixtureOptions): Promise<{ trainval: string[]; test: string[] }> {
  const trainval = opts.trainval ?? DEFAULT_TRAINVAL;
  const test = opts.test ?? DEFAULT_TEST;
  const root = opts.torchvisionLayout ? path.join(opts.dir, 'oxford-iiit-pet') : opts.dir;
  fs.mkdirSync(root, { recursive: true });
  const tvLines = trainval.map(([c, n]) => petLine(c, n));
  const teLines = test.map(([c, n]) => petLine(c, n));
  const all = [...tvLines, ...teLines];
  const annotations: Record<string, string | null> = {
    'list.txt': [...LIST_HEADER, ...[...all].sort()].join('\n') + '\n',
    'trainval.txt': tvLines.join('\n') + '\n',
    'test.txt': teLines.join('\n') + '\n',
    README: 'OXFORD-IIIT PET Dataset (fixture)\n',
    ...(opts.override ?? {}),
  };
  const missing = new Set(opts.missingImages ?? []);
  const images: Array<[string, Buffer]> = [];
  for (let k = 0; k < all.length; k++) {
    const name = all[k].split(' ')[0];
    if (missing.has(name)) continue;
    images.push([`${name}.jpg`, await tinyJpeg(petColour(k))]);
  }
  if (opts.as === 'folder') {
    const a = path.join(root, 'annotations');
    fs.mkdirSync(path.join(a, 'trimaps'), { recursive: true });
    for (const [n, t] of Object.entries(annotations)) if (t !== null) fs.writeFileSync(path.join(a, n), t);
    const im = path.join(root, 'images');
    fs.mkdirSync(im, { recursive: true });
    for (const [n, b] of images) fs.writeFileSync(path.join(im, n), b);
  } else {
    const ann: WriterEntry[] = [
      { name: 'annotations/', type: 'directory' },
      ...Object.entries(annotations)
        .filter((e): e is [string, string] => e[1] !== null)
        .map(([n, t]) => ({ name: `annotations/${n}`, data: t })),
      { name: 'annotations/trimaps/', type: 'directory' },
      { name: 'annotations/trimaps/Abyssinian_100.png', data: 'not really a png' },
    ];
    fs.writeFileSync(path.join(root, 'annotations.tar.gz'), writeTarGz(ann, { format: 'gnu' }));
    const img: WriterEntry[] = [{ name: 'images/', type: 'directory' }, ...images.map(([n, b]) => ({ name: `images/${n}`, data: b })), { name: 'images/Abyssinian_101.mat', data: 'MATLAB' }];
    fs.writeFileSync(path.join(root, 'images.tar.gz'), writeTarGz(img, { format: 'gnu' }));
  }
  return { trainval: tvLines.map((l) => l.split(' ')[0]), test: teLines.map((l) => l.split(' ')[0]) };
}
