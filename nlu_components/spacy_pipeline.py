"""Our own spaCy pipeline, built at training time and stored with the Rasa model.

Pretrained spaCy packages cannot be installed here, so :func:`build_nlp` assembles a blank English pipeline:
spaCy's rule-based tokenizer, a lookup lemmatizer keyed on the lower-cased token (tables from
``spacy-lookups-data``), a regex matcher for the identifiers a customer types (email, order number, UK phone number,
UK postcode) and an entity ruler fed with the product and category names exported from the CRM
(``crm export-catalog-patterns``, a JSONL file of spaCy entity-ruler patterns). :class:`SpacyPipeline` is the
Rasa graph component: the pipeline's tokenizer (tokens carry the lemmas the intent classifier reads) and, at
inference, its entity extractor.
"""

import functools
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import spacy
import srsly
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language
from spacy.pipeline import Lemmatizer
from spacy.tokens import Doc, Token as SpacyToken
from spacy.util import filter_spans

logger = logging.getLogger(__name__)

CATALOG_PATTERNS = "data/catalog/catalog_patterns.jsonl"
PIPELINE_DIR = "spacy"

# Identifiers by format. Order numbers first: on an overlap the longer match wins, then the earlier label.
IDENTIFIERS: dict[str, re.Pattern[str]] = {
    "order_number": re.compile(r"\b[Ss][Oo]-?\d{7}\b"),
    "email": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    "phone": re.compile(r"(?<![\w+])(?:\+44[\s-]?(?:\(0\)[\s-]?)?|\(?0)\d(?:[\s-]?\)?[\s-]?\d){8,9}(?!\d)"),
    "postcode": re.compile(r"\b[A-Za-z]{1,2}\d[A-Za-z\d]?\s?\d[A-Za-z]{2}\b"),
}


class LowercaseLookupLemmatizer(Lemmatizer):
    """spaCy's lookup lemmatizer, keyed on the lower-cased token: "Cards", "CARDS" and "cards" all become "card"."""

    @classmethod
    def get_lookups_config(cls, mode: str) -> tuple[list[str], list[str]]:
        return ["lemma_lookup"], []

    def lowercase_lemmatize(self, token: SpacyToken) -> list[str]:
        return [self.lookups.get_table("lemma_lookup").get(token.lower_, token.lower_)]


@Language.factory("lowercase_lemmatizer", assigns=["token.lemma"])
def make_lowercase_lemmatizer(nlp: Language, name: str) -> LowercaseLookupLemmatizer:
    return LowercaseLookupLemmatizer(nlp.vocab, None, name, mode="lowercase")


@Language.component("identifier_entities", assigns=["doc.ents"])
def identifier_entities(doc: Doc) -> Doc:
    """Sets ``doc.ents`` to the identifiers found by :data:`IDENTIFIERS` (token-aligned matches only)."""
    spans = [doc.char_span(match.start(), match.end(), label=label)
             for label, pattern in IDENTIFIERS.items() for match in pattern.finditer(doc.text)]
    doc.ents = filter_spans([span for span in spans if span is not None])
    return doc


def read_patterns(path: Path) -> list[dict[str, Any]]:
    """The entity-ruler patterns of a JSONL file; a missing file means no catalogue (with a warning)."""
    if not path.exists():
        logger.warning(f"no catalogue patterns at '{path}': product and category names will not be recognised")
        return []
    return list(srsly.read_jsonl(path))


def build_nlp(patterns: list[dict[str, Any]]) -> Language:
    """The blank English pipeline: tokenizer, lemmatizer, identifiers, then the catalogue's entity ruler.

    The ruler matches on lemmas, so "yoga mats" and "YOGA MAT" find the pattern "Yoga Mat"; it keeps the
    identifiers already found.
    """
    nlp = spacy.blank("en")
    nlp.add_pipe("lowercase_lemmatizer")
    nlp.add_pipe("identifier_entities")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LEMMA", "overwrite_ents": False})
    nlp.initialize()
    ruler.add_patterns(patterns)
    return nlp


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class SpacyPipeline(Tokenizer, EntityExtractorMixin):
    """Tokenizes and lemmatises every message with our spaCy pipeline; at inference also extracts its entities."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # the CRM's export (`crm export-catalog-patterns`), relative to the directory rasa runs in
            "catalog_patterns": CATALOG_PATTERNS,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["spacy", "spacy_lookups_data"]

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 nlp: Language | None = None) -> None:
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self.nlp = nlp
        self._parse = functools.lru_cache(maxsize=256)(self._run_nlp)

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SpacyPipeline":
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The patterns file is read at training time, so a changed catalogue means retraining this component."""
        path = Path(config.get("catalog_patterns", CATALOG_PATTERNS))
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "no catalogue"

    def train(self, training_data: TrainingData) -> Resource:
        """Builds the pipeline from the current catalogue patterns and stores it with the model."""
        patterns = read_patterns(Path(self._config["catalog_patterns"]))
        self.nlp = build_nlp(patterns)
        with self._model_storage.write_to(self._resource) as directory:
            self.nlp.to_disk(directory / PIPELINE_DIR)
        logger.debug(f"built the spaCy pipeline with {len(patterns)} catalogue patterns")
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SpacyPipeline":
        with model_storage.read_from(resource) as directory:
            nlp = spacy.load(directory / PIPELINE_DIR)
        return cls(config, model_storage, resource, nlp)

    def _run_nlp(self, text: str) -> Doc:
        return self.nlp(text)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = [Token(token.text, token.idx, lemma=token.lemma_)
                  for token in self._parse(message.get(attribute)) if not token.is_space]
        return self._apply_token_pattern(tokens)

    def entities(self, text: str) -> list[dict[str, Any]]:
        """Rasa entities of a text; a catalogue match's value is the catalogue's spelling (the pattern's id)."""
        return self.add_extractor_name([
            {"entity": ent.label_, "value": ent.ent_id_ or ent.text, "start": ent.start_char, "end": ent.end_char}
            for ent in self._parse(text).ents
        ])

    def process(self, messages: list[Message]) -> list[Message]:
        """Tokenizes, then adds the entities of each message's text (training data is only tokenized)."""
        for message in super().process(messages):
            if isinstance(message.get(TEXT), str):
                message.set(ENTITIES, message.get(ENTITIES, []) + self.entities(message.get(TEXT)),
                            add_to_output=True)
        return messages
