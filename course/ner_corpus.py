"""The named-entity corpus the course ships, generated deterministically (seeded).

    python -m course.ner_corpus            # rewrites course/data/ner_{train,dev,test}.conll

The sentences are news-like English in CoNLL column format (``word<TAB>tag``, BIO tags over PER, ORG,
LOC and MISC; IO tags follow by replacing ``B-`` with ``I-``). Three design choices make it a real
test of a window classifier rather than of a dictionary:

* names are split into a *seen* half (train only) and an *unseen* half (dev and test only), so dev
  and test are full of names the training set never shows: only the context ("Mr ... said",
  "in ...", "shares of ...") and the word's shape can tell their type;
* a few names are ambiguous on purpose (Jordan, Washington, Paris, Georgia, ...): they occur as a
  person and as a place, and only the surrounding words decide;
* half of the surnames, 40% of the first names and of the places and some companies are coined ("Korvan", "Ristelburg"),
  so most of them occur once: rare words share the unknown token, as rare names do in real text;
* many sentence templates per type, multi-word entities (first + last names, "Bank of Tokyo"),
  sentences with several entities and sentences with none.

The same generator makes larger corpora for benchmarks (`generate(n_sentences, seed, names="seen")`).
Nothing here classifies anything: it only writes text with its tags.
"""
from __future__ import annotations

import random
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SPLITS = {"train": 3200, "dev": 600, "test": 600}
SEED = 2003

FIRST = """Peter John Maria Anna David Michael Laura Sarah Thomas James Elena Ahmed Yuki Carlos Ingrid
Pierre Hans Olga Ivan Fatima Kenji Sofia Luis Marta Daniel Emma Lucas Nina Omar Paolo Rosa Stefan
Tanya Victor Wei Xavier Yusuf Zofia Alan Brigitte Chen Dmitri Esther Felipe Greta Hiroshi Irene
Jonas Karin Leon Mei Nadia Oscar Petra Rafael Sven Teresa Ulrich Vera Walter Yasmin Boris Clara
Diego Eva Franco Gustav Helga Igor Julia Klaus Lena Marco Nora Otto Pablo Renata Samuel Tomas
Ursula Vladimir Anton Bettina Cesar Dora Emil Flora Gregor Hugo Ines Jakob Katrin Lars Mira""".split()

LAST = """Blackburn Smith Mueller Rossi Tanaka Kowalski Petrov Garcia Nielsen Dubois Schmidt Ivanova
Moretti Yamamoto Fischer Lopez Novak Jensen Moreau Weber Romano Sato Hansen Bauer Silva Lindqvist
Horvat Kim Ortega Berger Conti Suzuki Keller Mendez Larsen Fontaine Wagner Marino Ito Vogel Ramos
Andersen Lambert Becker Greco Kato Hoffmann Navarro Olsen Girard Koch Ricci Watanabe Richter Vargas
Eriksen Mercier Schulz Bruno Nakamura Wolf Castro Holm Perrin Braun Leone Kobayashi Krause Rojas
Dahl Roux Neumann Colombo Hayashi Lange Molina Berg Faure Schwarz Gallo Shimizu Zimmermann Ortiz
Strand Chevalier Hartmann Rinaldi Okada Kraus Medina Lund Blanc Werner Villa Fujita Haas Reyes""".split()

CITIES = """Brussels London Tokyo Berlin Madrid Rome Vienna Oslo Stockholm Lisbon Athens Warsaw Prague
Budapest Dublin Helsinki Moscow Cairo Nairobi Lagos Lima Bogota Santiago Caracas Manila Jakarta
Bangkok Hanoi Seoul Beijing Shanghai Mumbai Delhi Karachi Tehran Baghdad Ankara Kiev Minsk Riga
Vilnius Tallinn Bucharest Belgrade Zagreb Ljubljana Bratislava Amsterdam Copenhagen Geneva
Zurich Milan Naples Munich Hamburg Lyon Marseille Barcelona Seville Porto Toronto Montreal Chicago
Boston Houston Denver Miami Seattle Dallas Atlanta Osaka Kyoto Busan Taipei Dhaka
Kabul Tashkent Almaty Accra Dakar Tunis Algiers Rabat Khartoum Harare Lusaka Luanda Quito Havana""".split()

COUNTRIES = """Belgium Britain Japan Germany Spain Italy Austria Norway Sweden Portugal Greece Poland
Hungary Ireland Finland Russia Egypt Kenya Nigeria Peru Colombia Chile Venezuela Philippines
Indonesia Thailand Vietnam Korea China India Pakistan Iran Iraq Turkey Ukraine Belarus Latvia
Lithuania Estonia Bulgaria Romania Serbia Croatia Slovenia Slovakia Netherlands Denmark Switzerland
Canada Mexico Brazil Argentina Uruguay Paraguay Bolivia Ecuador Cuba Morocco Algeria Tunisia Sudan
Ghana Senegal Zambia Angola Zimbabwe Uganda Tanzania Ethiopia Somalia Yemen Oman Qatar Kuwait
Lebanon Syria Cyprus Malta Iceland Luxembourg Mongolia Nepal Bhutan Laos Cambodia Malaysia""".split()

# Multi-word places are written as one string; spaces become separate tokens.
PLACES_MULTI = """New_York Los_Angeles San_Francisco Hong_Kong Buenos_Aires Rio_de_Janeiro Cape_Town
Abu_Dhabi New_Delhi Kuala_Lumpur Sao_Paulo Tel_Aviv Las_Vegas New_Orleans Mexico_City
South_Africa New_Zealand Sri_Lanka Saudi_Arabia Costa_Rica North_Korea""".split()

ORG_HEADS = """Commission Council Ministry Bank Party Federation Union Agency Institute Group Holdings
Airlines Motors Telecom Energy Petroleum Steel Chemicals Insurance Securities Foods Pharma""".split()
ORG_SINGLE = """Reuters Siemens Fiat Nokia Volvo Sony Toyota Renault Philips Nestle Unilever Shell Ericsson
Olivetti Alcatel Daimler Lufthansa Iberia Alitalia Sabena Boeing Airbus Honda Mazda Danone Carrefour
Benetton Bayer Hoechst Pirelli Michelin Peugeot Volkswagen Porsche Nissan Fujitsu Hitachi Toshiba
Samsung Hyundai Daewoo Petrobras Gazprom Lukoil Statoil Repsol Elf Total Agip Solvay Akzo Heineken
Interbrew Guinness Cadbury Barclays Lloyds Midland Natwest Commerzbank Dresdner Paribas Suez""".split()
CLUBS = """Celtic Rangers Ajax Feyenoord Juventus Lazio Parma Benfica Anderlecht Bordeaux Monaco
Auxerre Lens Metz Everton Arsenal Leeds Wimbledon Southampton Coventry Sheffield Bolton""".split()

NATIONALITIES = """German British French Italian Spanish Japanese Russian Chinese Dutch Belgian Swiss
Austrian Swedish Norwegian Danish Finnish Polish Czech Greek Turkish Egyptian Kenyan Nigerian
Brazilian Mexican Canadian Australian Indian Iranian Iraqi Korean Thai Vietnamese Irish Scottish
Portuguese Hungarian Romanian Bulgarian Serbian Croatian Ukrainian Cuban Chilean Peruvian Israeli""".split()
EVENTS = """World_Cup Olympic_Games Tour_de_France Davis_Cup Grand_Prix Champions_League
European_Championship US_Open Masters Open_Championship""".split()
LANGUAGES_MISC = """Christian Muslim Catholic Protestant Islamic Jewish Buddhist Socialist Communist
Republican Democrat Conservative Liberal Marxist""".split()

# Words that are a person in one sentence and a place (or club) in another: only context decides.
AMBIGUOUS = {"Jordan": ("PER", "LOC"), "Washington": ("PER", "LOC"), "Paris": ("PER", "LOC"),
             "Georgia": ("PER", "LOC"), "Sydney": ("PER", "LOC"), "Florence": ("PER", "LOC"),
             "Victoria": ("PER", "LOC"), "Chelsea": ("PER", "ORG"), "Austin": ("PER", "LOC"),
             "Lincoln": ("PER", "LOC")}

MONTHS = "January February March April May June July August September October November December".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
SAY = "said told added reported announced warned noted confirmed".split()
NOUNS = """talks deal plan agreement report proposal contract budget offer election policy strike
merger loan project investigation meeting trial""".split()
TITLES = "Mr Mrs Ms Dr President Minister Prime_Minister coach striker chairman Senator General".split()
ROLES = """spokesman spokeswoman director analyst official economist lawyer minister manager
chairman envoy""".split()
MARKET = "rose fell climbed slipped gained dropped edged eased".split()

# Templates: tokens separated by spaces; {SLOT} is filled by an entity or a filler word. Slots:
# PER, LOC, ORG, MISC (entities); SAY NOUN DAY MONTH NUM PCT YEAR SCORE SET ROLE TITLE MARKET (fillers).
TEMPLATES = """
{PER} {SAY} on {DAY} that the {NOUN} would go ahead .
{TITLE} {PER} {SAY} reporters in {LOC} the {NOUN} was close .
" We are very happy , " {PER} {SAY} .
{PER} , a {ROLE} at {ORG} , {SAY} the {NOUN} was unlikely .
The {NOUN} was signed in {LOC} on {DAY} .
{ORG} shares {MARKET} {PCT} percent in {LOC} on {DAY} .
Shares of {ORG} {MARKET} {NUM} cents to {NUM} .
{ORG} {SAY} it would cut {NUM} jobs in {LOC} .
{ORG} , based in {LOC} , {SAY} profits {MARKET} {PCT} percent .
Police in {LOC} arrested {NUM} people on {DAY} .
{NUM} people were killed when a bus crashed near {LOC} , police {SAY} .
The {MISC} government {SAY} on {DAY} it rejected the {NOUN} .
{PER} beat {PER} {SET} {SET} in the {MISC} final .
{ORG} beat {ORG} {SCORE} in {LOC} on {DAY} .
{PER} scored twice as {ORG} won {SCORE} .
{PER} ( {LOC} ) {NUM}
The {MISC} {ROLE} {PER} arrived in {LOC} for {NOUN} with {PER} .
{PER} will visit {LOC} and {LOC} in {MONTH} , the {ORG} {SAY} .
Prices in {LOC} {MARKET} in {MONTH} , the {ORG} {SAY} .
{LOC} and {LOC} agreed to resume {NOUN} in {MONTH} .
The {ORG} approved a {NUM} million dollar loan to {LOC} .
{PER} , who joined {ORG} in {YEAR} , will lead the {NOUN} .
He {SAY} the {MISC} team would play in {LOC} .
Talks between {ORG} and {ORG} broke down on {DAY} .
A {ROLE} for {ORG} {SAY} the {NOUN} was under review .
{PER} {SAY} the {NOUN} could hurt {MISC} exports .
It is the first time since {YEAR} that {LOC} has won the {MISC} .
{LOC} 's {ROLE} {PER} resigned on {DAY} .
{ORG} 's chairman {PER} {SAY} the {NOUN} made sense .
The {NOUN} ended without agreement , officials {SAY} .
Markets were closed on {DAY} for a holiday .
The {NOUN} is expected in {MONTH} , analysts {SAY} .
Trading was thin ahead of the {NOUN} on {DAY} .
{NUM} - {PER} ( {ORG} ) {NUM}
In {LOC} , {PER} {SAY} the {MISC} side was ready .
Troops from {LOC} crossed into {LOC} , witnesses {SAY} .
{ORG} will buy {ORG} for {NUM} million , it {SAY} .
Flights between {LOC} and {LOC} resumed on {DAY} .
{TITLE} {PER} met {TITLE} {PER} in {LOC} on {DAY} .
The {MISC} and {MISC} delegations left {LOC} on {DAY} .
According to {PER} , the {NOUN} was delayed .
{PER} told {ORG} radio that {LOC} would not sign .
The company {SAY} sales {MARKET} to {NUM} million in {YEAR} .
Rain stopped play after {NUM} overs on {DAY} .
Born in {LOC} , {PER} moved to {LOC} in {YEAR} .
The {MISC} won the {NUM} metres in {LOC} .
Asked about the {NOUN} , {PER} {SAY} : " No comment . "
{ORG} officials in {LOC} {SAY} {NUM} workers were on strike .
""".strip().splitlines()

_FILLERS = {"SAY": SAY, "NOUN": NOUNS, "DAY": DAYS, "MONTH": MONTHS, "ROLE": ROLES,
            "TITLE": TITLES, "MARKET": MARKET}


ONSETS = "b br c d f g gr h j k kr l m n p r s st t v w z".split()
VOWELS = "a e i o u a e o ai ei ou".split()
CODAS = ["", "", "n", "r", "s", "l", "k", "m", "nd", "rt"]
PLACE_ENDINGS = ["", "", "burg", "ville", "stad", "ton", "mar", "ia"]


def coined_name(rng, syllables=(2, 3)) -> str:
    """A pronounceable made-up name ("Korvan", "Ristelu"): a name no list holds, so every one is new."""
    parts = [rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
             for _ in range(rng.randint(*syllables))]
    return "".join(parts).capitalize()


def _halves(words, rng):
    """Split a list of names in two fixed halves: (seen, unseen)."""
    words = sorted(set(words))
    rng.shuffle(words)
    cut = len(words) // 2
    return words[:cut], words[cut:]


class _Names:
    """Name pools of one half (seen or unseen); ambiguous names are in both halves."""

    def __init__(self, pools, avoid=frozenset()):
        self.first, self.last, self.places, self.org_single, self.clubs, self.nationalities, \
            self.events, self.misc_words = pools
        self.avoid = avoid  # coined names that must not be coined again (those of the training set)
        self.coined = set()

    def coin(self, rng, **kw):
        while True:
            name = coined_name(rng, **kw)
            if name not in self.avoid and name.lower() not in _COMMON:
                self.coined.add(name)
                return name

    def person(self, rng):
        r = rng.random()
        if r < 0.12:
            return [rng.choice(sorted(w for w, t in AMBIGUOUS.items() if "PER" in t))]
        last = self.coin(rng) if rng.random() < 0.5 else rng.choice(self.last)
        if r < 0.55:
            first = self.coin(rng, syllables=(1, 2)) if rng.random() < 0.4 else rng.choice(self.first)
            return [first, last]
        return [last]

    def place(self, rng):
        if rng.random() < 0.1:
            return [rng.choice(sorted(w for w, t in AMBIGUOUS.items() if "LOC" in t))]
        if rng.random() < 0.4:
            return [self.coin(rng) + rng.choice(PLACE_ENDINGS)]
        return rng.choice(self.places).split("_")

    def org(self, rng):
        r = rng.random()
        if r < 0.05:
            return ["Chelsea"]
        if r < 0.2:
            return [rng.choice(self.org_single)]
        if r < 0.35:
            return [self.coin(rng)]
        if r < 0.55:
            return [rng.choice(self.clubs)]
        if r < 0.75:
            return [*rng.choice(self.places).split("_"), rng.choice(ORG_HEADS)]
        if r < 0.9:
            return [rng.choice(ORG_HEADS), "of", *rng.choice(self.places).split("_")]
        return [rng.choice(self.last), rng.choice(ORG_HEADS)]

    def misc(self, rng):
        r = rng.random()
        if r < 0.6:
            return [rng.choice(self.nationalities)]
        if r < 0.8:
            return rng.choice(self.events).split("_")
        return [rng.choice(self.misc_words)]


# Words a coined name must not be: template and filler words, and every listed name.
_COMMON = {w.lower() for t in TEMPLATES for w in t.split()} | {
    w.lower() for ws in (*_FILLERS.values(), FIRST, LAST, CITIES, COUNTRIES, ORG_SINGLE, CLUBS,
                         NATIONALITIES, LANGUAGES_MISC, list(AMBIGUOUS)) for w in ws}


def name_pools(seed: int = SEED):
    """(seen, unseen): the two disjoint halves of every name list, fixed by `seed`."""
    rng = random.Random(seed)
    halves = [_halves(words, rng) for words in (FIRST, LAST, CITIES + COUNTRIES + PLACES_MULTI,
                                                ORG_SINGLE, CLUBS, NATIONALITIES, EVENTS,
                                                LANGUAGES_MISC)]
    return _Names([h[0] for h in halves]), _Names([h[1] for h in halves])


def _entity(words, kind):
    return [(w, ("B-" if i == 0 else "I-") + kind) for i, w in enumerate(words)]


def sentence(rng, names: _Names):
    """One sentence as a list of (word, BIO tag) pairs."""
    out = []
    for token in rng.choice(TEMPLATES).split():
        if not (token.startswith("{") and "}" in token):
            out.append((token, "O"))
            continue
        slot, rest = token[1:].split("}", 1)
        if slot == "PER":
            out += _entity(names.person(rng), "PER")
        elif slot == "LOC":
            out += _entity(names.place(rng), "LOC")
        elif slot == "ORG":
            out += _entity(names.org(rng), "ORG")
        elif slot == "MISC":
            out += _entity(names.misc(rng), "MISC")
        else:
            if slot == "NUM":
                word = str(rng.choice([rng.randint(2, 9), rng.randint(10, 99), rng.randint(100, 999)]))
            elif slot == "PCT":
                word = f"{rng.randint(0, 9)}.{rng.randint(0, 9)}"
            elif slot == "YEAR":
                word = str(rng.randint(1960, 1996))
            elif slot == "SCORE":
                word = f"{rng.randint(0, 5)}-{rng.randint(0, 4)}"
            elif slot == "SET":
                word = rng.choice(["6-1", "6-2", "6-3", "6-4", "7-5", "7-6"])
            else:
                word = rng.choice(_FILLERS[slot])
            out += [(w, "O") for w in word.split("_")]
        if rest:
            out.append((rest, "O"))
    return out


def generate(n_sentences: int, seed: int, names: str = "seen", avoid=frozenset()):
    """`n_sentences` sentences (lists of (word, tag)) from one half of the names ("seen"/"unseen").
    Coined names in `avoid` are never used. Returns (sentences, the set of coined names used)."""
    seen, unseen = name_pools()
    pool = {"seen": seen, "unseen": unseen}[names]
    pool.avoid = frozenset(avoid)
    rng = random.Random(seed)
    return [sentence(rng, pool) for _ in range(n_sentences)], pool.coined


def to_conll(sentences) -> str:
    """CoNLL text: a -DOCSTART- line, then one ``word<TAB>tag`` line per token, blank line between."""
    lines = ["-DOCSTART-\tO", ""]
    for sent in sentences:
        lines += [f"{w}\t{t}" for w, t in sent] + [""]
    return "\n".join(lines)


def corpus_texts() -> dict[str, str]:
    """{split: CoNLL text} of the shipped corpus: train from the seen names, dev and test unseen."""
    texts, coined_in_train = {}, set()
    for i, (split, n) in enumerate(SPLITS.items()):
        sentences, coined = generate(n, SEED + i, "seen" if split == "train" else "unseen",
                                     avoid=coined_in_train)
        if split == "train":
            coined_in_train = coined
        texts[split] = to_conll(sentences)
    return texts


def write(folder: Path = DATA) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, text in corpus_texts().items():
        path = folder / f"ner_{split}.conll"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write():
        print("wrote", p)
