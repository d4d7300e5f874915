"""Module 08: plausible wrong implementations (must be rejected) and alternative correct ones (must pass).

The right ones use the styles other courses and libraries use: einsum instead of @, np.linalg.norm instead of a
square root of sums, argpartition before sorting, a boolean mask instead of np.triu, a functional model from
classifier.input or from an explicit layer list. Keras is imported lazily (through the course's quiet import).
"""
import numpy as np


def _keras():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[1]


def _normalize(x, axis=-1):
    x = np.asarray(x, dtype=float)
    return x / np.maximum(np.sqrt(np.sum(x * x, axis=axis, keepdims=True)), 1e-12)


def _cosine(a, b):
    return _normalize(a) @ _normalize(b).T


# --- embedding_model -------------------------------------------------------------------------------------
def wrong_embedding_model__softmax_output(classifier, layer=None):
    keras = _keras()
    return keras.Model(classifier.inputs, classifier.outputs)


def wrong_embedding_model__layer_ignored(classifier, layer=None):
    keras = _keras()
    return keras.Model(classifier.inputs, classifier.layers[-2].output)


def wrong_embedding_model__one_layer_too_early(classifier, layer=None):
    keras = _keras()
    chosen = classifier.layers[-3] if layer is None else classifier.get_layer(layer)
    return keras.Model(classifier.inputs, chosen.output)


def right_embedding_model__layer_by_index(classifier, layer=None):
    keras = _keras()
    chosen = classifier.get_layer(index=len(classifier.layers) - 2) if layer is None else classifier.get_layer(layer)
    return keras.Model(inputs=classifier.inputs, outputs=chosen.output)


def right_embedding_model__by_name(classifier, layer=None):
    keras = _keras()
    name = layer or classifier.layers[-2].name
    return keras.Model(classifier.inputs, [classifier.get_layer(name).output][0], name="embedder")


# --- l2_normalize ----------------------------------------------------------------------------------------
def wrong_l2_normalize__zero_vector_nan(x, axis=-1, eps=1e-12):
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def wrong_l2_normalize__axis_ignored(x, axis=-1, eps=1e-12):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def wrong_l2_normalize__squared_norm(x, axis=-1, eps=1e-12):
    return x / np.maximum(np.sum(x ** 2, axis=axis, keepdims=True), eps)


def wrong_l2_normalize__l1_norm(x, axis=-1, eps=1e-12):
    return x / np.maximum(np.abs(x).sum(axis=axis, keepdims=True), eps)


def right_l2_normalize__linalg_norm_float32(x, axis=-1, eps=1e-12):
    x = np.asarray(x, dtype=np.float32)
    return x / np.clip(np.linalg.norm(x, axis=axis, keepdims=True), eps, None)


def right_l2_normalize__einsum_where(x, axis=-1, eps=1e-12):
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    norm = np.sqrt(np.einsum("...d,...d->...", x, x))[..., None]
    out = np.divide(x, norm, out=np.zeros_like(x), where=norm > eps)
    return np.moveaxis(out, -1, axis)


# --- cosine_similarity -----------------------------------------------------------------------------------
def wrong_cosine_similarity__dot_product(a, b):
    return a @ b.T


def wrong_cosine_similarity__only_a_normalised(a, b):
    return _normalize(a) @ b.T


def wrong_cosine_similarity__distance(a, b):
    return 1 - _cosine(a, b)


def wrong_cosine_similarity__nan_for_zero_vectors(a, b):
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a @ b.T) / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))


def right_cosine_similarity__einsum(a, b):
    return np.einsum("nd,md->nm", _normalize(a), _normalize(b))


def right_cosine_similarity__divide_by_outer_norms(a, b):
    norms = np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    return np.divide(a @ b.T, norms, out=np.zeros(norms.shape), where=norms > 0)


# --- top_k -----------------------------------------------------------------------------------------------
def wrong_top_k__ascending_argsort(query, index, k):
    scores = _cosine(query, index)
    order = np.argsort(scores, axis=1)[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def wrong_top_k__reversed_ties(query, index, k):
    scores = _cosine(query, index)
    order = np.argsort(scores, axis=1)[:, ::-1][:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def wrong_top_k__dot_product(query, index, k):
    scores = query @ index.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def wrong_top_k__skips_the_best(query, index, k):
    scores = _cosine(query, index)
    order = np.argsort(-scores, axis=1, kind="stable")[:, 1:k + 1]
    return order, np.take_along_axis(scores, order, axis=1)


def right_top_k__argpartition(query, index, k):
    scores = _cosine(query, index)
    candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    picked = np.take_along_axis(scores, candidates, axis=1)
    rows = [candidates[q][np.lexsort((candidates[q], -picked[q]))] for q in range(len(scores))]
    order = np.array(rows, dtype=np.int64).reshape(len(scores), k)
    return order, np.take_along_axis(scores, order, axis=1)


def right_top_k__einsum_float32_lists(query, index, k):
    q = np.asarray(query, np.float32)
    m = np.asarray(index, np.float32)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    m = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    scores = np.einsum("qd,md->qm", q, m)
    ranked = [sorted(range(len(m)), key=lambda j: (-scores[i, j], j))[:k] for i in range(len(q))]
    return np.array(ranked), np.array([[scores[i, j] for j in row] for i, row in enumerate(ranked)])


# --- find_near_duplicates --------------------------------------------------------------------------------
def wrong_find_near_duplicates__self_pairs(embeddings, threshold):
    return np.argwhere(np.triu(_cosine(embeddings, embeddings) >= threshold))


def wrong_find_near_duplicates__both_orders(embeddings, threshold):
    similar = _cosine(embeddings, embeddings) >= threshold
    np.fill_diagonal(similar, False)
    return np.argwhere(similar)


def wrong_find_near_duplicates__strict_inequality(embeddings, threshold):
    return np.argwhere(np.triu(_cosine(embeddings, embeddings) > threshold, k=1))


def wrong_find_near_duplicates__dot_product(embeddings, threshold):
    return np.argwhere(np.triu(embeddings @ embeddings.T >= threshold, k=1))


def right_find_near_duplicates__loops(embeddings, threshold):
    unit = _normalize(embeddings)
    return [(i, j) for i in range(len(unit)) for j in range(i + 1, len(unit)) if unit[i] @ unit[j] >= threshold]


def right_find_near_duplicates__mask_and_nonzero(embeddings, threshold):
    sim = np.einsum("id,jd->ij", _normalize(embeddings), _normalize(embeddings))
    n = len(sim)
    upper = np.arange(n)[:, None] < np.arange(n)[None, :]
    i, j = np.nonzero((sim >= threshold) & upper)
    return np.column_stack([i, j])


# --- recall_at_k -----------------------------------------------------------------------------------------
def _neighbours(embeddings, k, own=False):
    sim = _cosine(embeddings, embeddings)
    if not own:
        np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


def wrong_recall_at_k__query_is_its_own_match(embeddings, labels, k=1):
    labels = np.asarray(labels)
    found = (labels[_neighbours(embeddings, k, own=True)] == labels[:, None]).any(axis=1)
    queries = np.array([np.sum(labels == label) > 1 for label in labels])
    return found[queries].mean()


def wrong_recall_at_k__precision(embeddings, labels, k=1):
    labels = np.asarray(labels)
    share = (labels[_neighbours(embeddings, k)] == labels[:, None]).mean(axis=1)
    queries = np.array([np.sum(labels == label) > 1 for label in labels])
    return share[queries].mean()


def wrong_recall_at_k__every_item_a_query(embeddings, labels, k=1):
    labels = np.asarray(labels)
    return (labels[_neighbours(embeddings, k)] == labels[:, None]).any(axis=1).mean()


def wrong_recall_at_k__dot_product(embeddings, labels, k=1):
    labels = np.asarray(labels)
    sim = embeddings @ embeddings.T
    np.fill_diagonal(sim, -np.inf)
    found = (labels[np.argsort(-sim, axis=1)[:, :k]] == labels[:, None]).any(axis=1)
    queries = np.array([np.sum(labels == label) > 1 for label in labels])
    return found[queries].mean()


def right_recall_at_k__loop_with_argpartition(embeddings, labels, k=1):
    labels = list(labels)
    sim = np.einsum("id,jd->ij", _normalize(embeddings), _normalize(embeddings))
    hits, queries = 0, 0
    for i, label in enumerate(labels):
        if labels.count(label) < 2:
            continue
        others = np.delete(np.arange(len(labels)), i)
        nearest = others[np.argpartition(-sim[i, others], k - 1)[:k]]
        hits += any(labels[j] == label for j in nearest)
        queries += 1
    return hits / queries


# The hint (a fragment of the check's message) each wrong implementation must get.
EXPECTED_HINTS = {
    "embedding_model": {"softmax_output": "softmax probabilities", "layer_ignored": "named by `layer`",
                        "one_layer_too_early": "one layer too early"},
    "l2_normalize": {"zero_vector_nan": "zero vector", "axis_ignored": "along `axis`",
                     "squared_norm": "not by the sum of squares", "l1_norm": "L1 norm"},
    "cosine_similarity": {"dot_product": "plain dot products", "only_a_normalised": "only a was normalised",
                          "distance": "cosine distance", "nan_for_zero_vectors": "zero vector"},
    "top_k": {"ascending_argsort": "sorts ascending", "reversed_ties": "lower row first",
              "dot_product": "plain dot products", "skips_the_best": "do not skip the first result"},
    "find_near_duplicates": {"self_pairs": "not its own duplicate", "both_orders": "each pair once",
                             "strict_inequality": "use >= threshold", "dot_product": "plain dot products"},
    "recall_at_k": {"query_is_its_own_match": "its own match", "precision": "precision@k",
                    "every_item_a_query": "alone in its label", "dot_product": "plain dot products"},
}
