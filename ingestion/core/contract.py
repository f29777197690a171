"""The county export contract (contract.yml), loaded once and shared by every layer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

CONTRACT_PATH = Path(__file__).resolve().parents[1] / "contract.yml"  # ingestion/contract.yml


def fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form used to match headers and labels."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9<>+]+", " ", text.lower())
    return " ".join(text.split())


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    synonyms: tuple[str, ...]
    codes: str | None = None


@dataclass(frozen=True)
class Contract:
    data: dict

    @property
    def version(self) -> str:
        """'1.1': major.minor; a minor version only adds optional columns (older files stay valid)."""
        return str(self.data["version"])

    @property
    def file_name_pattern(self) -> re.Pattern:
        return re.compile(self.data["file_name"]["pattern"])

    def _memo(self, key: tuple, make) -> dict:
        """Derived maps are computed once per contract (the contract is immutable); callers get a copy."""
        memo = self.__dict__.setdefault("_derived", {})
        if key not in memo:
            memo[key] = make()
        return dict(memo[key])

    def columns(self, kind: str) -> dict[str, Column]:
        return self._memo(("columns", kind), lambda: self._columns(kind))

    def _columns(self, kind: str) -> dict[str, Column]:
        cols = self.data["kinds"][kind]["columns"]
        return {
            name: Column(
                name=name,
                type=spec["type"],
                required=bool(spec.get("required")),
                synonyms=tuple(spec.get("synonyms") or ()),
                codes=spec.get("codes"),
            )
            for name, spec in cols.items()
        }

    def identifies_persons(self, kind: str) -> bool:
        """A kind with a personnummer column (deltagare, uppfoljning): its rows are pseudonymised at
        the first read (personnummer or deltagar_id -> person_key) and erased on withdrawn consent."""
        return any(col.type == "personnummer" for col in self.columns(kind).values())

    def kind_label(self, kind: str) -> str:
        return self.data["kinds"][kind].get("label", kind)

    def code_list(self, name: str) -> dict[str, dict]:
        return {str(code): spec for code, spec in self.data["codes"][name].items()}

    def codes(self, name: str) -> list[str]:
        return list(self.code_list(name))

    def prefixed(self, name: str) -> str | None:
        return (self.data.get("prefixed_codes") or {}).get(name)

    @property
    def funding_rule(self) -> dict:
        """shares {STAT, REGION, KOMMUN}, tolerance, applies_to (intervention code), min_groups."""
        return self.data["funding_rule"]

    @property
    def budget_rule(self) -> dict:
        """difference_tolerance: kronor a reported difference may be off (rounding)."""
        return self.data["budget_rule"]

    def header_map(self, kind: str) -> dict[str, str]:
        """folded header text -> canonical column name."""
        return self._memo(("header_map", kind), lambda: self._header_map(kind))

    def _header_map(self, kind: str) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for name, col in self.columns(kind).items():
            for alias in (name, name.replace("_", " "), *col.synonyms):
                mapping.setdefault(fold(alias), name)
        return mapping

    def alias_map(self, code_list: str) -> dict[str, str]:
        """folded label/alias -> code."""
        return self._memo(("alias_map", code_list), lambda: self._alias_map(code_list))

    def _alias_map(self, code_list: str) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for code, spec in self.code_list(code_list).items():
            mapping[fold(code)] = code
            mapping.setdefault(fold(spec.get("label", "")), code)
            for alias in spec.get("aliases") or ():
                mapping.setdefault(fold(alias), code)
        return mapping

    def vocabulary(self, code_list: str) -> Vocabulary:
        """The words owners write for one code list (aliases, inflections, declared ambiguities)."""
        memo = self.__dict__.setdefault("_vocabularies", {})
        if code_list not in memo:
            memo[code_list] = Vocabulary(self, code_list)
        return memo[code_list]

    def ambiguous(self, code_list: str) -> dict[str, list[str]]:
        """Words declared ambiguous for a code list: folded word -> the codes it could mean."""
        spec = (self.data.get("ambiguous") or {}).get(code_list) or {}
        return {fold(word): [str(c) for c in codes] for word, codes in spec.items()}

    def valid_text(self, code_list: str) -> str:
        """A Swedish 'what would be valid' text for a code list."""
        items = [f"{code} ({spec.get('label', '')})" for code, spec in self.code_list(code_list).items()]
        prefix = self.prefixed(code_list)
        if prefix:
            items.append(f"{prefix}:<kommunkod>")
        return ", ".join(items)


@lru_cache(maxsize=1)
def load_contract(path: str | None = None) -> Contract:
    with open(path or CONTRACT_PATH, encoding="utf-8") as handle:
        return Contract(yaml.safe_load(handle))


# The delivery kinds, in the contract's order (deltagare, insatser, budget, volym, uppfoljning).
KINDS = tuple(load_contract().data["kinds"])
# The kinds whose rows identify persons (a personnummer column): pseudonymised, erasable.
PERSON_KINDS = tuple(kind for kind in KINDS if load_contract().identifies_persons(kind))


# ---------------------------------------------------------------- the owners' words

# Swedish endings a word takes in running text: definite (-en, -et, -n, -na), plural
# (-er, -ar, -or, -erna, -arna, -orna), genitive (-s), participles (-ad, -at, -ade, -t, -d).
INFLECTIONS = frozenset(
    {
        "",
        "s",
        "n",
        "t",
        "d",
        "a",
        "e",
        "r",
        "en",
        "et",
        "na",
        "er",
        "ar",
        "or",
        "es",
        "ns",
        "ts",
        "ens",
        "ets",
        "ad",
        "at",
        "de",
        "te",
        "ade",
        "erna",
        "arna",
        "orna",
        "ernas",
        "arnas",
        "ornas",
        "ande",
        "ende",
    }
)
COMPOUND_HEAD = 5  # an alias word at least this long may start a compound ("lönebidrags|anställning")
FUZZY_MIN_LENGTH = 7  # only words this long are read through a typo ("Försörjningstöd")
FUZZY_CUTOFF = 0.88
# Words that carry no meaning for a code ("remitterad från socialtjänsten", "till arbete").
STOPWORDS = frozenset(
    {
        "i",
        "pa",
        "av",
        "till",
        "fran",
        "hos",
        "via",
        "med",
        "for",
        "den",
        "det",
        "de",
        "ett",
        "som",
        "har",
        "vid",
        "genom",
        "inom",
        "under",
        "efter",
        "infor",
        "direkt",
        "remitterad",
        "remitterade",
        "remiss",
        "remitterande",
        "aktor",
        "huvudsakligen",
        "mest",
        "framst",
    }
)
# A word that turns the meaning around: a value holding one is never read by its other words
# ("ej fullföljt gymnasium" is not GYMNASIAL), only by an alias that itself holds the word.
NEGATIONS = frozenset(
    {
        "ej",
        "inte",
        "ingen",
        "inget",
        "inga",
        "utan",
        "saknar",
        "ofullstandig",
        "ofullstandigt",
        "ofullstandiga",
        "avbruten",
        "avbrutet",
        "avbrutna",
        "paborjad",
        "paborjat",
        "icke",
        "aldrig",
        "ofullfoljd",
        "ofullfoljt",
        "fullfoljd",
        "fullfoljt",
        "delvis",
    }
)


SEPARATOR_CHARS = re.compile(r"[+,/;&]")


def _words(text: str) -> list[str]:
    return [w for w in fold(text).replace("+", " ").split() if w not in STOPWORDS]


def _same_word(alias: str, word: str) -> bool:
    """An alias word and a delivered word are the same word, inflected ("landsting" ~ "landstinget")."""
    if alias == word:
        return True
    if alias.isdigit() or word.isdigit():
        return False
    short, long_ = (alias, word) if len(alias) <= len(word) else (word, alias)
    if len(short) >= 3 and long_.startswith(short) and long_[len(short) :] in INFLECTIONS:
        return True
    # "subventionerad" ~ "subventionerat", "anställd" ~ "anställt"
    if len(alias) == len(word) and len(alias) >= 6 and alias[:-1] == word[:-1] and {alias[-1], word[-1]} <= {"d", "t"}:
        return True
    # A compound whose first part is the alias: "lönebidragsanställning", "vårdcentralen", "psykiatrimottagningen".
    return len(alias) >= COMPOUND_HEAD and word.startswith(alias) and len(word) > len(alias) + 2


@dataclass(frozen=True)
class CodeMatch:
    """How one delivered value reads against a code list."""

    code: str | None  # the code, when the value means exactly one
    how: str | None = None  # exact | words | fuzzy (None: not understood)
    candidates: tuple[str, ...] = ()  # the codes an ambiguous value could mean


class Vocabulary:
    """Reads a delivered value ("Landstinget Dalarna", "Subventionerad anställning") as one code.

    In order: the code, its label or an alias, exactly (case, accents and punctuation aside);
    then the value's words against the aliases' words, inflections and compounds allowed, the
    longest alias winning over one it contains ("subventionerad anställning" over
    "anställning"); then a typo in a long word. A value whose words point at two codes, that
    holds a word the contract declares ambiguous, or that holds a negation no alias explains,
    is not guessed: it is reported with the codes it could mean, for a county mapping to decide.
    """

    def __init__(self, contract: Contract, code_list: str):
        self.code_list = code_list
        self.exact = contract.alias_map(code_list)
        self.ambiguous = contract.ambiguous(code_list)
        order = {code: i for i, code in enumerate(contract.codes(code_list))}
        self.order = order
        phrases: dict[tuple[str, ...], str] = {}
        for folded, code in self.exact.items():
            words = tuple(_words(folded))
            if words and folded not in self.ambiguous:
                phrases.setdefault(words, code)
        self.phrases = sorted(phrases.items(), key=lambda item: -len(item[0]))
        self.ambiguous_phrases = [
            (tuple(_words(word)), tuple(codes)) for word, codes in self.ambiguous.items() if _words(word)
        ]
        self.single_words = {words[0]: code for words, code in phrases.items() if len(words) == 1}
        self.refines = {str(k): str(v) for k, v in ((contract.data.get("refines") or {}).get(code_list) or {}).items()}

    def _sorted(self, codes) -> tuple[str, ...]:
        return tuple(sorted(set(codes), key=lambda c: (self.order.get(c, 99), c)))

    def match(self, value: str) -> CodeMatch:
        folded = fold(value)
        if not folded:
            return CodeMatch(None)
        if folded in self.ambiguous:
            return CodeMatch(None, None, self._sorted(self.ambiguous[folded]))
        if folded in self.exact:
            return CodeMatch(self.exact[folded], "exact")
        if SEPARATOR_CHARS.search(value):
            return CodeMatch(None)  # several values in one cell: the caller reads them one by one
        words = _words(value)
        if not words:
            return CodeMatch(None)
        spans: list[tuple[int, int, str | tuple[str, ...]]] = []
        for phrase, target in [*self.phrases, *self.ambiguous_phrases]:
            n = len(phrase)
            for start in range(len(words) - n + 1):
                if all(_same_word(a, w) for a, w in zip(phrase, words[start : start + n])):
                    spans.append((start, start + n, target))
        # An alias inside a longer matching alias says nothing of its own.
        kept = [
            s
            for s in spans
            if not any(o is not s and o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0]) for o in spans)
        ]
        codes: set[str] = set()
        ambiguous = False
        covered: set[int] = set()
        for start, end, target in kept:
            covered.update(range(start, end))
            if isinstance(target, tuple):
                ambiguous = True
                codes.update(target)
            else:
                codes.add(target)
        negated = any(w in NEGATIONS for i, w in enumerate(words) if i not in covered)
        if not ambiguous:
            codes -= {self.refines[c] for c in codes if c in self.refines}  # the narrower code is meant
        if codes:
            if len(codes) == 1 and not ambiguous and not negated:
                return CodeMatch(next(iter(codes)), "words")
            return CodeMatch(None, None, self._sorted(codes) if len(codes) > 1 or ambiguous else self._sorted(codes))
        if negated:
            return CodeMatch(None)
        # A typo in a long word: "Försörjningstöd", "Arbetsförmedligen".
        import difflib

        fuzzy = set()
        for word in words:
            if len(word) < FUZZY_MIN_LENGTH:
                continue
            close = difflib.get_close_matches(
                word, [w for w in self.single_words if len(w) >= FUZZY_MIN_LENGTH], n=3, cutoff=FUZZY_CUTOFF
            )
            fuzzy.update(self.single_words[c] for c in close)
        if len(fuzzy) == 1:
            return CodeMatch(next(iter(fuzzy)), "fuzzy")
        if len(fuzzy) > 1:
            return CodeMatch(None, None, self._sorted(fuzzy))
        return CodeMatch(None)
