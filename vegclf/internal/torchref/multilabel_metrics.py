"""scikit-learn's multi-label metrics, the reference for vegclf's evaluate.AveragePrecision and F1Scores.

usage: multilabel_metrics.py SEED

Prints JSON: probabilities [n, N] (rounded to 2 decimals, so that some tie), binary truth [n, N] (every class
with a positive and a negative), thresholds [N], and scikit-learn's average_precision_score per class and
macro (mAP), and of the decisions probability > threshold: precision, recall and F1 per class and the micro
and macro F1 (f1_score), all with zero_division=0. The last class's threshold is above every probability,
so that it decides nothing (precision 0/0).
"""
import json
import sys

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score


def main():
    rng = np.random.default_rng(int(sys.argv[1]))
    n, classes = 40, 5
    while True:
        truth = rng.random((n, classes)) < 0.35
        if ((truth.sum(0) > 0) & (truth.sum(0) < n)).all():
            break
    # Probabilities that lean towards the truth, with ties.
    probs = np.round(np.clip(0.35 * truth + 0.65 * rng.random((n, classes)), 0, 1), 2)
    thresholds = rng.uniform(0.3, 0.7, classes)
    thresholds[-1] = 1.5
    predicted = probs > thresholds
    out = {
        "n": n, "classes": classes, "probs": probs.flatten().tolist(), "truth": truth.astype(int).flatten().tolist(),
        "thresholds": thresholds.tolist(),
        "ap": [average_precision_score(truth[:, c], probs[:, c]) for c in range(classes)],
        "map": average_precision_score(truth, probs, average="macro"),
        "precision": precision_score(truth, predicted, average=None, zero_division=0).tolist(),
        "recall": recall_score(truth, predicted, average=None, zero_division=0).tolist(),
        "f1": f1_score(truth, predicted, average=None, zero_division=0).tolist(),
        "micro_f1": f1_score(truth, predicted, average="micro", zero_division=0),
        "macro_f1": f1_score(truth, predicted, average="macro", zero_division=0),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
