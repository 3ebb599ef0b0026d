"""Runs a few steps of the tutorial's two phases in PyTorch, the reference for vegclf's train package.

usage: train_reference.py ARCH OUTDIR NCLASSES BATCH SIZE STEPS FROZEN_LR FINETUNE_LR TUTORIAL_BN SEED

OUTDIR gets:
  init.pth     the initial state_dict (random backbone with batch-norm statistics set by train-mode passes,
               the tutorial's head Sequential(Linear(F,128), ReLU, Linear(128,NCLASSES)))
  images.bin   float32 [2, BATCH, SIZE, SIZE, 3]: two batches (channels last), used alternately
  labels.bin   int32 [2, BATCH]
  losses.json  {"frozen": [...], "finetune": [...]}: the loss of each step
  final.pth    the state_dict after both phases
The frozen phase trains only the head with Adam(FROZEN_LR), the model in eval mode (batch norm with running
statistics) unless TUTORIAL_BN is 1 (model.train(), as the tutorial does); fine-tuning trains everything with a
fresh Adam(FINETUNE_LR) in train mode.
"""
import json
import os
import sys

import torch
import torchvision

from common import realistic_batchnorm


def main():
    arch, out = sys.argv[1], sys.argv[2]
    n, batch, size, steps = (int(v) for v in sys.argv[3:7])
    frozen_lr, finetune_lr = float(sys.argv[7]), float(sys.argv[8])
    tutorial_bn, seed = sys.argv[9] == "1", int(sys.argv[10])
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    model = getattr(torchvision.models, arch)()
    realistic_batchnorm(model, size, 4)
    features = model.fc.in_features
    model.fc = torch.nn.Sequential(torch.nn.Linear(features, 128), torch.nn.ReLU(), torch.nn.Linear(128, n))
    torch.save(model.state_dict(), os.path.join(out, "init.pth"))

    images = torch.randn(2, batch, 3, size, size)
    labels = torch.randint(0, n, (2, batch))
    images.permute(0, 1, 3, 4, 2).contiguous().numpy().astype("<f4").tofile(os.path.join(out, "images.bin"))
    labels.numpy().astype("<i4").tofile(os.path.join(out, "labels.bin"))
    criterion = torch.nn.CrossEntropyLoss()
    losses = {"frozen": [], "finetune": []}

    def train(phase, opt):
        for step in range(steps):
            loss = criterion(model(images[step % 2]), labels[step % 2])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[phase].append(loss.item())

    for p in model.parameters():
        p.requires_grad = False
    for p in model.fc.parameters():
        p.requires_grad = True
    model.train() if tutorial_bn else model.eval()
    train("frozen", torch.optim.Adam(model.fc.parameters(), lr=frozen_lr))

    for p in model.parameters():
        p.requires_grad = True
    model.train()
    train("finetune", torch.optim.Adam(model.parameters(), lr=finetune_lr))

    torch.save(model.state_dict(), os.path.join(out, "final.pth"))
    with open(os.path.join(out, "losses.json"), "w") as f:
        json.dump(losses, f)


if __name__ == "__main__":
    main()
