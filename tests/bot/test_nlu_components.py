"""Our NLU graph components: the spaCy pipeline (tokens, lemmas, entities from the CRM's catalogue) and the
intent classifier, trained, stored and loaded the way Rasa does it; and the CRM's export of the catalogue."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from conftest import CRM_PYTHON, REPO
from nlu_components.intent_classifier import NgramIntentClassifier
from nlu_components.spacy_pipeline import SpacyPipeline

CONTEXT = ExecutionContext(GraphSchema({}), "test")
PATTERNS = [
    {"label": "product", "pattern": "Nordic Yoga Mat", "id": "Nordic Yoga Mat"},
    {"label": "category", "pattern": "Sports & Fitness", "id": "Sports & Fitness"},
]


def write_patterns(path: Path, patterns: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(pattern) + "\n" for pattern in patterns))
    return path


def train_spacy(storage: LocalModelStorage, patterns: Path, name: str = "spacy") -> SpacyPipeline:
    """Trains the component and returns it loaded back from the model storage."""
    config = {**SpacyPipeline.get_default_config(), "catalog_patterns": str(patterns)}
    SpacyPipeline.create(config, storage, Resource(name), CONTEXT).train(TrainingData())
    return SpacyPipeline.load(config, storage, Resource(name), CONTEXT)


def entities(component: SpacyPipeline, text: str) -> list[tuple[str, str]]:
    message = component.process([Message({TEXT: text})])[0]
    return [(entity["entity"], entity["value"]) for entity in message.get(ENTITIES)]


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    (tmp_path / "storage").mkdir()
    return LocalModelStorage(tmp_path / "storage")


def test_spacy_pipeline_finds_identifiers_products_and_categories(storage, tmp_path) -> None:
    spacy = train_spacy(storage, write_patterns(tmp_path / "patterns.jsonl", PATTERNS))
    found = entities(spacy, "Do you still sell nordic YOGA MATS in sports & fitness? I'm jane.doe@example.com, "
                            "order SO-1234567, mobile 07700 900123, postcode sw1a 1aa")
    assert found == [("product", "Nordic Yoga Mat"), ("category", "Sports & Fitness"),
                     ("email", "jane.doe@example.com"), ("order_number", "SO-1234567"), ("phone", "07700 900123"),
                     ("postcode", "sw1a 1aa")]
    tokens = spacy.process([Message({TEXT: "My Cards were stolen"})])[0].get("text_tokens")
    assert [token.lemma for token in tokens] == ["my", "card", "be", "steal"]


def test_entity_ruler_follows_a_changed_patterns_file(storage, tmp_path) -> None:
    path = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    before = SpacyPipeline.fingerprint_addon({"catalog_patterns": str(path)})
    assert ("product", "Nordic Yoga Mat") in entities(train_spacy(storage, path, "first"), "a nordic yoga mat")

    write_patterns(path, [{"label": "product", "pattern": "Eco Bird Feeder", "id": "Eco Bird Feeder"}])
    assert SpacyPipeline.fingerprint_addon({"catalog_patterns": str(path)}) != before  # Rasa retrains it
    changed = train_spacy(storage, path, "second")
    assert entities(changed, "an eco bird feeder") == [("product", "Eco Bird Feeder")]
    assert entities(changed, "a nordic yoga mat") == []


def test_committed_catalogue_patterns_are_recognised(storage) -> None:
    patterns = [json.loads(line) for line in (REPO / "data/catalog/catalog_patterns.jsonl").read_text().splitlines()]
    product = next(p for p in patterns if p["label"] == "product")
    spacy = train_spacy(storage, REPO / "data/catalog/catalog_patterns.jsonl")
    assert ("product", product["id"]) in entities(spacy, f"is the {product['pattern'].lower()} in stock?")


def split_bot_data() -> tuple[TrainingData, list[Message]]:
    """The bot's own NLU data, every fourth example of each intent held out."""
    data = load_data(str(REPO / "data/nlu"))
    train, held_out, seen = [], [], {}
    for example in data.intent_examples:
        count = seen[example.get(INTENT)] = seen.get(example.get(INTENT), 0) + 1
        (held_out if count % 4 == 0 else train).append(example)
    return TrainingData(train), held_out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalModelStorage, dict, SpacyPipeline, list[Message]]:
    """Tokenizer and classifier trained on 3/4 of the bot's data; the held-out quarter, tokenized."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    spacy = train_spacy(storage, REPO / "data/catalog/catalog_patterns.jsonl")
    train, held_out = split_bot_data()
    config = {**NgramIntentClassifier.get_default_config()}
    NgramIntentClassifier.create(config, storage, Resource("intents"), CONTEXT).train(
        spacy.process_training_data(train))
    spacy.process_training_data(TrainingData(held_out))
    return storage, config, spacy, held_out


def test_classifier_round_trip_predicts_the_same(trained) -> None:
    storage, config, _, held_out = trained
    first = NgramIntentClassifier.load(config, storage, Resource("intents"), CONTEXT)
    second = NgramIntentClassifier.load(config, storage, Resource("intents"), CONTEXT)
    assert first.intents and np.array_equal(first.predict_proba(held_out), second.predict_proba(held_out))


def test_spacy_round_trip_tokenizes_the_same(trained) -> None:
    storage, _, spacy, held_out = trained
    reloaded = SpacyPipeline.load(spacy._config, storage, Resource("spacy"), CONTEXT)
    for example in held_out[:50]:
        text = example.get(TEXT)
        assert reloaded.tokenize(example, TEXT) == spacy.tokenize(example, TEXT)
        assert reloaded.entities(text) == spacy.entities(text)


def test_intent_quality_floor_on_held_out_bot_data(trained) -> None:
    storage, config, _, held_out = trained
    classifier = NgramIntentClassifier.load(config, storage, Resource("intents"), CONTEXT)
    truth = [example.get(INTENT) for example in held_out]
    messages = [Message({TEXT: example.get(TEXT), "text_tokens": example.get("text_tokens")}) for example in held_out]
    predicted = [message.get(INTENT)["name"] for message in classifier.process(messages)]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth)])
    assert accuracy >= 0.70, f"held-out accuracy {accuracy:.1%} on {len(held_out)} messages"


def test_crm_exports_the_catalogue_as_patterns(tmp_path, storage) -> None:
    env = {"PATH": "/usr/bin:/bin", "CRM_DATABASE_URL": f"sqlite:///{tmp_path / 'crm.sqlite3'}"}
    crm = [str(CRM_PYTHON), "-m", "app.cli"]
    subprocess.run([*crm, "init", "--customers", "20", "--products", "40"], env=env, check=True, capture_output=True)
    out = tmp_path / "exported.jsonl"
    subprocess.run([*crm, "export-catalog-patterns", str(out)], env=env, check=True, capture_output=True)
    patterns = [json.loads(line) for line in out.read_text().splitlines()]
    products = [p for p in patterns if p["label"] == "product" and "," in p["pattern"]]
    categories = {p["id"] for p in patterns if p["label"] == "category"}
    assert len(products) == 40 and len(categories) == 10
    spacy = train_spacy(storage, out)
    assert ("product", products[0]["id"]) in entities(spacy, f"where is my {products[0]['pattern']}?")
