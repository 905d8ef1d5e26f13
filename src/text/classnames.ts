/**
 * Class names, in each dataset's label order, with CLIP's wording: copied exactly from
 * openai/CLIP `data/prompts.md` (CIFAR10, CIFAR100, Flowers102, OxfordPets).
 *
 * Oxford-IIIT Pet: CLIP's prompts.md lists the 37 names sorted with the capitalised cat breeds
 * first; here they are in the dataset's own class-id order (annotations/list.txt, CLASS-ID 1..37,
 * which is also torchvision's and CLIP_benchmark's order), keeping CLIP's spelling and case.
 */

export const CIFAR10_CLASSES: readonly string[] = Object.freeze([
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
]);

export const CIFAR100_CLASSES: readonly string[] = Object.freeze([
  'apple', 'aquarium fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak tree', 'orange', 'orchid', 'otter', 'palm tree', 'pear', 'pickup truck', 'pine tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow tree', 'wolf', 'woman', 'worm',
]);

export const FLOWERS102_CLASSES: readonly string[] = Object.freeze([
  'pink primrose', 'hard-leaved pocket orchid', 'canterbury bells', 'sweet pea', 'english marigold',
  'tiger lily', 'moon orchid', 'bird of paradise', 'monkshood', 'globe thistle',
  'snapdragon', "colt's foot", 'king protea', 'spear thistle', 'yellow iris',
  'globe flower', 'purple coneflower', 'peruvian lily', 'balloon flower', 'giant white arum lily',
  'fire lily', 'pincushion flower', 'fritillary', 'red ginger', 'grape hyacinth',
  'corn poppy', 'prince of wales feathers', 'stemless gentian', 'artichoke', 'sweet william',
  'carnation', 'garden phlox', 'love in the mist', 'mexican aster', 'alpine sea holly',
  'ruby-lipped cattleya', 'cape flower', 'great masterwort', 'siam tulip', 'lenten rose',
  'barbeton daisy', 'daffodil', 'sword lily', 'poinsettia', 'bolero deep blue',
  'wallflower', 'marigold', 'buttercup', 'oxeye daisy', 'common dandelion',
  'petunia', 'wild pansy', 'primula', 'sunflower', 'pelargonium',
  'bishop of llandaff', 'gaura', 'geranium', 'orange dahlia', 'pink and yellow dahlia',
  'cautleya spicata', 'japanese anemone', 'black-eyed susan', 'silverbush', 'californian poppy',
  'osteospermum', 'spring crocus', 'bearded iris', 'windflower', 'tree poppy',
  'gazania', 'azalea', 'water lily', 'rose', 'thorn apple',
  'morning glory', 'passion flower', 'lotus', 'toad lily', 'anthurium',
  'frangipani', 'clematis', 'hibiscus', 'columbine', 'desert-rose',
  'tree mallow', 'magnolia', 'cyclamen', 'watercress', 'canna lily',
  'hippeastrum', 'bee balm', 'air plant', 'foxglove', 'bougainvillea',
  'camellia', 'mallow', 'mexican petunia', 'bromelia', 'blanket flower',
  'trumpet creeper', 'blackberry lily',
]);

/** Oxford-IIIT Pet in class-id order (1..37), CLIP's names. */
export const PETS_CLASSES: readonly string[] = Object.freeze([
  'Abyssinian',
  'american bulldog',
  'american pit bull terrier',
  'basset hound',
  'beagle',
  'Bengal',
  'Birman',
  'Bombay',
  'boxer',
  'British Shorthair',
  'chihuahua',
  'Egyptian Mau',
  'english cocker spaniel',
  'english setter',
  'german shorthaired',
  'great pyrenees',
  'havanese',
  'japanese chin',
  'keeshond',
  'leonberger',
  'Maine Coon',
  'miniature pinscher',
  'newfoundland',
  'Persian',
  'pomeranian',
  'pug',
  'Ragdoll',
  'Russian Blue',
  'saint bernard',
  'samoyed',
  'scottish terrier',
  'shiba inu',
  'Siamese',
  'Sphynx',
  'staffordshire bull terrier',
  'wheaten terrier',
  'yorkshire terrier',
]);

export const CLASSES_BY_DATASET: Readonly<Record<string, readonly string[]>> = Object.freeze({
  cifar10: CIFAR10_CLASSES,
  cifar100: CIFAR100_CLASSES,
  flowers102: FLOWERS102_CLASSES,
  pets: PETS_CLASSES,
});
