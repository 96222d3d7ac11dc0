"""The BERT encoder of a sentence-transformers model as an ONNX graph, built from its safetensors weights.

The graph is Hugging Face ``BertModel``'s forward pass (post-layer-norm, exact GELU): embeddings and their layer norm,
then for each layer self-attention (query, key and value in one product), residual and layer norm, the feed-forward
block, residual and layer norm. Inputs ``input_ids``, ``token_type_ids`` (int64) and ``attention_mask`` (float32, 1 for
a real token), all ``(batch, length)``; output ``hidden``, ``(batch, length, hidden size)``. ONNX Runtime fuses the
usual patterns (GELU, bias and residual into layer norm) when it loads the graph.
"""

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # the first with LayerNormalization
INPUTS = ("input_ids", "token_type_ids", "attention_mask")
OUTPUT = "hidden"


class GraphBuilder:
    """Nodes and weights in the order they are added; each node's one output gets a fresh name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray | float | int) -> str:
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        self.weights.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, *inputs: str, **attributes: Any) -> str:
        output = f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

    def dense(self, x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        """``x @ weight.T + bias`` for a PyTorch ``Linear`` weight of shape (out, in)."""
        product = self.op("MatMul", x, self.constant(f"{name}.weight", np.ascontiguousarray(weight.T)))
        return self.op("Add", product, self.constant(f"{name}.bias", bias))

    def layer_norm(self, x: str, weight: np.ndarray, bias: np.ndarray, eps: float, name: str) -> str:
        return self.op("LayerNormalization", x, self.constant(f"{name}.weight", weight),
                       self.constant(f"{name}.bias", bias), axis=-1, epsilon=eps)


def embeddings(graph: GraphBuilder, weights: dict[str, np.ndarray], eps: float) -> str:
    length = graph.op("Gather", graph.op("Shape", "input_ids"), graph.constant("length_axis", np.int64(1)))
    positions = graph.op("Range", graph.constant("zero", np.int64(0)), length, graph.constant("step", np.int64(1)))
    words = graph.op("Gather", graph.constant("word_embeddings", weights["embeddings.word_embeddings.weight"]),
                     "input_ids")
    position = graph.op("Gather", graph.constant("position_embeddings",
                                                 weights["embeddings.position_embeddings.weight"]), positions)
    token_type = graph.op("Gather", graph.constant("token_type_embeddings",
                                                   weights["embeddings.token_type_embeddings.weight"]), "token_type_ids")
    summed = graph.op("Add", graph.op("Add", words, position), token_type)
    return graph.layer_norm(summed, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"], eps,
                            "embeddings.norm")


def padding_bias(graph: GraphBuilder) -> str:
    """(batch, 1, 1, length): 0 for real tokens, the most negative float for padding, added to attention scores."""
    padding = graph.op("Sub", graph.constant("one", np.float32(1)), "attention_mask")
    bias = graph.op("Mul", padding, graph.constant("padding_score", np.finfo(np.float32).min))
    return graph.op("Unsqueeze", bias, graph.constant("head_and_query_axes", np.array([1, 2], dtype=np.int64)))


def encoder_layer(graph: GraphBuilder, weights: dict[str, np.ndarray], prefix: str, x: str, bias: str,
                  heads: int, head_size: int, eps: float) -> str:
    def w(name: str) -> np.ndarray:
        return weights[f"{prefix}.{name}"]

    parts = [f"attention.self.{part}" for part in ("query", "key", "value")]
    qkv = graph.dense(x, np.concatenate([w(f"{p}.weight") for p in parts]),
                      np.concatenate([w(f"{p}.bias") for p in parts]), f"{prefix}.qkv")
    # (batch, length, 3 * hidden) -> (3, batch, heads, length, head_size)
    qkv = graph.op("Reshape", qkv, graph.constant(f"{prefix}.qkv_shape", np.array([0, 0, 3, heads, head_size])))
    qkv = graph.op("Transpose", qkv, perm=[2, 0, 3, 1, 4])
    query, key, value = (graph.op("Gather", qkv, graph.constant(f"{prefix}.{i}", np.int64(i))) for i in range(3))
    scores = graph.op("MatMul", query, graph.op("Transpose", key, perm=[0, 1, 3, 2]))
    scores = graph.op("Add", graph.op("Mul", scores, graph.constant(f"{prefix}.scale", 1 / np.sqrt(head_size))), bias)
    context = graph.op("MatMul", graph.op("Softmax", scores, axis=-1), value)
    context = graph.op("Reshape", graph.op("Transpose", context, perm=[0, 2, 1, 3]),
                       graph.constant(f"{prefix}.context_shape", np.array([0, 0, heads * head_size])))
    attended = graph.dense(context, w("attention.output.dense.weight"), w("attention.output.dense.bias"),
                           f"{prefix}.attention_out")
    x = graph.layer_norm(graph.op("Add", attended, x), w("attention.output.LayerNorm.weight"),
                         w("attention.output.LayerNorm.bias"), eps, f"{prefix}.attention_norm")
    intermediate = graph.dense(x, w("intermediate.dense.weight"), w("intermediate.dense.bias"), f"{prefix}.intermediate")
    # exact GELU: x * (1 + erf(x / sqrt 2)) / 2
    erf = graph.op("Erf", graph.op("Div", intermediate, graph.constant(f"{prefix}.sqrt2", np.sqrt(2))))
    gelu = graph.op("Mul", graph.op("Mul", intermediate, graph.constant(f"{prefix}.half", 0.5)),
                    graph.op("Add", erf, graph.constant(f"{prefix}.gelu_one", 1.0)))
    out = graph.dense(gelu, w("output.dense.weight"), w("output.dense.bias"), f"{prefix}.out")
    return graph.layer_norm(graph.op("Add", out, x), w("output.LayerNorm.weight"), w("output.LayerNorm.bias"), eps,
                            f"{prefix}.out_norm")


def bert_encoder(weights: dict[str, np.ndarray], config: dict[str, Any]) -> onnx.ModelProto:
    """The encoder of a Hugging Face BERT ``config.json`` and its ``model.safetensors`` weights."""
    hidden_size, heads, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    graph = GraphBuilder()
    x = embeddings(graph, weights, eps)
    bias = padding_bias(graph)
    for index in range(config["num_hidden_layers"]):
        x = encoder_layer(graph, weights, f"encoder.layer.{index}", x, bias, heads, hidden_size // heads, eps)
    graph.nodes.append(helper.make_node("Identity", [x], [OUTPUT]))
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT if name == "attention_mask" else TensorProto.INT64,
                                            ["batch", "length"]) for name in INPUTS]
    output = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", "length", hidden_size])
    model = helper.make_model(helper.make_graph(graph.nodes, "bert_encoder", inputs, [output], graph.weights),
                              opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return model
