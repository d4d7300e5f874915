"""Image-quality assessment with a person in the loop (module 07).

selection    uncertainty scores, the review pick, typical images for a cold start (the graded functions)
loop         rounds of train -> infer -> review -> add, their history, strategy curves, cleanlab's suspects
features     hand-made quality statistics and cached ImageNet features of the frozen backbone
calibration  reliability curves, expected calibration error, temperature scaling
plots        the module's pictures
The labelling widget and its labels file live in :mod:`dlcourse.labelling`.
"""
from .calibration import (binary_logits, expected_calibration_error, fit_temperature, reliability_curve,
                          softmax)
from .features import (HANDMADE_C, HANDMADE_FEATURE_NAMES, IMAGENET_C, IMAGENET_SIZE, handmade_features,
                       imagenet_features)
from .loop import (DEFAULT_C, STRATEGIES, ReviewBatch, accuracy_at, active_learning_round, check_two_classes,
                   fit_logistic, label_oracle, labels_to_reach, learning_curve, out_of_sample_probabilities,
                   review_batch, run_active_learning, strategy_curve, suspected_label_errors, warm_logistic)
from .plots import plot_errors_per_distortion, plot_learning_curves, plot_reliability
from .selection import UNCERTAINTY_METHODS, select_for_review, typical_samples, uncertainty_scores

__all__ = [
    "DEFAULT_C", "HANDMADE_C", "HANDMADE_FEATURE_NAMES", "IMAGENET_C", "IMAGENET_SIZE", "STRATEGIES", "UNCERTAINTY_METHODS", "ReviewBatch", "accuracy_at",
    "active_learning_round", "binary_logits", "check_two_classes", "expected_calibration_error", "fit_logistic",
    "fit_temperature", "handmade_features", "imagenet_features", "label_oracle", "labels_to_reach",
    "learning_curve", "out_of_sample_probabilities", "plot_errors_per_distortion", "plot_learning_curves",
    "plot_reliability", "reliability_curve", "review_batch", "run_active_learning", "select_for_review",
    "softmax", "strategy_curve", "suspected_label_errors", "typical_samples", "uncertainty_scores", "warm_logistic",
]
