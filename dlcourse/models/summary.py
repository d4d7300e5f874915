"""Any Keras model as plain data, and that data in canonical form.

:func:`summarize` turns a model into a table of integers, one row per operation of its graph (nested models
expanded); :func:`canonical_layers` turns that table into :class:`LayerInfo` records in a canonical order,
folding away what does not change the architecture (activation layers vs ``activation=``, Dropout, Flatten,
ZeroPadding2D before a 'valid' layer, the order in which branches were written). The checks of module 05
compare architectures in that form (it is plain data, so grading can judge it outside the student's process);
the lectures count parameters with it.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
from dataclasses import dataclass, replace

import numpy as np

from . import classic
from .backend import keras_module as _keras


KINDS = ("Other", "InputLayer", "Conv2D", "Dense", "MaxPooling2D", "AveragePooling2D", "BatchNormalization",
         "Add", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Activation", "Dropout", "Flatten", "Reshape",
         "ZeroPadding2D", "Identity", "Concatenate", "Multiply", "DepthwiseConv2D", "SeparableConv2D",
         "LayerNormalization", "LocalResponseNormalization")
ACTIVATIONS = ("none", "relu", "softmax", "tanh", "sigmoid", "other")

# Operation class name -> (kind, activation) for the classes whose name is not already a kind.
_ACTIVATION_CLASSES = {"ReLU": "relu", "Relu": "relu", "Softmax": "softmax", "Tanh": "tanh", "Sigmoid": "sigmoid",
                       "LeakyReLU": "other", "ELU": "other", "PReLU": "other", "Elu": "other", "Gelu": "other"}
_KIND_ALIASES = {"Conv2d": "Conv2D", "Convolution2D": "Conv2D", "MaxPool2D": "MaxPooling2D",
                 "AveragePool2D": "AveragePooling2D", "AvgPool2D": "AveragePooling2D", "Subtract": "Other"}
# Activation function names (``fn.__name__``) -> activation code.
_ACTIVATION_NAMES = {"linear": "none", "relu": "relu", "softmax": "softmax", "softmax_v2": "softmax",
                     "tanh": "tanh", "sigmoid": "sigmoid"}

MAX_INPUTS = 4
# Column layout of a summary row.
KIND, ACTIVATION, RANK, DIMS, KERNEL, STRIDES, PARAMS, TRAINABLE, NUM_INPUTS, INPUTS = (
    0, 1, 2, slice(3, 6), slice(6, 8), slice(8, 10), 10, 11, 12, slice(13, 13 + MAX_INPUTS))
NUM_COLUMNS = 13 + MAX_INPUTS


class ModelStructureError(ValueError):
    """A model whose graph cannot be read (no defined input, several inputs or outputs)."""


@contextlib.contextmanager
def shapes_only():
    """Build models in the block without initialising their weights: variables get shapes, no values.

    Inside Keras' StatelessScope, variable initialisation is deferred; the variables made in the block are
    dropped from Keras' list of variables to initialise on exit, so they never take memory. Layer types,
    output shapes and parameter counts are all there: VGG-19 builds in a fraction of a second instead of
    taking 1.4 GB of initialiser temporaries. The models built in the block cannot run, so ``model.compile``
    (which would make the optimizer's and metrics' variables, not allowed in the scope) does nothing there:
    builders that compile the model they return work unchanged.
    """
    keras = _keras()
    from keras.src.backend.common import global_state

    pending = list(global_state.get_global_attribute("uninitialized_variables", None) or [])
    compile_method = keras.Model.compile
    keras.Model.compile = _compile_skipped
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        keras.Model.compile = compile_method
        global_state.set_global_attribute("uninitialized_variables", pending)


def _compile_skipped(model, *args, **kwargs) -> None:
    """keras.Model.compile inside shapes_only(): a model without weight values is never trained."""


def summarize(model) -> np.ndarray:
    """Graph of a Keras model as plain integers: int64 (L, NUM_COLUMNS), one row per operation, parents first.

    Columns: kind (index into KINDS), activation (index into ACTIVATIONS, for layers with ``activation=``
    or activation layers/ops), rank of the output without the batch axis, its first three sizes (0 beyond the
    rank, -1 unknown), kernel or pool size (2), strides (2), parameters, trainable parameters, number of inputs,
    and the row indices of up to MAX_INPUTS inputs (-1 beyond). Works on Sequential and functional models,
    operators such as ``x + y`` and ``keras.ops.relu``, shared layers (parameters counted once), nested
    models and ``keras.layers.Layer`` subclasses (expanded: a subclass's ``call`` is traced on symbolic inputs
    of the shapes it was called with). A subclass whose ``call`` cannot be traced that way (it calls
    TensorFlow functions on its inputs, or needs other arguments) or that holds weights of its own rather than
    in sub-layers stays one opaque row of kind 'Other'.
    """
    keras = _keras()
    tracer = _GraphTracer(keras)
    inputs, outputs = _model_io(model)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelStructureError(f"the model has {len(inputs)} input(s) and {len(outputs)} output(s); "
                                  "the classifiers of this module have one of each")
    tracer.resolve(outputs[0], tracer.root)
    return np.array(tracer.rows, dtype=np.int64).reshape(-1, NUM_COLUMNS)


def _model_io(model):
    try:
        return list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError, TypeError):
        raise ModelStructureError(
            "the model has no defined input, so its layers have no shapes yet: start it with "
            "keras.Input(shape=input_shape) (first item of a Sequential, or the input of a functional model)"
        ) from None


class _Scope:
    """The graph of one (possibly nested) model: which tensors stand for the rows of its inputs."""

    def __init__(self, substitutions: dict[int, int]):
        self.substitutions = substitutions
        self.rows_of_nodes: dict[int, int] = {}


class _GraphTracer:
    """Walks a model's graph from its output back to its input, depth first without recursion."""

    def __init__(self, keras):
        self.keras = keras
        self.rows: list[list[int]] = []
        self.counted_layers: set[int] = set()
        self.root = _Scope({})
        self.inner_scopes: dict[int, _Scope] = {}
        self.traces: dict[int, tuple | None] = {}

    def resolve(self, tensor, scope: _Scope) -> int:
        stack = [(tensor, scope)]
        while stack:
            current, current_scope = stack[-1]
            if self.row_of(current, current_scope) is not None:
                stack.pop()
                continue
            missing = self.expand(current, current_scope)
            if missing:
                stack.extend(missing)
            else:
                stack.pop()
        return self.row_of(tensor, scope)

    def row_of(self, tensor, scope: _Scope) -> int | None:
        if id(tensor) in scope.substitutions:
            return scope.substitutions[id(tensor)]
        operation, node_index, tensor_index = tensor._keras_history
        node = operation._inbound_nodes[node_index]
        graph = self.inner_graph(operation, node)
        if graph is not None:
            inner = self.inner_scopes.get(id(node))
            return None if inner is None else self.row_of(graph[1][tensor_index], inner)
        return scope.rows_of_nodes.get(id(node))

    def expand(self, tensor, scope: _Scope) -> list:
        """Add the row of tensor's node once its inputs have rows; else return the (tensor, scope) pairs missing."""
        operation, node_index, tensor_index = tensor._keras_history
        node = operation._inbound_nodes[node_index]
        parents = list(node.input_tensors)
        missing = [(parent, scope) for parent in parents if self.row_of(parent, scope) is None]
        if missing:
            return missing
        parent_rows = [self.row_of(parent, scope) for parent in parents]
        graph = self.inner_graph(operation, node)
        if graph is not None:
            inner_inputs, inner_outputs = graph
            if id(node) not in self.inner_scopes:
                self.inner_scopes[id(node)] = _Scope({id(t): row for t, row in zip(inner_inputs, parent_rows)})
            return [(inner_outputs[tensor_index], self.inner_scopes[id(node)])]
        scope.rows_of_nodes[id(node)] = len(self.rows)
        self.rows.append(self._row(operation, tensor, parent_rows))
        return []

    def inner_graph(self, operation, node) -> tuple[list, list] | None:
        """(inputs, outputs) of the graph inside one call of an operation: a nested model's own graph, a
        layer subclass's traced call; None for an operation that is one row."""
        if self._is_graph_model(operation):
            return list(operation.inputs), list(operation.outputs)
        if id(node) not in self.traces:
            self.traces[id(node)] = self._trace(operation, node) if _is_traceable(self.keras, operation) else None
        return self.traces[id(node)]

    def _is_graph_model(self, operation) -> bool:
        if not isinstance(operation, self.keras.Model):
            return False
        try:
            return bool(operation.inputs) and bool(operation.outputs)
        except (AttributeError, ValueError):
            return False

    def _trace(self, layer, node) -> tuple[list, list] | None:
        """Call a layer subclass's ``call`` on new symbolic inputs shaped like this node's; None if that fails."""
        inputs = [self.keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype) for t in node.input_tensors]
        options = {"training": False} if "training" in inspect.signature(layer.call).parameters else {}
        try:
            outputs = layer.call(*inputs, **options)
        except Exception:  # TensorFlow functions on symbolic tensors, other arguments needed: the layer stays opaque
            return None
        outputs = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
        if not outputs or not all(isinstance(t, self.keras.KerasTensor) for t in outputs):
            return None
        return inputs, outputs

    def _row(self, operation, tensor, parent_rows: list[int]) -> list[int]:
        kind, activation = _kind_and_activation(operation)
        shape = [-1 if size is None else int(size) for size in tuple(tensor.shape)[1:]]
        params = trainable = 0
        if isinstance(operation, self.keras.layers.Layer) and id(operation) not in self.counted_layers:
            self.counted_layers.add(id(operation))
            params = int(sum(np.prod(w.shape) for w in operation.weights))
            trainable = int(sum(np.prod(w.shape) for w in operation.trainable_weights))
        kernel = getattr(operation, "kernel_size", None) or getattr(operation, "pool_size", None) or (0, 0)
        strides = getattr(operation, "strides", None) or (0, 0)
        inputs = (parent_rows + [-1] * MAX_INPUTS)[:MAX_INPUTS]
        return [KINDS.index(kind), ACTIVATIONS.index(activation), len(shape), *(shape + [0, 0, 0])[:3],
                *_pair(kernel), *_pair(strides), params, trainable, len(parent_rows), *inputs]


def _is_traceable(keras, operation) -> bool:
    """A layer subclass written outside Keras whose weights all belong to its sub-layers."""
    if not isinstance(operation, keras.layers.Layer) or type(operation).__module__.split(".")[0] in ("keras", "tf_keras"):
        return False
    sublayers = operation._flatten_layers(include_self=False, recursive=True)
    inner = {id(weight) for sublayer in sublayers for weight in sublayer.weights}
    return bool(sublayers) and all(id(weight) in inner for weight in operation.weights)


def _pair(value) -> tuple[int, int]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    return (int(values[0]), int(values[-1])) if values else (0, 0)


def _kind_and_activation(operation) -> tuple[str, str]:
    name = type(operation).__name__
    if name in _ACTIVATION_CLASSES:
        return "Activation", _relu_code(operation) if name == "ReLU" else _ACTIVATION_CLASSES[name]
    kind = _KIND_ALIASES.get(name, name)
    kind = kind if kind in KINDS else "Other"
    function = getattr(operation, "activation", None)
    activation = "none"
    if callable(function):
        activation = _ACTIVATION_NAMES.get(getattr(function, "__name__", ""), "other")
    return kind, activation


def _relu_code(operation) -> str:
    """'relu' for a plain ReLU layer or op; 'other' for a leaky, capped or shifted one."""
    plain = (getattr(operation, "negative_slope", 0) in (0, None) and getattr(operation, "max_value", None) is None
             and getattr(operation, "threshold", 0) in (0, None))
    return "relu" if plain else "other"




@dataclass(frozen=True)
class LayerInfo:
    """One layer of a model in canonical form.

    kind:       layer type ('Conv2D', 'Dense', 'MaxPooling2D', 'BatchNormalization', 'Add', ...).
    activation: activation applied to its output ('none', 'relu', 'softmax' ...), whether written as
                ``activation=`` or as a separate layer.
    shape:      output shape without the batch axis, e.g. (28, 28, 6).
    kernel:     kernel or pool size (kh, kw); () when the layer has none.
    strides:    (sh, sw); () when the layer has none.
    params:     number of parameters (trainable + non-trainable).
    trainable:  number of trainable parameters.
    inputs:     positions of the layers it reads, in canonical order (sorted).
    """

    kind: str
    activation: str
    shape: tuple
    kernel: tuple
    strides: tuple
    params: int
    trainable: int
    inputs: tuple

    def describe(self) -> str:
        """One line, e.g. "Conv2D 5x5 stride 1 + relu -> (28, 28, 6), 156 params"."""
        parts = [self.kind]
        if self.kernel:
            parts.append(f"{self.kernel[0]}x{self.kernel[1]} stride {stride_text(self.strides)}")
        if self.activation != "none":
            parts.append(f"+ {self.activation}")
        frozen = self.params - self.trainable
        counts = f"{self.params:,} params" + (f" ({frozen:,} non-trainable)" if frozen else "")
        return f"{' '.join(parts)} -> {self.shape}, {counts}"


def stride_text(strides: tuple) -> str:
    """Strides as written in a message: '2' for (2, 2), '1x2' otherwise."""
    return str(strides[0]) if len(set(strides)) == 1 else "x".join(map(str, strides))


# Layers that pass their input on unchanged in what the checks compare: shapes are judged at the next layer.
PASS_THROUGH = ("Dropout", "Flatten", "Reshape", "ZeroPadding2D", "Identity")
POOLING = ("MaxPooling2D", "AveragePooling2D")


@dataclass
class _Node:
    kind: str
    activation: str
    shape: tuple
    kernel: tuple
    strides: tuple
    params: int
    trainable: int
    inputs: list


def canonical_layers(summary) -> list[LayerInfo]:
    """A summary (from :func:`summarize`, plain numbers) as LayerInfo records in canonical order.

    Equivalent forms become equal: activation layers/ops fold into the layer before them (when it has no
    activation and nothing else reads it); Dropout, Flatten, Reshape, ZeroPadding2D and Identity vanish (their
    effect shows in the next layer's shape); a Conv2D whose kernel covers its whole input and outputs 1x1
    becomes the Dense layer it equals (LeNet's C5). Layers are ordered by their depth from the input (longest
    path), then by their attributes, so the order in which parallel branches were written does not matter.
    """
    nodes = _parse(np.asarray(summary))
    nodes = _drop_pass_through(nodes)
    nodes = _fold_activations(nodes)
    nodes = [_conv_as_dense(node, nodes) for node in nodes]
    return _canonical_order(nodes)


def _parse(summary: np.ndarray) -> list[_Node]:
    """Rows as nodes; ValueError unless the table is well formed (known codes, parents before children)."""
    if summary.ndim != 2 or summary.shape[1] != NUM_COLUMNS or not np.all(np.isfinite(summary)):
        raise ValueError(f"a summary is a finite (L, {NUM_COLUMNS}) table")
    nodes = []
    for index, row in enumerate(summary.astype(np.int64)):
        rank = int(row[RANK])
        kernel, strides = tuple(int(v) for v in row[KERNEL]), tuple(int(v) for v in row[STRIDES])
        inputs = [int(i) for i in row[INPUTS][:max(0, min(int(row[NUM_INPUTS]), MAX_INPUTS))]]
        if not (0 <= row[KIND] < len(KINDS) and 0 <= row[ACTIVATION] < len(ACTIVATIONS) and rank >= 0
                and all(0 <= i < index for i in inputs)):
            raise ValueError(f"row {index} of the summary is malformed")
        nodes.append(_Node(KINDS[int(row[KIND])], ACTIVATIONS[int(row[ACTIVATION])],
                           tuple(int(v) for v in row[DIMS][:min(rank, 3)]), kernel if any(kernel) else (),
                           strides if any(strides) else (), int(row[PARAMS]), int(row[TRAINABLE]), inputs))
    return nodes


def _drop_pass_through(nodes: list[_Node]) -> list[_Node]:
    """Remove parameter-free pass-through layers, rewiring their readers to their input."""
    target = list(range(len(nodes)))
    for index, node in enumerate(nodes):
        node.inputs = [target[i] for i in node.inputs]
        if node.kind in PASS_THROUGH and node.params == 0 and len(node.inputs) == 1:
            target[index] = node.inputs[0]
    return _compact(nodes, keep=[target[i] == i for i in range(len(nodes))])


def _fold_activations(nodes: list[_Node]) -> list[_Node]:
    """Merge each activation layer into the layer it reads when that layer has no activation and no other reader."""
    readers = [0] * len(nodes)
    for node in nodes:
        for i in node.inputs:
            readers[i] += 1
    target = list(range(len(nodes)))
    for index, node in enumerate(nodes):
        node.inputs = [target[i] for i in node.inputs]
        if node.kind != "Activation" or len(node.inputs) != 1:
            continue
        parent = nodes[node.inputs[0]]
        if node.activation == "none":
            target[index] = node.inputs[0]
        elif parent.activation == "none" and readers[node.inputs[0]] == 1 and parent.kind != "InputLayer":
            parent.activation = node.activation
            target[index] = node.inputs[0]
    return _compact(nodes, keep=[target[i] == i for i in range(len(nodes))])


def _compact(nodes: list[_Node], keep: list[bool]) -> list[_Node]:
    new_index = np.cumsum(keep) - 1
    kept = [node for node, k in zip(nodes, keep) if k]
    for node in kept:
        node.inputs = [int(new_index[i]) for i in node.inputs]
    return kept


def _conv_as_dense(node: _Node, nodes: list[_Node]) -> _Node:
    if node.kind != "Conv2D" or len(node.inputs) != 1 or node.shape[:2] != (1, 1):
        return node
    if nodes[node.inputs[0]].shape[:2] != node.kernel:
        return node
    return replace(node, kind="Dense", shape=node.shape[2:], kernel=(), strides=())


def _canonical_order(nodes: list[_Node]) -> list[LayerInfo]:
    depth = []
    for node in nodes:
        depth.append(1 + max((depth[i] for i in node.inputs), default=-1))
    order = sorted(range(len(nodes)), key=lambda i: (depth[i], _attributes(nodes[i]), i))
    position = {old: new for new, old in enumerate(order)}
    return [LayerInfo(n.kind, n.activation, n.shape, n.kernel, n.strides, n.params, n.trainable,
                      tuple(sorted(position[i] for i in n.inputs)))
            for n in (nodes[i] for i in order)]


def _attributes(node: _Node) -> tuple:
    return (node.kind, node.activation, node.shape, node.kernel, node.strides, node.params, node.trainable)


def total_params(layers: list[LayerInfo]) -> tuple[int, int]:
    """(all, trainable) parameters of canonical layers."""
    return sum(layer.params for layer in layers), sum(layer.trainable for layer in layers)


@functools.lru_cache(maxsize=32)
def reference_summary(builder_name: str, *args, **kwargs) -> np.ndarray:
    """summarize() of a builder of dlcourse.models.classic (by name, e.g. 'build_vgg19'), built shapes_only(); cached.

    The array is read-only: copies are made by whoever changes it.
    """
    builder = getattr(classic, builder_name)
    with shapes_only():
        model = builder(*args, **kwargs)
        summary = summarize(model)
    del model
    summary.setflags(write=False)
    return summary
