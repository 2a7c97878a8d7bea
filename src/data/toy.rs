//! The embedded toy English→French corpus (`corpora/toy-en-fr/`): a small hand-written grammar
//! whose sentence pairs show real French phenomena — adjectives after the noun (a few before it),
//! gender and number agreement, elision and contraction, verb conjugation, `ne … pas`, numbers,
//! possessives, prepositions and `est-ce que` questions — so that a small model learns it in
//! minutes and its attention heatmaps show real reorderings.
//!
//! Every English sentence the grammar can produce has exactly one French translation, generation
//! is deterministic for a seed (with the generators' own small PRNG, SplitMix64, in `rng.rs`), and
//! the committed corpus is `generate(1)` byte for byte (a test checks it).

use super::generated::{parallel_files, write_corpus};
use super::rng::SplitMix64;
use crate::error::Result;
use std::collections::HashSet;
use std::path::Path;

const TRAIN_PAIRS: usize = 10_000;
const DEV_PAIRS: usize = 500;
const TEST_PAIRS: usize = 500;
const MIN_WORDS: usize = 3;
const MAX_WORDS: usize = 15;

/// The three splits of the toy corpus as (English, French) pairs, and the gold word alignments of dev
/// and test. No English sentence occurs twice, so no dev or test sentence is in train and no test
/// sentence is in dev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToyCorpus {
    /// Training pairs (10,000).
    pub train: Vec<(String, String)>,
    /// Development pairs (500), for model selection.
    pub dev: Vec<(String, String)>,
    /// Test pairs (500), for the final score.
    pub test: Vec<(String, String)>,
    /// Gold (sure) alignments of `dev`, one Pharaoh line per pair: `i-j` links an English word to a
    /// French word that expresses the same thing (0-based, whitespace-separated words).
    pub dev_align: Vec<String>,
    /// Gold (sure) alignments of `test`, likewise.
    pub test_align: Vec<String>,
}

impl ToyCorpus {
    /// The eight files of the corpus as (file name, content): the six text files, then `dev.align`
    /// and `test.align`.
    fn files(&self) -> Vec<(String, String)> {
        let mut files =
            parallel_files(&[("train", &self.train[..]), ("dev", &self.dev), ("test", &self.test)], "en", "fr");
        for (name, lines) in [("dev.align", &self.dev_align), ("test.align", &self.test_align)] {
            files.push((name.to_string(), lines.iter().map(|l| format!("{l}\n")).collect()));
        }
        files
    }
}

/// Generates the corpus for `seed`: sentences are drawn until there are enough distinct English
/// ones; the first 500 are the test set, the next 500 the dev set, the rest the training set.
pub fn generate(seed: u64) -> ToyCorpus {
    let mut rng = SplitMix64(seed);
    let total = TEST_PAIRS + DEV_PAIRS + TRAIN_PAIRS;
    let mut seen = HashSet::with_capacity(total);
    let mut pairs = Vec::with_capacity(total);
    let mut aligns = Vec::with_capacity(TEST_PAIRS + DEV_PAIRS);
    while pairs.len() < total {
        let (en, fr, align) = sentence_pair(&mut rng);
        if seen.insert(en.clone()) {
            pairs.push((en, fr));
            if aligns.len() < TEST_PAIRS + DEV_PAIRS {
                aligns.push(align);
            }
        }
    }
    let train = pairs.split_off(TEST_PAIRS + DEV_PAIRS);
    let dev = pairs.split_off(TEST_PAIRS);
    let dev_align = aligns.split_off(TEST_PAIRS);
    ToyCorpus { train, dev, test: pairs, dev_align, test_align: aligns }
}

/// Writes `train.en train.fr dev.en dev.fr test.en test.fr dev.align test.align` for `seed` into
/// `dir` (created if needed), each file atomically; a different corpus already there is only
/// overwritten with `force` ([`write_corpus`]).
pub fn write(dir: &Path, seed: u64, force: bool) -> Result<()> {
    write_corpus(dir, &generate(seed).files(), force)
}

// ---------------------------------------------------------------------------------------------
// The lexicon. Its tables are `#[rustfmt::skip]` so that they keep one entry per line.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gender {
    Masc = 0,
    Fem = 1,
}
use Gender::{Fem, Masc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    Sg = 0,
    Pl = 1,
}
use Number::{Pl, Sg};

/// Semantic classes of nouns, as bit flags: verbs, adjectives and prepositions name the classes
/// they combine with, so the corpus says "the dog eats an apple", never "the apple eats a dog".
type Kinds = u8;
const PERSON: Kinds = 1;
const ANIMAL: Kinds = 1 << 1;
const VEHICLE: Kinds = 1 << 2;
const PLACE: Kinds = 1 << 3;
const THING: Kinds = 1 << 4;
const FOOD: Kinds = 1 << 5;
/// A place one goes *to* with "aller à" ("je vais au parc"); French says "en ville" or "dans la
/// forêt" for other places, so they are never destinations.
const VENUE: Kinds = 1 << 6;
/// Food that is made rather than grown, for "make" and "prepare" ("je fais un gâteau").
const DISH: Kinds = 1 << 7;
const LIVING: Kinds = PERSON | ANIMAL;
const ANY: Kinds = PERSON | ANIMAL | VEHICLE | PLACE | THING | FOOD;
/// The classes a noun phrase can be built from when a coordination picks one for both halves.
const CLASSES: [Kinds; 6] = [PERSON, ANIMAL, VEHICLE, PLACE, THING, FOOD];

struct Noun {
    /// Singular, plural.
    en: [&'static str; 2],
    /// Singular, plural.
    fr: [&'static str; 2],
    gender: Gender,
    kinds: Kinds,
}

const fn noun(
    en: &'static str,
    en_pl: &'static str,
    fr: &'static str,
    fr_pl: &'static str,
    gender: Gender,
    kinds: Kinds,
) -> Noun {
    Noun { en: [en, en_pl], fr: [fr, fr_pl], gender, kinds }
}

// English nouns whose plural equals their singular (fish, sheep) are left out: "the fish" would
// have two translations.
#[rustfmt::skip]
const NOUNS: &[Noun] = &[
    noun("man", "men", "homme", "hommes", Masc, PERSON),
    noun("woman", "women", "femme", "femmes", Fem, PERSON),
    noun("boy", "boys", "garçon", "garçons", Masc, PERSON),
    noun("girl", "girls", "fille", "filles", Fem, PERSON),
    noun("child", "children", "enfant", "enfants", Masc, PERSON),
    noun("friend", "friends", "ami", "amis", Masc, PERSON),
    noun("teacher", "teachers", "professeur", "professeurs", Masc, PERSON),
    noun("doctor", "doctors", "médecin", "médecins", Masc, PERSON),
    noun("student", "students", "étudiant", "étudiants", Masc, PERSON),
    noun("neighbor", "neighbors", "voisin", "voisins", Masc, PERSON),
    noun("father", "fathers", "père", "pères", Masc, PERSON),
    noun("mother", "mothers", "mère", "mères", Fem, PERSON),
    noun("brother", "brothers", "frère", "frères", Masc, PERSON),
    noun("sister", "sisters", "sœur", "sœurs", Fem, PERSON),
    noun("uncle", "uncles", "oncle", "oncles", Masc, PERSON),
    noun("actress", "actresses", "actrice", "actrices", Fem, PERSON),
    noun("dog", "dogs", "chien", "chiens", Masc, ANIMAL),
    noun("cat", "cats", "chat", "chats", Masc, ANIMAL),
    noun("horse", "horses", "cheval", "chevaux", Masc, ANIMAL),
    noun("bird", "birds", "oiseau", "oiseaux", Masc, ANIMAL),
    noun("cow", "cows", "vache", "vaches", Fem, ANIMAL),
    noun("mouse", "mice", "souris", "souris", Fem, ANIMAL),
    noun("rabbit", "rabbits", "lapin", "lapins", Masc, ANIMAL),
    noun("bear", "bears", "ours", "ours", Masc, ANIMAL),
    noun("elephant", "elephants", "éléphant", "éléphants", Masc, ANIMAL),
    noun("wolf", "wolves", "loup", "loups", Masc, ANIMAL),
    noun("spider", "spiders", "araignée", "araignées", Fem, ANIMAL),
    noun("monkey", "monkeys", "singe", "singes", Masc, ANIMAL),
    noun("car", "cars", "voiture", "voitures", Fem, VEHICLE),
    noun("bus", "buses", "bus", "bus", Masc, VEHICLE),
    noun("train", "trains", "train", "trains", Masc, VEHICLE),
    noun("bike", "bikes", "vélo", "vélos", Masc, VEHICLE),
    noun("boat", "boats", "bateau", "bateaux", Masc, VEHICLE),
    noun("plane", "planes", "avion", "avions", Masc, VEHICLE),
    noun("truck", "trucks", "camion", "camions", Masc, VEHICLE),
    noun("motorcycle", "motorcycles", "moto", "motos", Fem, VEHICLE),
    noun("house", "houses", "maison", "maisons", Fem, PLACE),
    noun("park", "parks", "parc", "parcs", Masc, PLACE | VENUE),
    noun("school", "schools", "école", "écoles", Fem, PLACE | VENUE),
    noun("garden", "gardens", "jardin", "jardins", Masc, PLACE),
    noun("city", "cities", "ville", "villes", Fem, PLACE),
    noun("street", "streets", "rue", "rues", Fem, PLACE),
    noun("beach", "beaches", "plage", "plages", Fem, PLACE | VENUE),
    noun("forest", "forests", "forêt", "forêts", Fem, PLACE),
    noun("station", "stations", "gare", "gares", Fem, PLACE | VENUE),
    noun("church", "churches", "église", "églises", Fem, PLACE | VENUE),
    noun("hospital", "hospitals", "hôpital", "hôpitaux", Masc, PLACE | VENUE),
    noun("hotel", "hotels", "hôtel", "hôtels", Masc, PLACE | VENUE),
    noun("market", "markets", "marché", "marchés", Masc, PLACE | VENUE),
    noun("restaurant", "restaurants", "restaurant", "restaurants", Masc, PLACE | VENUE),
    noun("library", "libraries", "bibliothèque", "bibliothèques", Fem, PLACE | VENUE),
    noun("museum", "museums", "musée", "musées", Masc, PLACE | VENUE),
    noun("kitchen", "kitchens", "cuisine", "cuisines", Fem, PLACE),
    noun("office", "offices", "bureau", "bureaux", Masc, PLACE | VENUE),
    noun("airport", "airports", "aéroport", "aéroports", Masc, PLACE | VENUE),
    noun("book", "books", "livre", "livres", Masc, THING),
    noun("table", "tables", "table", "tables", Fem, THING),
    noun("chair", "chairs", "chaise", "chaises", Fem, THING),
    noun("letter", "letters", "lettre", "lettres", Fem, THING),
    noun("key", "keys", "clé", "clés", Fem, THING),
    noun("phone", "phones", "téléphone", "téléphones", Masc, THING),
    noun("box", "boxes", "boîte", "boîtes", Fem, THING),
    noun("bag", "bags", "sac", "sacs", Masc, THING),
    noun("door", "doors", "porte", "portes", Fem, THING),
    noun("window", "windows", "fenêtre", "fenêtres", Fem, THING),
    noun("painting", "paintings", "tableau", "tableaux", Masc, THING),
    noun("ball", "balls", "ballon", "ballons", Masc, THING),
    noun("umbrella", "umbrellas", "parapluie", "parapluies", Masc, THING),
    noun("computer", "computers", "ordinateur", "ordinateurs", Masc, THING),
    noun("clock", "clocks", "horloge", "horloges", Fem, THING),
    noun("bottle", "bottles", "bouteille", "bouteilles", Fem, THING),
    noun("tree", "trees", "arbre", "arbres", Masc, THING),
    noun("newspaper", "newspapers", "journal", "journaux", Masc, THING),
    noun("hat", "hats", "chapeau", "chapeaux", Masc, THING),
    noun("coat", "coats", "manteau", "manteaux", Masc, THING),
    noun("apple", "apples", "pomme", "pommes", Fem, FOOD),
    noun("cake", "cakes", "gâteau", "gâteaux", Masc, FOOD | DISH),
    noun("cheese", "cheeses", "fromage", "fromages", Masc, FOOD | DISH),
    noun("soup", "soups", "soupe", "soupes", Fem, FOOD | DISH),
    noun("egg", "eggs", "œuf", "œufs", Masc, FOOD),
    noun("orange", "oranges", "orange", "oranges", Fem, FOOD),
    noun("banana", "bananas", "banane", "bananes", Fem, FOOD),
    noun("sandwich", "sandwiches", "sandwich", "sandwichs", Masc, FOOD | DISH),
    noun("pie", "pies", "tarte", "tartes", Fem, FOOD | DISH),
    noun("carrot", "carrots", "carotte", "carottes", Fem, FOOD),
    noun("tomato", "tomatoes", "tomate", "tomates", Fem, FOOD),
    noun("strawberry", "strawberries", "fraise", "fraises", Fem, FOOD),
];

struct Adjective {
    en: &'static str,
    /// Masculine singular, feminine singular, masculine plural, feminine plural.
    fr: [&'static str; 4],
    /// For the few adjectives that go before the noun: their masculine singular form before a
    /// vowel ("un bel arbre", "le nouvel hôtel"). `None`: the adjective follows the noun.
    before: Option<&'static str>,
    kinds: Kinds,
}

impl Adjective {
    fn form(&self, gender: Gender, number: Number) -> &'static str {
        self.fr[2 * number as usize + gender as usize]
    }
}

const fn after(en: &'static str, fr: [&'static str; 4], kinds: Kinds) -> Adjective {
    Adjective { en, fr, before: None, kinds }
}

const fn before(en: &'static str, fr: [&'static str; 4], elided: &'static str, kinds: Kinds) -> Adjective {
    Adjective { en, fr, before: Some(elided), kinds }
}

#[rustfmt::skip]
const ADJECTIVES: &[Adjective] = &[
    after("red", ["rouge", "rouge", "rouges", "rouges"], VEHICLE | THING | FOOD),
    after("black", ["noir", "noire", "noirs", "noires"], VEHICLE | THING | ANIMAL),
    after("white", ["blanc", "blanche", "blancs", "blanches"], VEHICLE | THING | ANIMAL),
    after("green", ["vert", "verte", "verts", "vertes"], VEHICLE | THING | FOOD),
    after("blue", ["bleu", "bleue", "bleus", "bleues"], VEHICLE | THING),
    after("yellow", ["jaune", "jaune", "jaunes", "jaunes"], VEHICLE | THING | FOOD),
    after("fast", ["rapide", "rapide", "rapides", "rapides"], VEHICLE | ANIMAL),
    after("slow", ["lent", "lente", "lents", "lentes"], VEHICLE | ANIMAL),
    after("happy", ["heureux", "heureuse", "heureux", "heureuses"], LIVING),
    after("sad", ["triste", "triste", "tristes", "tristes"], LIVING),
    after("tired", ["fatigué", "fatiguée", "fatigués", "fatiguées"], LIVING),
    after("sick", ["malade", "malade", "malades", "malades"], LIVING),
    after("brave", ["courageux", "courageuse", "courageux", "courageuses"], PERSON),
    after("famous", ["célèbre", "célèbre", "célèbres", "célèbres"], PERSON | PLACE),
    after("hot", ["chaud", "chaude", "chauds", "chaudes"], FOOD),
    after("cold", ["froid", "froide", "froids", "froides"], FOOD | PLACE),
    after("delicious", ["délicieux", "délicieuse", "délicieux", "délicieuses"], FOOD),
    after("clean", ["propre", "propre", "propres", "propres"], VEHICLE | THING | PLACE),
    after("dirty", ["sale", "sale", "sales", "sales"], VEHICLE | THING | PLACE | ANIMAL),
    after("expensive", ["cher", "chère", "chers", "chères"], VEHICLE | THING | FOOD | PLACE),
    after("heavy", ["lourd", "lourde", "lourds", "lourdes"], THING),
    after("empty", ["vide", "vide", "vides", "vides"], VEHICLE | THING | PLACE),
    after("noisy", ["bruyant", "bruyante", "bruyants", "bruyantes"], LIVING | VEHICLE | PLACE),
    before("small", ["petit", "petite", "petits", "petites"], "petit", ANY),
    before("big", ["grand", "grande", "grands", "grandes"], "grand", ANY),
    before("beautiful", ["beau", "belle", "beaux", "belles"], "bel", ANY),
    before("new", ["nouveau", "nouvelle", "nouveaux", "nouvelles"], "nouvel", ANY & !FOOD & !ANIMAL),
    before("old", ["vieux", "vieille", "vieux", "vieilles"], "vieil", ANY & !FOOD),
];

struct Verb {
    /// Base form, third person singular.
    en: [&'static str; 2],
    /// je, tu, il/elle, nous, vous, ils.
    fr: [&'static str; 6],
    subjects: Kinds,
    objects: Kinds,
}

const fn verb(en: [&'static str; 2], subjects: Kinds, objects: Kinds, fr: [&'static str; 6]) -> Verb {
    Verb { en, fr, subjects, objects }
}

/// Transitive verbs: regular -er verbs, two with spelling changes (acheter, manger), one -re verb
/// and the irregular avoir, faire, prendre, voir.
#[rustfmt::skip]
const VERBS: &[Verb] = &[
    verb(["like", "likes"], LIVING, ANY,
         ["aime", "aimes", "aime", "aimons", "aimez", "aiment"]),
    verb(["love", "loves"], PERSON, ANY & !PERSON,
         ["adore", "adores", "adore", "adorons", "adorez", "adorent"]),
    verb(["watch", "watches"], LIVING, LIVING | VEHICLE | THING,
         ["regarde", "regardes", "regarde", "regardons", "regardez", "regardent"]),
    verb(["look for", "looks for"], LIVING, LIVING | VEHICLE | THING,
         ["cherche", "cherches", "cherche", "cherchons", "cherchez", "cherchent"]),
    verb(["find", "finds"], LIVING, LIVING | THING | FOOD,
         ["trouve", "trouves", "trouve", "trouvons", "trouvez", "trouvent"]),
    verb(["carry", "carries"], PERSON, THING | FOOD,
         ["porte", "portes", "porte", "portons", "portez", "portent"]),
    verb(["wash", "washes"], PERSON, ANIMAL | VEHICLE | THING,
         ["lave", "laves", "lave", "lavons", "lavez", "lavent"]),
    verb(["buy", "buys"], PERSON, VEHICLE | THING | FOOD,
         ["achète", "achètes", "achète", "achetons", "achetez", "achètent"]),
    verb(["eat", "eats"], LIVING, FOOD,
         ["mange", "manges", "mange", "mangeons", "mangez", "mangent"]),
    verb(["visit", "visits"], PERSON, PLACE,
         ["visite", "visites", "visite", "visitons", "visitez", "visitent"]),
    verb(["draw", "draws"], PERSON, ANY,
         ["dessine", "dessines", "dessine", "dessinons", "dessinez", "dessinent"]),
    verb(["help", "helps"], PERSON, LIVING,
         ["aide", "aides", "aide", "aidons", "aidez", "aident"]),
    verb(["listen to", "listens to"], LIVING, LIVING,
         ["écoute", "écoutes", "écoute", "écoutons", "écoutez", "écoutent"]),
    verb(["wait for", "waits for"], LIVING, PERSON | VEHICLE,
         ["attends", "attends", "attend", "attendons", "attendez", "attendent"]),
    verb(["prepare", "prepares"], PERSON, DISH,
         ["prépare", "prépares", "prépare", "préparons", "préparez", "préparent"]),
    verb(["have", "has"], LIVING, ANY,
         ["ai", "as", "a", "avons", "avez", "ont"]),
    verb(["make", "makes"], PERSON, DISH,
         ["fais", "fais", "fait", "faisons", "faites", "font"]),
    verb(["take", "takes"], PERSON, VEHICLE | THING | FOOD,
         ["prends", "prends", "prend", "prenons", "prenez", "prennent"]),
    verb(["see", "sees"], LIVING, ANY,
         ["vois", "vois", "voit", "voyons", "voyez", "voient"]),
];

/// "go to" → aller à (the "à" is written separately so it contracts with the article: au, aux).
const GO: Verb = verb(["go to", "goes to"], LIVING, VENUE, ["vais", "vas", "va", "allons", "allez", "vont"]);
const BE_FR: [&str; 6] = ["suis", "es", "est", "sommes", "êtes", "sont"];

struct Pronoun {
    en: &'static str,
    fr: &'static str,
    /// 0..6: je, tu, il/elle, nous, vous, ils.
    person: usize,
    gender: Gender,
}

// English "you" and "they" do not mark what French needs (tu or vous, ils or elles), so the
// grammar fixes one reading to keep the translation a function: "you" is tu, "you all" is vous,
// "they" is ils, and adjectives agree in the masculine with I, you, we and they.
#[rustfmt::skip]
const PRONOUNS: &[Pronoun] = &[
    Pronoun { en: "I", fr: "je", person: 0, gender: Masc },
    Pronoun { en: "you", fr: "tu", person: 1, gender: Masc },
    Pronoun { en: "he", fr: "il", person: 2, gender: Masc },
    Pronoun { en: "she", fr: "elle", person: 2, gender: Fem },
    Pronoun { en: "we", fr: "nous", person: 3, gender: Masc },
    Pronoun { en: "you all", fr: "vous", person: 4, gender: Masc },
    Pronoun { en: "they", fr: "ils", person: 5, gender: Masc },
];

/// English, then French masculine singular, feminine singular, plural. "your" is ton/ta/tes, the
/// possessive of "you" = tu.
const POSSESSIVES: &[(&str, [&str; 3])] = &[
    ("my", ["mon", "ma", "mes"]),
    ("your", ["ton", "ta", "tes"]),
    ("his", ["son", "sa", "ses"]),
    ("her", ["son", "sa", "ses"]),
    ("our", ["notre", "notre", "nos"]),
    ("their", ["leur", "leur", "leurs"]),
];

/// 1 to 20; "one" is un or une by gender, handled where it is used.
const NUMBERS: [(&str, &str); 20] = [
    ("one", "un"),
    ("two", "deux"),
    ("three", "trois"),
    ("four", "quatre"),
    ("five", "cinq"),
    ("six", "six"),
    ("seven", "sept"),
    ("eight", "huit"),
    ("nine", "neuf"),
    ("ten", "dix"),
    ("eleven", "onze"),
    ("twelve", "douze"),
    ("thirteen", "treize"),
    ("fourteen", "quatorze"),
    ("fifteen", "quinze"),
    ("sixteen", "seize"),
    ("seventeen", "dix-sept"),
    ("eighteen", "dix-huit"),
    ("nineteen", "dix-neuf"),
    ("twenty", "vingt"),
];

struct Preposition {
    en: &'static str,
    fr: &'static str,
    kinds: Kinds,
}

#[rustfmt::skip]
const PREPOSITIONS: &[Preposition] = &[
    Preposition { en: "in", fr: "dans", kinds: PLACE | VEHICLE },
    Preposition { en: "on", fr: "sur", kinds: THING | VEHICLE },
    Preposition { en: "under", fr: "sous", kinds: THING | VEHICLE },
    Preposition { en: "near", fr: "près de", kinds: ANY & !FOOD },
    Preposition { en: "behind", fr: "derrière", kinds: ANY & !FOOD },
    Preposition { en: "in front of", fr: "devant", kinds: ANY & !FOOD },
    Preposition { en: "next to", fr: "à côté de", kinds: ANY & !FOOD },
    Preposition { en: "with", fr: "avec", kinds: LIVING },
];

struct Adverb {
    en: &'static str,
    fr: &'static str,
    /// "never" is a negation: ne … jamais, and indefinites become "de" as after ne … pas.
    negative: bool,
}

#[rustfmt::skip]
const ADVERBS: &[Adverb] = &[
    Adverb { en: "often", fr: "souvent", negative: false },
    Adverb { en: "always", fr: "toujours", negative: false },
    Adverb { en: "sometimes", fr: "parfois", negative: false },
    Adverb { en: "never", fr: "jamais", negative: true },
];

// ---------------------------------------------------------------------------------------------
// The grammar.
// ---------------------------------------------------------------------------------------------

/// How a clause is built around its finite verb.
#[derive(Clone, Copy)]
enum Mode {
    Plain,
    /// "does not like" → "n'aime pas".
    Not,
    /// "often likes" → "aime souvent"; "never likes" → "n'aime jamais".
    Adverb(&'static Adverb),
    /// "does he like …?" → "est-ce qu'il aime …?"
    Question,
}

impl Mode {
    /// Whether French negates the verb here, which turns an indefinite object into "de".
    fn negative(self) -> bool {
        match self {
            Mode::Not => true,
            Mode::Adverb(a) => a.negative,
            Mode::Plain | Mode::Question => false,
        }
    }
}

/// A sentence pair under construction, as words. Entries with spaces ("look for", "près de") are
/// split, so that the spelling rules of [`french_text`] see every word.
///
/// Each word may express a *concept* (a number): an English and a French word of the same concept are
/// a sure gold alignment link ("the" and "le", "does not" … "not" and "ne", "pas"); a word of no concept
/// ("do" of "do not", French "des" of a bare plural) is linked to nothing.
#[derive(Default)]
struct Words {
    en: Vec<String>,
    fr: Vec<String>,
    en_concept: Vec<Option<usize>>,
    fr_concept: Vec<Option<usize>>,
    /// Concepts handed out so far.
    concepts: usize,
}

impl Words {
    /// A new concept.
    fn concept(&mut self) -> usize {
        self.concepts += 1;
        self.concepts - 1
    }
    /// Reserves `n` concepts → the first.
    fn concepts(&mut self, n: usize) -> usize {
        self.concepts += n;
        self.concepts - n
    }
    fn en_as(&mut self, s: &str, concept: Option<usize>) {
        for w in s.split_whitespace() {
            self.en.push(w.to_owned());
            self.en_concept.push(concept);
        }
    }
    fn fr_as(&mut self, s: &str, concept: Option<usize>) {
        for w in s.split_whitespace() {
            self.fr.push(w.to_owned());
            self.fr_concept.push(concept);
        }
    }
    /// Gives the last English word of concept `c` a concept of its own → that concept.
    fn split_last_en(&mut self, c: usize) -> usize {
        let own = self.concept();
        if let Some(k) = self.en_concept.iter().rposition(|&e| e == Some(c)) {
            self.en_concept[k] = Some(own);
        }
        own
    }
    /// Makes concept `b` the same as concept `a`.
    fn merge(&mut self, a: usize, b: usize) {
        for c in self.en_concept.iter_mut().chain(self.fr_concept.iter_mut()) {
            if *c == Some(b) {
                *c = Some(a);
            }
        }
    }
    /// An English and a French entry of one new concept.
    fn both(&mut self, en: &str, fr: &str) {
        let c = Some(self.concept());
        self.en_as(en, c);
        self.fr_as(fr, c);
    }

    /// The gold alignment of the finished sentence pair in Pharaoh format: `i-j` for every English word
    /// `i` and French word `j` (0-based, whitespace-separated in the texts [`english_text`] and
    /// [`french_text`] write) that share a concept, sorted.
    fn alignment(&self) -> String {
        let fr_word = french_spelling(&self.fr).1;
        let mut links = std::collections::BTreeSet::new();
        for (i, c) in self.en_concept.iter().enumerate() {
            for (k, d) in self.fr_concept.iter().enumerate() {
                if c.is_some() && c == d {
                    links.insert((i, fr_word[k]));
                }
            }
        }
        links.iter().map(|(i, j)| format!("{i}-{j}")).collect::<Vec<_>>().join(" ")
    }
}

/// The slots of a noun phrase: an English and a French word in the same slot are one concept.
const SLOT_DET: usize = 0;
const SLOT_BEFORE: usize = 1;
const SLOT_AFTER: usize = 2;
const SLOT_NOUN: usize = 3;
const SLOTS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Det {
    The,
    A,
    /// Indefinite plural: English bare plural ("any" after "not"), French des.
    Indef,
    /// 1 to 20.
    Num(usize),
    /// Index into [`POSSESSIVES`].
    Poss(usize),
    This,
}

/// Where a noun phrase stands; it decides which determiners are natural there.
#[derive(Clone, Copy)]
enum Role {
    Subject,
    Object,
    /// After a preposition.
    Place,
    /// After "go to".
    Destination,
    /// After "there is".
    Existential,
}

struct NounPhrase {
    det: Det,
    noun: &'static Noun,
    number: Number,
    before: Option<&'static Adjective>,
    after: Option<&'static Adjective>,
}

impl NounPhrase {
    /// The English words, each with its slot (`SLOT_*`).
    fn english(&self, mode: Mode) -> Vec<(usize, &'static str)> {
        let mut w = Vec::with_capacity(4);
        let det = match self.det {
            Det::The => Some("the"),
            Det::A => Some("a"),
            Det::Indef if matches!(mode, Mode::Not) => Some("any"),
            Det::Indef => None,
            Det::Num(n) => Some(NUMBERS[n - 1].0),
            Det::Poss(i) => Some(POSSESSIVES[i].0),
            Det::This if self.number == Sg => Some("this"),
            Det::This => Some("these"),
        };
        w.extend(det.map(|d| (SLOT_DET, d)));
        w.extend(self.before.map(|a| (SLOT_BEFORE, a.en)));
        w.extend(self.after.map(|a| (SLOT_AFTER, a.en)));
        w.push((SLOT_NOUN, self.noun.en[self.number as usize]));
        w
    }

    /// The French words, each with its slot (`SLOT_*`).
    fn french(&self, mode: Mode) -> Vec<(usize, &'static str)> {
        let (gender, number) = (self.noun.gender, self.number);
        let noun = self.noun.fr[number as usize];
        let masc_sg = gender == Masc && number == Sg;
        let before = self.before.map(|a| match a.before {
            Some(elided) if masc_sg && vowel_initial(noun) => elided,
            _ => a.form(gender, number),
        });
        // The determiner's form depends on the word right after it (mon école, cet arbre).
        let next_vowel = vowel_initial(before.unwrap_or(noun));
        let det = match self.det {
            Det::The if number == Pl => Some("les"),
            Det::The if gender == Masc => Some("le"),
            Det::The => Some("la"),
            Det::A | Det::Indef if mode.negative() => Some("de"),
            Det::A | Det::Num(1) if gender == Masc => Some("un"),
            Det::A | Det::Num(1) => Some("une"),
            // Written French drops des to de before an adjective: "de petites voitures".
            Det::Indef if before.is_some() => Some("de"),
            Det::Indef => Some("des"),
            Det::Num(n) => Some(NUMBERS[n - 1].1),
            Det::Poss(i) if number == Pl => Some(POSSESSIVES[i].1[2]),
            Det::Poss(i) if gender == Fem && !next_vowel => Some(POSSESSIVES[i].1[1]),
            Det::Poss(i) => Some(POSSESSIVES[i].1[0]),
            Det::This if number == Pl => Some("ces"),
            Det::This if gender == Fem => Some("cette"),
            Det::This if next_vowel => Some("cet"),
            Det::This => Some("ce"),
        };
        let mut w = Vec::with_capacity(4);
        w.extend(det.map(|d| (SLOT_DET, d)));
        w.extend(before.map(|b| (SLOT_BEFORE, b)));
        w.push((SLOT_NOUN, noun));
        w.extend(self.after.map(|a| (SLOT_AFTER, a.form(gender, number))));
        w
    }

    fn push(&self, words: &mut Words, mode: Mode) {
        let first = words.concepts(SLOTS);
        for (slot, w) in self.english(mode) {
            words.en_as(w, Some(first + slot));
        }
        for (slot, w) in self.french(mode) {
            words.fr_as(w, Some(first + slot));
        }
    }
}

/// A noun phrase of one of `kinds` with a determiner natural for `role`; `mode` is the mode of
/// its clause (a negated clause takes no "one": "je n'ai pas une voiture" is not what it means).
fn noun_phrase(rng: &mut SplitMix64, kinds: Kinds, role: Role, mode: Mode) -> NounPhrase {
    let nouns: Vec<&'static Noun> = NOUNS.iter().filter(|n| n.kinds & kinds != 0).collect();
    let noun = *rng.pick(&nouns);
    // A negated clause takes no "one" (see above), so its counts start at two.
    let count = |rng: &mut SplitMix64| {
        if mode.negative() {
            2 + rng.below(19)
        } else {
            1 + rng.below(20)
        }
    };
    let r = rng.below(100);
    let det = match role {
        Role::Subject => match r {
            0..=49 => Det::The,
            50..=59 => Det::A,
            60..=69 => Det::Num(count(rng)),
            70..=89 => Det::Poss(rng.below(POSSESSIVES.len())),
            _ => Det::This,
        },
        Role::Object => match r {
            0..=29 => Det::The,
            30..=49 => Det::A,
            50..=61 => Det::Indef,
            62..=74 => Det::Num(count(rng)),
            75..=89 => Det::Poss(rng.below(POSSESSIVES.len())),
            _ => Det::This,
        },
        Role::Place => match r {
            0..=54 => Det::The,
            55..=69 => Det::A,
            70..=89 => Det::Poss(rng.below(POSSESSIVES.len())),
            _ => Det::This,
        },
        Role::Destination => match r {
            0..=74 => Det::The,
            _ => Det::This,
        },
        Role::Existential => match r {
            0..=49 => Det::A,
            50..=74 => Det::Indef,
            _ => Det::Num(count(rng)),
        },
    };
    let number = match (det, role) {
        (Det::A | Det::Num(1), _) | (_, Role::Destination) => Sg,
        (Det::Indef | Det::Num(_), _) => Pl,
        _ if rng.percent(35) => Pl,
        _ => Sg,
    };
    let before = adjective(rng, noun, true, 20);
    let after = adjective(rng, noun, false, 30);
    NounPhrase { det, noun, number, before, after }
}

/// With probability `pct`, an adjective that fits `noun` and goes before it (or after it).
fn adjective(rng: &mut SplitMix64, noun: &Noun, before: bool, pct: usize) -> Option<&'static Adjective> {
    if !rng.percent(pct) {
        return None;
    }
    let fitting: Vec<&'static Adjective> =
        ADJECTIVES.iter().filter(|a| a.before.is_some() == before && a.kinds & noun.kinds != 0).collect();
    (!fitting.is_empty()).then(|| *rng.pick(&fitting))
}

/// The subject of a clause, in both languages, with what agreement needs.
struct Subject {
    /// Entries, each with its concept numbered within the subject (0 … `concepts` − 1).
    en: Vec<(usize, &'static str)>,
    fr: Vec<(usize, &'static str)>,
    /// How many concepts the subject's words express.
    concepts: usize,
    /// 0..6: je, tu, il/elle, nous, vous, ils.
    person: usize,
    gender: Gender,
    kinds: Kinds,
}

impl Subject {
    fn number(&self) -> Number {
        if self.person >= 3 {
            Pl
        } else {
            Sg
        }
    }

    fn from_phrase(np: &NounPhrase) -> Subject {
        Subject {
            en: np.english(Mode::Plain),
            fr: np.french(Mode::Plain),
            concepts: SLOTS,
            person: if np.number == Sg { 2 } else { 5 },
            gender: np.noun.gender,
            kinds: np.noun.kinds,
        }
    }
}

/// A pronoun, a noun phrase of `kinds` or, with `coordination`, two noun phrases joined by "and"
/// (plural; feminine only when both are: "la fille et le garçon sont heureux").
fn subject(rng: &mut SplitMix64, kinds: Kinds, coordination: bool) -> Subject {
    let r = rng.below(100);
    if kinds & PERSON != 0 && r < 40 {
        let p = rng.pick(PRONOUNS);
        return Subject {
            en: vec![(0, p.en)],
            fr: vec![(0, p.fr)],
            concepts: 1,
            person: p.person,
            gender: p.gender,
            kinds: PERSON,
        };
    }
    if !coordination || r < 85 {
        return Subject::from_phrase(&noun_phrase(rng, kinds, Role::Subject, Mode::Plain));
    }
    let classes: Vec<Kinds> = CLASSES.iter().copied().filter(|c| c & kinds != 0).collect();
    let class = *rng.pick(&classes);
    let first = Subject::from_phrase(&noun_phrase(rng, class, Role::Subject, Mode::Plain));
    let second = Subject::from_phrase(&noun_phrase(rng, class, Role::Subject, Mode::Plain));
    let gender = if first.gender == Fem && second.gender == Fem { Fem } else { Masc };
    // Concepts: the first phrase's, then "and", then the second phrase's.
    let (and, second_first) = (first.concepts, first.concepts + 1);
    let shift = |parts: Vec<(usize, &'static str)>| parts.into_iter().map(move |(c, w)| (second_first + c, w));
    Subject {
        en: first.en.into_iter().chain([(and, "and")]).chain(shift(second.en)).collect(),
        fr: first.fr.into_iter().chain([(and, "et")]).chain(shift(second.fr)).collect(),
        concepts: second_first + second.concepts,
        person: 5,
        gender,
        kinds: class,
    }
}

/// The finite verb of a clause.
#[derive(Clone, Copy)]
enum Finite {
    /// A lexical verb: English needs "do" to negate or ask.
    Lexical { en: [&'static str; 2], fr: &'static str },
    /// "be" (also in "there is"): English negates and asks without "do".
    Be { en: &'static str, fr: &'static str },
}

fn be(subject: &Subject) -> Finite {
    let en = match subject.person {
        0 => "am",
        2 => "is",
        _ => "are",
    };
    Finite::Be { en, fr: BE_FR[subject.person] }
}

/// Subject and verb in both languages, in the word order `mode` asks for:
/// "I do not like" → "je n'aime pas", "is he …?" → "est-ce qu'il est …?",
/// "she often eats" → "elle mange souvent". → the verb's concept.
///
/// Concepts: the subject's; the verb ("look for" — "cherche", "is" — "y a"); the mode's words ("not" —
/// "ne", "pas"; "never" — "ne", "jamais"; "often" — "souvent"; the "do" of a question — "est-ce que").
/// The "do" of a negation has no French word of its own.
fn clause(words: &mut Words, subject: &Subject, verb: Finite, mode: Mode) -> usize {
    let do_ = if subject.person == 2 { "does" } else { "do" };
    let third = usize::from(subject.person == 2);
    let first = words.concepts(subject.concepts);
    let (verb_concept, mode_concept) = (words.concept(), words.concept());
    let (v, m) = (Some(verb_concept), Some(mode_concept));
    let subj = |words: &mut Words| {
        for &(c, w) in &subject.en {
            words.en_as(w, Some(first + c));
        }
    };
    match (verb, mode) {
        (Finite::Lexical { en, .. }, Mode::Plain) => {
            subj(words);
            words.en_as(en[third], v);
        }
        (Finite::Lexical { en, .. }, Mode::Not) => {
            subj(words);
            words.en_as(do_, None);
            words.en_as("not", m);
            words.en_as(en[0], v);
        }
        (Finite::Lexical { en, .. }, Mode::Adverb(a)) => {
            subj(words);
            words.en_as(a.en, m);
            words.en_as(en[third], v);
        }
        (Finite::Lexical { en, .. }, Mode::Question) => {
            words.en_as(do_, m);
            subj(words);
            words.en_as(en[0], v);
        }
        (Finite::Be { en, .. }, Mode::Plain) => {
            subj(words);
            words.en_as(en, v);
        }
        (Finite::Be { en, .. }, Mode::Not) => {
            subj(words);
            words.en_as(en, v);
            words.en_as("not", m);
        }
        (Finite::Be { en, .. }, Mode::Adverb(a)) => {
            subj(words);
            words.en_as(en, v);
            words.en_as(a.en, m);
        }
        (Finite::Be { en, .. }, Mode::Question) => {
            words.en_as(en, v);
            subj(words);
        }
    }
    if matches!(mode, Mode::Question) {
        words.fr_as("est-ce que", m);
    }
    for &(c, w) in &subject.fr {
        words.fr_as(w, Some(first + c));
    }
    if mode.negative() {
        words.fr_as("ne", m);
    }
    words.fr_as(
        match verb {
            Finite::Lexical { fr, .. } | Finite::Be { fr, .. } => fr,
        },
        v,
    );
    match mode {
        Mode::Not => words.fr_as("pas", m),
        Mode::Adverb(a) => words.fr_as(a.fr, m),
        Mode::Plain | Mode::Question => {}
    }
    verb_concept
}

/// A prepositional phrase: "near the old tree" → "près du vieil arbre".
fn prepositional(rng: &mut SplitMix64, words: &mut Words) {
    let prep = rng.pick(PREPOSITIONS);
    let np = noun_phrase(rng, prep.kinds, Role::Place, Mode::Plain);
    words.both(prep.en, prep.fr);
    np.push(words, Mode::Plain);
}

/// "the girl sees two black cats near the house." → "la fille voit deux chats noirs près de la maison."
fn transitive(rng: &mut SplitMix64, mode: Mode) -> Words {
    let verb = rng.pick(VERBS);
    let subject = subject(rng, verb.subjects, false);
    let object = noun_phrase(rng, verb.objects, Role::Object, mode);
    let mut words = Words::default();
    clause(&mut words, &subject, Finite::Lexical { en: verb.en, fr: verb.fr[subject.person] }, mode);
    object.push(&mut words, mode);
    if rng.percent(30) {
        prepositional(rng, &mut words);
    }
    words
}

/// "the red car is fast." → "la voiture rouge est rapide."
fn described(rng: &mut SplitMix64, mode: Mode) -> Words {
    let subject = subject(rng, ANY, true);
    // Never the adjective the subject already has ("the red car is red").
    let fitting: Vec<&Adjective> = ADJECTIVES
        .iter()
        .filter(|a| a.kinds & subject.kinds != 0 && !subject.en.iter().any(|&(_, w)| w == a.en))
        .collect();
    let adj = rng.pick(&fitting);
    let mut words = Words::default();
    clause(&mut words, &subject, be(&subject), mode);
    words.both(adj.en, adj.form(subject.gender, subject.number()));
    words
}

/// "the cats are under the table." → "les chats sont sous la table."
fn located(rng: &mut SplitMix64, mode: Mode) -> Words {
    let subject = subject(rng, ANY & !PLACE, true);
    let mut words = Words::default();
    clause(&mut words, &subject, be(&subject), mode);
    prepositional(rng, &mut words);
    words
}

/// "we go to the school." → "nous allons à l'école."
fn going(rng: &mut SplitMix64, mode: Mode) -> Words {
    let subject = subject(rng, GO.subjects, false);
    let place = noun_phrase(rng, GO.objects, Role::Destination, mode);
    let mut words = Words::default();
    go_to(&mut words, &subject, mode);
    place.push(&mut words, mode);
    if rng.percent(25) {
        let company = noun_phrase(rng, LIVING, Role::Place, Mode::Plain);
        words.both("with", "avec");
        company.push(&mut words, Mode::Plain);
    }
    words
}

/// "we go to" → "nous allons à". "go to" and "aller à" match word for word — "go" and "vais", "to" and
/// "à" (also inside "au", "aux") — a phrase built the same way in both languages, not an idiom like
/// "there is" and "il y a": the gold links them word for word.
fn go_to(words: &mut Words, subject: &Subject, mode: Mode) {
    let go = clause(words, subject, Finite::Lexical { en: GO.en, fr: GO.fr[subject.person] }, mode);
    let to = words.split_last_en(go);
    words.fr_as("à", Some(to));
}

/// "there is not a dog in the garden." → "il n'y a pas de chien dans le jardin."
fn existential(rng: &mut SplitMix64, mode: Mode) -> Words {
    let thing = noun_phrase(rng, ANY & !PLACE, Role::Existential, mode);
    let there = Subject { en: vec![(0, "there")], fr: vec![(0, "il")], concepts: 1, person: 2, gender: Masc, kinds: 0 };
    let en = if thing.number == Sg { "is" } else { "are" };
    let mut words = Words::default();
    // "y" goes with the verb, so that "ne" lands before it: "il n'y a pas".
    let there_concept = words.concepts;
    let verb = clause(&mut words, &there, Finite::Be { en, fr: "y a" }, mode);
    // "there is" and "il y a" say the same as wholes (an idiom: "y" is not "there", "a" is not "is").
    words.merge(there_concept, verb);
    thing.push(&mut words, mode);
    prepositional(rng, &mut words);
    words
}

/// One sentence pair of 3 to 15 words on each side, and its gold alignment ([`Words::alignment`]).
fn sentence_pair(rng: &mut SplitMix64) -> (String, String, String) {
    loop {
        let question = rng.percent(12);
        let mode = if question {
            Mode::Question
        } else {
            match rng.below(100) {
                0..=24 => Mode::Not,
                25..=39 => Mode::Adverb(rng.pick(ADVERBS)),
                _ => Mode::Plain,
            }
        };
        let words = match rng.below(100) {
            0..=41 => transitive(rng, mode),
            42..=57 => described(rng, mode),
            58..=71 => located(rng, mode),
            72..=85 => going(rng, mode),
            _ => existential(rng, mode),
        };
        let end = if question { '?' } else { '.' };
        let en = english_text(&words.en, end);
        let fr = french_text(&words.fr, end);
        let fits = |s: &str| (MIN_WORDS..=MAX_WORDS).contains(&s.split_whitespace().count());
        if fits(&en) && fits(&fr) {
            return (en, fr, words.alignment());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Spelling.
// ---------------------------------------------------------------------------------------------

/// Whether a French word begins with a vowel sound for elision. Every h-word of the lexicon has a
/// mute h (l'homme, l'hôtel) and "y" only occurs as the pronoun (n'y a), except "huit", whose h is
/// aspirated (le huit), and "onze", which never takes elision.
fn vowel_initial(word: &str) -> bool {
    !matches!(word, "huit" | "onze") && word.starts_with(|c: char| "aeiouyàâéèêîôœh".contains(c))
}

/// Joins words with spaces, except after an apostrophe, and ends the sentence with `end`.
fn join(words: &[String], end: char) -> String {
    let mut text = String::new();
    for w in words {
        if !text.is_empty() && !text.ends_with('\'') {
            text.push(' ');
        }
        text.push_str(w);
    }
    text.push(end);
    text
}

/// English text: "a" becomes "an" before a vowel (the lexicon has no "an hour" or "a unit").
fn english_text(words: &[String], end: char) -> String {
    let fixed: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| match words.get(i + 1) {
            Some(next) if w == "a" && next.starts_with(['a', 'e', 'i', 'o', 'u']) => "an".to_owned(),
            _ => w.clone(),
        })
        .collect();
    join(&fixed, end)
}

/// French text with the spelling rules that depend on the next word: le/la elide before a vowel
/// (l'homme) — first, so that "à l'école" is not contracted — then à/de + le/les contract (au,
/// aux, du, des), then je/ne/de/que elide (j'aime, n'est, d'oiseaux, qu'il).
fn french_text(words: &[String], end: char) -> String {
    join(&french_spelling(words).0, end)
}

/// The French words spelled as [`french_text`] writes them, and for each of `words` the 0-based
/// whitespace-separated word of that text it ends up in (a contraction or an elision joins two).
fn french_spelling(words: &[String]) -> (Vec<String>, Vec<usize>) {
    let elide = |w: &str| format!("{}'", &w[..w.len() - 1]);
    let mut articles: Vec<String> = words.to_vec();
    for i in 0..articles.len().saturating_sub(1) {
        if matches!(articles[i].as_str(), "le" | "la") && vowel_initial(&articles[i + 1]) {
            articles[i] = elide(&articles[i]);
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(articles.len());
    // For each word, the index of the spelled word it went into.
    let mut into = Vec::with_capacity(articles.len());
    let mut i = 0;
    while i < articles.len() {
        let contracted = match (articles[i].as_str(), articles.get(i + 1).map(String::as_str)) {
            ("à", Some("le")) => Some("au"),
            ("à", Some("les")) => Some("aux"),
            ("de", Some("le")) => Some("du"),
            ("de", Some("les")) => Some("des"),
            _ => None,
        };
        match contracted {
            Some(c) => {
                into.extend([out.len(), out.len()]);
                out.push(c.to_owned());
                i += 2;
            }
            None => {
                into.push(out.len());
                out.push(articles[i].clone());
                i += 1;
            }
        }
    }
    for i in 0..out.len().saturating_sub(1) {
        if matches!(out[i].as_str(), "je" | "ne" | "de" | "que") && vowel_initial(&out[i + 1]) {
            out[i] = elide(&out[i]);
        }
    }
    // [`join`] puts no space after an apostrophe: such a word shares its text word with the next.
    let mut text_word = Vec::with_capacity(out.len());
    for k in 0..out.len() {
        let glued = k > 0 && out[k - 1].ends_with('\'');
        text_word.push(if k == 0 { 0 } else { text_word[k - 1] + usize::from(!glued) });
    }
    let mapped = into.iter().map(|&k| text_word[k]).collect();
    (out, mapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn find_noun(en: &str) -> &'static Noun {
        NOUNS.iter().find(|n| n.en[0] == en).expect("noun in lexicon")
    }

    fn find_adjective(en: &str) -> &'static Adjective {
        ADJECTIVES.iter().find(|a| a.en == en).expect("adjective in lexicon")
    }

    fn phrase(det: Det, before: Option<&str>, after: Option<&str>, noun: &str, number: Number) -> NounPhrase {
        NounPhrase {
            det,
            noun: find_noun(noun),
            number,
            before: before.map(find_adjective),
            after: after.map(find_adjective),
        }
    }

    /// Both sides of a noun phrase as finished text (without the final period).
    fn texts(np: &NounPhrase, mode: Mode) -> (String, String) {
        let mut words = Words::default();
        np.push(&mut words, mode);
        let (en, fr) = (english_text(&words.en, '.'), french_text(&words.fr, '.'));
        (en.trim_end_matches('.').to_owned(), fr.trim_end_matches('.').to_owned())
    }

    fn fr(np: NounPhrase) -> String {
        texts(&np, Mode::Plain).1
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn generation_is_deterministic_for_a_seed_and_differs_across_seeds() {
        let a = generate(7);
        assert_eq!(a, generate(7));
        assert_ne!(a.train, generate(8).train);
    }

    #[test]
    fn committed_corpus_is_exactly_the_output_of_generate_1() {
        let committed = [
            ("train.en", include_str!("../../corpora/toy-en-fr/train.en")),
            ("train.fr", include_str!("../../corpora/toy-en-fr/train.fr")),
            ("dev.en", include_str!("../../corpora/toy-en-fr/dev.en")),
            ("dev.fr", include_str!("../../corpora/toy-en-fr/dev.fr")),
            ("test.en", include_str!("../../corpora/toy-en-fr/test.en")),
            ("test.fr", include_str!("../../corpora/toy-en-fr/test.fr")),
            ("dev.align", include_str!("../../corpora/toy-en-fr/dev.align")),
            ("test.align", include_str!("../../corpora/toy-en-fr/test.align")),
        ];
        let generated = generate(1).files();
        assert_eq!(generated.len(), committed.len());
        for ((name, text), (committed_name, committed_text)) in generated.iter().zip(committed) {
            assert_eq!(name, committed_name);
            // Not assert_eq!: a failure would print two 400 kB strings.
            assert!(
                text == committed_text,
                "corpora/toy-en-fr/{name} differs from generate(1): \
                 regenerate it with `nmt corpus toy --out corpora/toy-en-fr --seed 1`"
            );
        }
    }

    #[test]
    fn write_creates_the_eight_files_of_the_corpus() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("nested");
        write(&out, 5, false).expect("write");
        for (name, text) in generate(5).files() {
            let written = std::fs::read_to_string(out.join(&name)).expect("read back");
            assert!(written == text, "{name} differs");
        }
        assert_eq!(std::fs::read_dir(&out).expect("list").count(), 8);
    }

    #[test]
    fn splits_have_the_documented_sizes() {
        let c = generate(3);
        assert_eq!((c.train.len(), c.dev.len(), c.test.len()), (TRAIN_PAIRS, DEV_PAIRS, TEST_PAIRS));
    }

    #[test]
    fn no_english_sentence_occurs_twice_so_test_and_dev_are_unseen() {
        let c = generate(1);
        let train: HashSet<&str> = c.train.iter().map(|(en, _)| en.as_str()).collect();
        let dev: HashSet<&str> = c.dev.iter().map(|(en, _)| en.as_str()).collect();
        assert_eq!(train.len(), c.train.len());
        assert_eq!(dev.len(), c.dev.len());
        assert!(c.test.iter().all(|(en, _)| !train.contains(en.as_str()) && !dev.contains(en.as_str())));
        assert!(c.dev.iter().all(|(en, _)| !train.contains(en.as_str())));
    }

    #[test]
    fn every_sentence_has_3_to_15_words_on_both_sides() {
        let c = generate(1);
        for (en, fr) in c.train.iter().chain(&c.dev).chain(&c.test) {
            for s in [en, fr] {
                let n = s.split_whitespace().count();
                assert!((MIN_WORDS..=MAX_WORDS).contains(&n), "{n} words: {s}");
            }
        }
    }

    #[test]
    fn each_side_has_at_least_150_distinct_words() {
        let c = generate(1);
        let mut en = HashSet::new();
        let mut fr = HashSet::new();
        for (e, f) in c.train.iter().chain(&c.dev).chain(&c.test) {
            en.extend(e.trim_end_matches(['.', '?']).split_whitespace());
            fr.extend(f.trim_end_matches(['.', '?']).split_whitespace());
        }
        assert!(en.len() >= 150, "{} English words", en.len());
        assert!(fr.len() >= 150, "{} French words", fr.len());
    }

    #[test]
    fn every_english_sentence_has_exactly_one_french_translation() {
        // Far more draws than the corpus makes, so that rare collisions between different
        // grammatical structures with the same English would show up.
        let mut rng = SplitMix64(42);
        let mut seen: HashMap<String, String> = HashMap::new();
        for _ in 0..100_000 {
            let (en, fr, _) = sentence_pair(&mut rng);
            let previous = seen.entry(en.clone()).or_insert_with(|| fr.clone());
            assert_eq!(previous, &fr, "two translations of {en:?}");
        }
    }

    #[test]
    fn adjectives_follow_the_noun_except_the_few_that_precede_it() {
        assert_eq!(
            texts(&phrase(Det::The, None, Some("red"), "car", Sg), Mode::Plain),
            ("the red car".into(), "la voiture rouge".into())
        );
        assert_eq!(fr(phrase(Det::The, Some("small"), None, "house", Sg)), "la petite maison");
        assert_eq!(fr(phrase(Det::The, Some("small"), Some("red"), "car", Pl)), "les petites voitures rouges");
        assert_eq!(fr(phrase(Det::Indef, Some("big"), None, "house", Pl)), "de grandes maisons");
        assert_eq!(fr(phrase(Det::Indef, None, Some("white"), "horse", Pl)), "des chevaux blancs");
    }

    #[test]
    fn determiners_and_adjectives_change_before_a_vowel() {
        assert_eq!(fr(phrase(Det::The, None, None, "man", Sg)), "l'homme");
        assert_eq!(fr(phrase(Det::Poss(0), None, None, "school", Sg)), "mon école");
        assert_eq!(fr(phrase(Det::Poss(0), Some("old"), None, "school", Sg)), "ma vieille école");
        assert_eq!(fr(phrase(Det::This, None, None, "tree", Sg)), "cet arbre");
        assert_eq!(fr(phrase(Det::This, Some("old"), None, "tree", Sg)), "ce vieil arbre");
        assert_eq!(fr(phrase(Det::The, Some("beautiful"), None, "tree", Sg)), "le bel arbre");
        assert_eq!(fr(phrase(Det::A, Some("new"), None, "hotel", Sg)), "un nouvel hôtel");
        assert_eq!(texts(&phrase(Det::A, Some("old"), None, "car", Sg), Mode::Plain).0, "an old car");
    }

    #[test]
    fn numbers_agree_in_gender_and_number() {
        assert_eq!(
            texts(&phrase(Det::Num(1), None, None, "car", Sg), Mode::Plain),
            ("one car".into(), "une voiture".into())
        );
        assert_eq!(fr(phrase(Det::Num(1), None, None, "book", Sg)), "un livre");
        assert_eq!(fr(phrase(Det::Num(17), None, Some("green"), "bottle", Pl)), "dix-sept bouteilles vertes");
    }

    #[test]
    fn elision_and_contraction_look_at_the_next_word() {
        let cases: &[(&[&str], &str)] = &[
            (&["je", "aime", "le", "arbre"], "j'aime l'arbre."),
            (&["il", "ne", "est", "pas", "à", "le", "parc"], "il n'est pas au parc."),
            (&["nous", "allons", "à", "la", "école"], "nous allons à l'école."),
            (&["il", "est", "près", "de", "les", "arbres"], "il est près des arbres."),
            (&["il", "est", "près", "de", "le", "hôtel"], "il est près de l'hôtel."),
            (&["est-ce", "que", "il", "ne", "y", "a", "pas", "de", "oiseaux"], "est-ce qu'il n'y a pas d'oiseaux."),
            (&["est-ce", "que", "huit", "chats", "dorment"], "est-ce que huit chats dorment."),
        ];
        for (words, want) in cases {
            assert_eq!(french_text(&strings(words), '.'), *want);
        }
        // Each word's text word: "est-ce qu'il n'y a pas d'oiseaux." is 6 words.
        let words = strings(&["est-ce", "que", "il", "ne", "y", "a", "pas", "de", "oiseaux"]);
        assert_eq!(french_spelling(&words).1, [0, 1, 1, 2, 2, 3, 4, 5, 5]);
        let words = strings(&["il", "ne", "est", "pas", "à", "le", "parc"]);
        assert_eq!(french_spelling(&words).1, [0, 1, 1, 2, 3, 3, 4]);
    }

    /// The gold alignment of one sentence built by `build`, as (English text, French text, links).
    fn aligned(build: impl FnOnce(&mut Words)) -> (String, String, String) {
        let mut words = Words::default();
        build(&mut words);
        (english_text(&words.en, '.'), french_text(&words.fr, '.'), words.alignment())
    }

    #[test]
    fn gold_alignments_link_the_words_that_say_the_same_thing() {
        let subject = |np: &NounPhrase| Subject::from_phrase(np);
        // the red car is not fast. → la voiture rouge n'est pas rapide.
        let car = subject(&phrase(Det::The, None, Some("red"), "car", Sg));
        let got = aligned(|w| {
            clause(w, &car, be(&car), Mode::Not);
            w.both("fast", "rapide");
        });
        assert_eq!(got.0, "the red car is not fast.");
        assert_eq!(got.1, "la voiture rouge n'est pas rapide.");
        // the-la, red-rouge, car-voiture, is-n'est, not-n'est, not-pas, fast-rapide.
        assert_eq!(got.2, "0-0 1-2 2-1 3-3 4-3 4-4 5-5");
        // I do not like the man. → je n'aime pas l'homme. ("do" has no French word.)
        let i =
            Subject { en: vec![(0, "I")], fr: vec![(0, "je")], concepts: 1, person: 0, gender: Masc, kinds: PERSON };
        let like = &VERBS[0];
        let got = aligned(|w| {
            clause(w, &i, Finite::Lexical { en: like.en, fr: like.fr[0] }, Mode::Not);
            phrase(Det::The, None, None, "man", Sg).push(w, Mode::Not);
        });
        assert_eq!((got.0.as_str(), got.1.as_str()), ("I do not like the man.", "je n'aime pas l'homme."));
        assert_eq!(got.2, "0-0 2-1 2-2 3-1 4-3 5-3");
        // I do not go to the park. → je ne vais pas au parc. (go-vais, to-au, the-au.)
        let got = aligned(|w| {
            go_to(w, &i, Mode::Not);
            phrase(Det::The, None, None, "park", Sg).push(w, Mode::Not);
        });
        assert_eq!((got.0.as_str(), got.1.as_str()), ("I do not go to the park.", "je ne vais pas au parc."));
        assert_eq!(got.2, "0-0 2-1 2-3 3-2 4-4 5-4 6-5");
    }

    #[test]
    fn every_gold_link_names_words_of_its_sentences() {
        let c = generate(1);
        for (pairs, aligns) in [(&c.dev, &c.dev_align), (&c.test, &c.test_align)] {
            assert_eq!(pairs.len(), aligns.len());
            for ((en, fr), line) in pairs.iter().zip(aligns.iter()) {
                let (n_en, n_fr) = (en.split_whitespace().count(), fr.split_whitespace().count());
                assert!(!line.is_empty(), "{en} → {fr}: no link");
                for pair in line.split(' ') {
                    let (i, j) = pair.split_once('-').expect("i-j");
                    let (i, j): (usize, usize) = (i.parse().expect("i"), j.parse().expect("j"));
                    assert!(i < n_en && j < n_fr, "{en} → {fr}: {pair} outside the sentences");
                }
            }
        }
    }

    #[test]
    fn negation_wraps_the_verb_and_turns_indefinites_into_de() {
        let have = VERBS.iter().find(|v| v.en[0] == "have").expect("have");
        let i =
            Subject { en: vec![(0, "I")], fr: vec![(0, "je")], concepts: 1, person: 0, gender: Masc, kinds: PERSON };
        let car = phrase(Det::A, None, None, "car", Sg);
        let apples = phrase(Det::Indef, None, None, "apple", Pl);
        let sentence = |np: &NounPhrase, mode: Mode| {
            let mut words = Words::default();
            clause(&mut words, &i, Finite::Lexical { en: have.en, fr: have.fr[0] }, mode);
            np.push(&mut words, mode);
            (english_text(&words.en, '.'), french_text(&words.fr, '.'))
        };
        assert_eq!(sentence(&car, Mode::Plain), ("I have a car.".into(), "j'ai une voiture.".into()));
        assert_eq!(sentence(&car, Mode::Not), ("I do not have a car.".into(), "je n'ai pas de voiture.".into()));
        assert_eq!(sentence(&apples, Mode::Not), ("I do not have any apples.".into(), "je n'ai pas de pommes.".into()));
        let never = Mode::Adverb(&ADVERBS[3]);
        assert_eq!(sentence(&apples, never), ("I never have apples.".into(), "je n'ai jamais de pommes.".into()));
        assert_eq!(sentence(&car, Mode::Question), ("do I have a car.".into(), "est-ce que j'ai une voiture.".into()));
    }

    #[test]
    fn the_corpus_shows_every_phenomenon_often() {
        let after: HashSet<&str> = ADJECTIVES.iter().filter(|a| a.before.is_none()).flat_map(|a| a.fr).collect();
        let before: HashSet<&str> = ADJECTIVES
            .iter()
            .filter_map(|a| a.before.map(|e| (a, e)))
            .flat_map(|(a, e)| a.fr.into_iter().chain([e]))
            .collect();
        let nouns: HashSet<&str> = NOUNS.iter().flat_map(|n| n.fr).collect();
        // Plural forms that differ from the singular, so that a match proves number agreement.
        let plural_nouns: HashSet<&str> = NOUNS.iter().filter(|n| n.fr[0] != n.fr[1]).map(|n| n.fr[1]).collect();
        let plural_after: HashSet<&str> = ADJECTIVES
            .iter()
            .filter(|a| a.before.is_none())
            .flat_map(|a| [a.fr[2], a.fr[3]].into_iter().filter(move |f| *f != a.fr[0]))
            .collect();
        let c = generate(1);
        let count = |f: &dyn Fn(&str, &[&str]) -> bool| {
            c.train
                .iter()
                .filter(|(en, fr)| f(en, &fr.trim_end_matches(['.', '?']).split_whitespace().collect::<Vec<_>>()))
                .count()
        };
        let adjacent = |w: &[&str], first: &HashSet<&str>, second: &HashSet<&str>| {
            w.windows(2).any(|p| first.contains(p[0]) && second.contains(p[1]))
        };
        let phenomena = [
            ("noun + adjective", count(&|_, w| adjacent(w, &nouns, &after)), 3000),
            ("adjective + noun", count(&|_, w| adjacent(w, &before, &nouns)), 2000),
            ("plural agreement", count(&|_, w| adjacent(w, &plural_nouns, &plural_after)), 1000),
            ("ne … pas", count(&|en, w| en.contains(" not ") && w.contains(&"pas")), 1500),
            ("ne … jamais", count(&|_, w| w.contains(&"jamais")), 200),
            ("elision", count(&|_, w| w.iter().any(|x| x.contains('\''))), 2000),
            ("au/aux/du", count(&|_, w| w.iter().any(|x| ["au", "aux", "du"].contains(x))), 400),
            ("est-ce que", count(&|_, w| w[0] == "est-ce"), 800),
        ];
        for (name, n, min) in phenomena {
            assert!(n >= min, "{name}: {n} < {min}");
        }
    }
}
