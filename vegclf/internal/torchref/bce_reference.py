"""torch's BCEWithLogitsLoss with pos_weight= and timm's label smoothing, the reference for vegclf's
multi-label step.Loss.

usage: bce_reference.py SEED

Prints JSON: random logits [B, N] (float64 values of float32 numbers), multi-hot labels [B, N] (every class
with a positive and a negative), the balanced pos_weight [N] (negatives / positives per class), and for each
case (label smoothing 0 or 0.1; pos_weight or none) the loss and its gradient with respect to the logits,
computed in float64. Smoothing is timm's BinaryCrossEntropy's: off_value = smoothing / num_classes,
on_value = 1 - smoothing + off_value, targets = labels * on_value + (1 - labels) * off_value.
"""
import json
import sys

import torch


def main():
    torch.manual_seed(int(sys.argv[1]))
    batch, classes = 6, 4
    logits = (3 * torch.randn(batch, classes)).float().double()
    while True:
        labels = (torch.rand(batch, classes) < 0.4).double()
        positives = labels.sum(0)
        if bool(((positives > 0) & (positives < batch)).all()):
            break
    pos_weight = (batch - positives) / positives
    cases = []
    for smoothing in (0.0, 0.1):
        off_value = smoothing / classes
        on_value = 1.0 - smoothing + off_value
        targets = labels * on_value + (1 - labels) * off_value
        for weighted in (False, True):
            x = logits.clone().requires_grad_(True)
            loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight if weighted else None)
            loss = loss_fn(x, targets)
            loss.backward()
            cases.append({"smoothing": smoothing, "weighted": weighted, "loss": loss.item(), "grad": x.grad.flatten().tolist()})
    json.dump({"batch": batch, "classes": classes, "logits": logits.flatten().tolist(), "labels": labels.flatten().tolist(),
               "pos_weight": pos_weight.tolist(), "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
