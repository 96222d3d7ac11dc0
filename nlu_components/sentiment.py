"""Sentiment of every message: a Rasa graph component that adds ``{"label", "score"}`` to the parse result.

The model is a scikit-learn pipeline (word and character n-grams plus features from a small hand-written lexicon,
then logistic regression) trained only on our own examples (``data/sentiment/examples.csv``), not on the NLU data.
"""

import csv
import hashlib
import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from nlu_components.tfidf_rows import TfidfRow

SENTIMENT = "sentiment"
LABELS = ("negative", "neutral", "positive")
MODEL_FILE = "sentiment.skops"
# Types skops does not trust by default that a saved pipeline holds besides this module's own: data, no code.
SAFE_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The lexicon: general sentiment words and customer-service cues, written for this project (not from any dataset).
POSITIVE = _words("""
    thanks thank thankyou thanku thx thnx tx ty tysm ta cheers grateful gratitude appreciate appreciation
    great awesome amazing amazed excellent fantastic wonderful brilliant brill superb outstanding perfect perfectly
    lovely love luv adore beautiful beautifully gorgeous stunning nice good best happy glad pleased delighted
    thrilled excited impressed impressive helpful friendly kind polite patient courteous professional quick fast
    speedy prompt efficient smooth easy effortless seamless painless convenient handy reliable recommend fab
    fabulous phenomenal incredible exceptional spotless flawless kudos bravo congrats congratulations yay woohoo
    hooray legend hero lifesaver sorted resolved relieved relief enjoy comfortable comfy cute pleasure pleasant
    satisfied worth bargain sweet cool neat solid classy accommodating attentive generous thoughtful blessed fun
    favourite favorite pleasantly exceeded smile chuffed obsessed vibrant soft sturdy gem wonderfully superstar
    """)
NEGATIVE = _words("""
    awful terrible terribly horrible horribly horrendous dreadful atrocious abysmal appalling appalled shocking
    shocked disgrace disgraceful disgusting disgusted pathetic useless worthless rubbish garbage trash crap crappy
    shit shitty bs joke ridiculous absurd unacceptable outrageous infuriating infuriated frustrating frustrated
    frustration annoy annoyed annoying annoyance irritated irritating angry furious livid fuming mad upset
    disappointed disappointing disappointment dissatisfied unhappy sad miserable gutted fed sick tired hate loathe
    worst worse bad badly poor poorly shoddy flimsy faulty defective broken damaged cracked smashed shattered
    dented torn ripped stained leak soaked mouldy moldy scratched crushed ruin wrong incorrect ignore ignored
    unanswered rude unhelpful incompetent incompetence clueless lazy liar lie lies lied lying scam scammer fraud
    fraudulent ripoff robbery overcharge overcharged nightmare disaster mess shambles chaos fail failure error
    glitch buggy crash frozen unusable unreliable slow sluggish hassle headache complaint complain sucks suck
    sucked ugh argh grr wtf ffs smh meh seriously regret worried worrying concerned confused confusing misleading
    misled deceptive hidden expensive overpriced unprofessional inconsiderate disrespectful disrespected
    embarrassing embarrassed shame shameful sloppy careless inconvenient inconvenience horrific painful waste
    wasted hopeless helpless stressful stress stressed anxious unfair fake counterfeit cheated lousy mediocre
    subpar nonsense excuses dodgy sketchy begging unbelievable kidding problem issue trouble stupid idiot clown
    circus farce dangerous invalid vanished dead
    """)
# Events that mean something went wrong, whatever the words around them.
PROBLEM = _words("""
    late lateness delayed delay overdue cancelled canceled cancellation lost missing stuck stranded waiting waited
    wait still again yet hold hours days weeks months ages forever missed rescheduled declined bounced refused
    denied rejected twice undelivered nowhere nobody nothing never longest hung disconnected transferred chasing
    chased repeatedly
    """)
NEGATORS = _words("""
    not no never none nobody nothing neither nor without hardly barely cannot cant dont didnt doesnt isnt wasnt
    arent werent wont wouldnt couldnt shouldnt havent hasnt hadnt aint
    """)
INTENSIFIERS = _words("""
    so very really extremely super totally absolutely completely utterly incredibly truly beyond such too highly
    most literally genuinely particularly exceptionally insanely massively hugely bloody damn
    """)
SUFFIXES = ("s", "es", "d", "ed", "ing", "ly")
# Set phrases whose words say the opposite of the phrase, rewritten to one word of the lexicon.
IDIOMS = tuple((re.compile(pattern), word) for pattern, word in (
    (r"\b(?:couldn'?t|could not) (?:be|have been) (?:happier|better|more pleased)\b", "delighted"),
    (r"\b(?:couldn'?t|could not) ask for (?:more|better|anything more)\b", "perfect"),
    (r"\b(?:can'?t|cannot) (?:fault|complain)\b", "flawless"),
    (r"\b(?:can'?t|cannot) wait\b", "excited"),
    (r"\b(?:can'?t|cannot) (?:thank|recommend) (?:you|them|it|this \w+)?(?: \w+)? enough\b", "recommend"),
    (r"\bthanks? (?:you )?for nothing\b", "useless"),
    (r"\byeah,? right\b", "nonsense"),
))
CONTRAST = _words("but however although though yet except")
CLAUSE_END = frozenset(".,;:!?") | CONTRAST
NEGATION_SCOPE = 3

POSITIVE_EMOJI = frozenset("😀😃😄😁😆😊🙂😉😍🥰😘😻❤♥💕💖💗💙💚💛💜🧡🤍👍👌👏🙌🙏🎉🥳✨🌟⭐💯😎🤩☺😇🤗💪✅😂🤣")
NEGATIVE_EMOJI = frozenset("😠😡🤬😤😞😔😟😕🙁☹😣😖😫😩😢😭😒🙄😑🤦👎💔😱😨😰😥🤢🤮💩😬😪😓🤯")
EMOTICONS = (
    (re.compile(r"(?:[:;=]-?[)\]D]|<3|\(:|\^\^)(?!\w)"), " 🙂 "),
    (re.compile(r"(?:>?[:;=]'?-?[(\[/\\]|-_-)(?!\w)"), " 🙁 "),
)
URL = re.compile(r"https?://\S+|www\.\S+")
MENTION = re.compile(r"@\w+")
ELONGATED = re.compile(r"([a-zA-Z])\1{2,}")
TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[^\w\s]")


def normalize(text: str) -> str:
    """Lower-cased text without links or @handles; emoticons become emoji, "soooo" "soo", idioms one word."""
    text = html.unescape(text).replace("’", "'").replace("\ufe0f", "")
    text = MENTION.sub(" ", URL.sub(" ", text)).replace("#", " ")
    for pattern, emoji in EMOTICONS:
        text = pattern.sub(emoji, text)
    text = ELONGATED.sub(r"\1\1", text.lower())
    for pattern, word in IDIOMS:
        text = pattern.sub(word, text)
    return text


def _in(lexicon: frozenset[str], word: str) -> bool:
    """Whether the word or its stem of 4 letters or more ("delays", "ignoring") is in the lexicon."""
    stems = [word[: -len(suffix)] for suffix in SUFFIXES if word.endswith(suffix) and len(word) - len(suffix) >= 4]
    if word.endswith("ing") and len(word) >= 6:
        stems.append(word[:-3] + "e")
    return word in lexicon or any(stem in lexicon for stem in stems)


def _is_negator(token: str) -> bool:
    return token in NEGATORS or token.endswith("n't")


def marked_tokens(text: str) -> list[str]:
    """Tokens with ``not_`` in front of the few words after a negator ("not happy" -> "not not_happy")."""
    marked: list[str] = []
    scope = 0
    for token in TOKEN.findall(text):
        if token in CLAUSE_END:
            scope = 0
        elif _is_negator(token):
            scope = NEGATION_SCOPE
        elif scope and token[0].isalnum():
            scope -= 1
            token = f"not_{token}"
        marked.append(token)
    return marked


def lexicon_counts(text: str) -> list[float]:
    """Counts of lexicon cues in one raw message, in the order of ``LexiconFeatures.names``."""
    tokens = marked_tokens(normalize(text))
    last_contrast = max((i for i, token in enumerate(tokens) if token in CONTRAST), default=-1)
    counts = dict.fromkeys(LexiconFeatures.names, 0.0)
    for position, token in enumerate(tokens):
        negated = token.startswith("not_")
        word = token.removeprefix("not_")
        polarity = "positive" if _in(POSITIVE, word) else "negative" if _in(NEGATIVE, word) else ""
        if polarity:
            intensified = position > 0 and tokens[position - 1].removeprefix("not_") in INTENSIFIERS
            counts[f"negated_{polarity}" if negated else polarity] += 2.0 if intensified else 1.0
            if position > last_contrast and not negated:
                counts[f"{polarity}_last_clause"] += 1
        counts["problem"] += _in(PROBLEM, word) and not negated
        counts["positive_emoji"] += token in POSITIVE_EMOJI
        counts["negative_emoji"] += token in NEGATIVE_EMOJI
    counts["sarcasm"] = min(counts["positive"], counts["negative"] + counts["problem"])
    counts["exclamations"] = text.count("!")
    counts["question"] = float("?" in text)
    counts["only_question"] = float(text.rstrip().endswith("?") and not counts["negative"] and not counts["problem"])
    counts["shouting"] = sum(word.isupper() and len(word) > 2 for word in re.findall(r"[A-Za-z]+", text))
    return list(counts.values())


class LexiconFeatures(BaseEstimator, TransformerMixin):
    """Log-scaled counts of lexicon cues: polarity with negation, problems, emoji, contrast, shouting."""

    names = ("positive", "negative", "negated_positive", "negated_negative", "positive_last_clause",
             "negative_last_clause", "problem", "positive_emoji", "negative_emoji", "sarcasm", "exclamations",
             "question", "only_question", "shouting")

    def fit(self, texts: list[str], labels: Any = None) -> "LexiconFeatures":
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        return np.log1p(np.array([lexicon_counts(text) for text in texts], dtype=float))


def build_pipeline(config: dict[str, Any]) -> Pipeline:
    """An untrained pipeline from raw message texts to the three labels."""
    words = TfidfVectorizer(preprocessor=normalize, tokenizer=marked_tokens, token_pattern=None, lowercase=False,
                            ngram_range=(1, 2), sublinear_tf=True)
    chars = TfidfVectorizer(preprocessor=normalize, analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                            sublinear_tf=True, lowercase=False)
    features = FeatureUnion([("words", words), ("chars", chars), ("lexicon", LexiconFeatures())],
                            transformer_weights={"words": 1.0, "chars": 1.0, "lexicon": config["lexicon_weight"]})
    classifier = LogisticRegression(C=config["C"], class_weight="balanced", max_iter=2000)
    return Pipeline([("features", features), ("classifier", classifier)])


def read_examples(path: Path) -> tuple[list[str], list[str]]:
    """Texts and labels of an examples CSV (``text,label``); refuses unknown labels."""
    with path.open(newline="", encoding="utf-8") as file:
        rows = [(row["text"].strip(), row["label"].strip()) for row in csv.DictReader(file)]
    unknown = {label for _, label in rows} - set(LABELS)
    if unknown:
        raise InvalidConfigException(f"{path}: unknown sentiment labels {sorted(unknown)}; use {LABELS}")
    return [text for text, _ in rows], [label for _, label in rows]


def predict(pipeline: Pipeline, texts: list[str]) -> list[dict[str, Any]]:
    """``{"label", "score"}`` per text: the most likely label and its probability."""
    return [labelled(row, pipeline.classes_) for row in pipeline.predict_proba(texts)]


def labelled(probabilities: np.ndarray, classes: Any) -> dict[str, Any]:
    """``{"label", "score"}``: the most likely label and its probability."""
    best = int(probabilities.argmax())
    return {"label": str(classes[best]), "score": round(float(probabilities[best]), 4)}


class MessageScorer:
    """The trained pipeline's probabilities for one message at a time, from its weights: the n-gram blocks as
    ``TfidfRow``s, the lexicon block as it is, the multinomial logistic regression's softmax. The same numbers as
    ``pipeline.predict_proba`` (tests/bot/test_sentiment.py), without its sparse matrices (tfidf_rows.py)."""

    def __init__(self, pipeline: Pipeline) -> None:
        union, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
        if classifier.multi_class not in ("auto", "multinomial") or len(classifier.classes_) < 3:
            raise ValueError("MessageScorer implements a multinomial logistic regression of three or more classes")
        weights = union.transformer_weights or {}
        self.coef = np.ascontiguousarray(classifier.coef_.T)  # one row per feature: a message's rows are gathered
        self.intercept = classifier.intercept_
        self.classes = classifier.classes_
        self.ngram_blocks: list[tuple[TfidfRow, int, float]] = []
        offset = 0
        for name, transformer in union.transformer_list:
            if isinstance(transformer, TfidfVectorizer):
                row = TfidfRow(transformer)
                self.ngram_blocks.append((row, offset, weights.get(name, 1.0)))
                offset += row.width
            else:
                self.lexicon_block = (offset, weights.get(name, 1.0))
                offset += len(LexiconFeatures.names)

    def probabilities(self, text: str) -> np.ndarray:
        logits = self.intercept.copy()
        for row, offset, weight in self.ngram_blocks:
            columns, values = row(text)
            logits += weight * (values @ self.coef[offset + columns])
        offset, weight = self.lexicon_block
        lexicon = np.log1p(np.array(lexicon_counts(text)))
        logits += weight * (lexicon @ self.coef[offset:offset + len(lexicon)])
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def sentiment(self, text: str) -> dict[str, Any]:
        return labelled(self.probabilities(text), self.classes)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SentimentAnalyzer(GraphComponent):
    """Adds ``sentiment: {"label": negative|neutral|positive, "score": 0..1}`` to every message."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"examples": "data/sentiment/examples.csv", "C": 10.0, "lexicon_weight": 1.0}

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "skops"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str:
        """Retrain when the examples or this module change (neither is an input of the graph)."""
        digest = hashlib.sha256(Path(__file__).read_bytes())
        examples = Path({**cls.get_default_config(), **config}["examples"])
        digest.update(examples.read_bytes() if examples.is_file() else b"")
        return digest.hexdigest()

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 pipeline: Pipeline | None = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.pipeline = pipeline
        self.scorer = MessageScorer(pipeline) if pipeline is not None else None

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentimentAnalyzer":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Fits on the examples file; the NLU training data is not used."""
        path = Path(self.config["examples"])
        if not path.is_file():
            raise InvalidConfigException(f"sentiment examples not found at '{path}' (config key 'examples')")
        texts, labels = read_examples(path)
        self.pipeline = build_pipeline(self.config).fit(texts, labels)
        self.scorer = MessageScorer(self.pipeline)
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.pipeline, directory / MODEL_FILE)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SentimentAnalyzer":
        """Loads the pipeline, trusting only scikit-learn's types, ``SAFE_TYPES`` and this module's own."""
        with model_storage.read_from(resource) as directory:
            path = directory / MODEL_FILE
            untrusted = sio.get_untrusted_types(file=path)
            foreign = [name for name in untrusted if name not in SAFE_TYPES and not name.startswith(f"{__name__}.")]
            if foreign:
                raise ValueError(f"refusing to load {path}: untrusted types {foreign}")
            return cls(config, model_storage, resource, sio.load(path, trusted=untrusted))

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:  # Rasa sends one message at a time
            message.set(SENTIMENT, self.scorer.sentiment(message.get(TEXT) or ""), add_to_output=True)
        return messages
