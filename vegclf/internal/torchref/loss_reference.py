"""torch's CrossEntropyLoss with weight= and label_smoothing=, the reference for vegclf's step.Loss.

usage: loss_reference.py SEED

Prints JSON: random logits [B, N] (float64 values of float32 numbers), class indices [B], soft targets [B, N]
(rows of mixed class probabilities, as mixup makes), balanced class weights [N], and for each case (hard
indices or soft targets; label smoothing 0 or 0.1; weights or none) the loss and its gradient with
respect to the logits, computed in float64.
"""
import json
import sys

import torch


def main():
    torch.manual_seed(int(sys.argv[1]))
    batch, classes = 6, 4
    logits = (3 * torch.randn(batch, classes)).float().double()
    labels = torch.tensor([0, 0, 0, 1, 2, 3])[torch.randperm(batch)]
    lam = torch.rand(batch, 1).double()
    partner = labels[torch.randperm(batch)]
    soft = lam * torch.nn.functional.one_hot(labels, classes).double() + (1 - lam) * torch.nn.functional.one_hot(partner, classes).double()
    counts = torch.bincount(labels, minlength=classes).double()
    weights = batch / (classes * counts)
    cases = []
    for hard in (True, False):
        for smoothing in (0.0, 0.1):
            for weighted in (False, True):
                x = logits.clone().requires_grad_(True)
                loss_fn = torch.nn.CrossEntropyLoss(weight=weights if weighted else None, label_smoothing=smoothing)
                loss = loss_fn(x, labels if hard else soft)
                loss.backward()
                cases.append({"hard": hard, "smoothing": smoothing, "weighted": weighted,
                              "loss": loss.item(), "grad": x.grad.flatten().tolist()})
    json.dump({"batch": batch, "classes": classes, "logits": logits.flatten().tolist(), "labels": labels.tolist(),
               "soft": soft.flatten().tolist(), "weights": weights.tolist(), "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
