"""The PyTorch tutorial's checkpoints, for vegclf's import and export tests.

usage: tutorial_ckpt.py save OUTDIR NUM_CLASSES [IMAGE...]
    Builds the tutorial's VegetableResnet (a torchvision resnet50 under self.resnet, fc replaced by
    Linear(2048,128)-ReLU-Linear(128,N)) with random weights and non-trivial batch-norm statistics, takes
    one Adam step (lr 1e-5) over all parameters in train mode, and writes OUTDIR/VegetableResnet50.ckpt as
    the tutorial's save_checkpoint does, and OUTDIR/probs.json: the eval-mode class probabilities of the
    images under the tutorial's transform (Resize((224,224)), ToTensor, Normalize 0.5/0.5).
usage: tutorial_ckpt.py load FILE LAYOUT NUM_CLASSES OUT.json IMAGE...
    Loads FILE with torch.load into LAYOUT (tutorial: VegetableResnet; torchvision: resnet50 with fc
    replaced by the same Sequential) with load_state_dict(strict=True), and writes the probabilities.
"""
import json
import os
import sys

import torch
from PIL import Image
from torch import nn
from torchvision import models, transforms


def head(n):
    return nn.Sequential(nn.Linear(2048, 128), nn.ReLU(), nn.Linear(128, n))


class VegetableResnet(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.resnet = models.resnet50()
        self.resnet.fc = head(n)

    def forward(self, x):
        return self.resnet(x)


def probabilities(model, paths):
    tf = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3)])
    model.eval()
    with torch.no_grad():
        x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])
        return torch.softmax(model(x), dim=1).tolist()


def main():
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    if sys.argv[1] == "save":
        out, n, paths = sys.argv[2], int(sys.argv[3]), sys.argv[4:]
        model = VegetableResnet(n)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.normal_(0, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
                    m.num_batches_tracked.fill_(7)
                    # A random ResNet's activations grow through its stages: a last batch norm of each block
                    # near 0 (as torchvision's zero_init_residual) keeps the output's softmax informative.
            for block in [b for layer in (model.resnet.layer1, model.resnet.layer2, model.resnet.layer3, model.resnet.layer4) for b in layer]:
                block.bn3.weight.mul_(0.2)
            model.resnet.fc[2].weight.mul_(40)
        opt = torch.optim.Adam(model.parameters(), lr=1e-5)
        model.train()
        loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 224, 224)), torch.tensor([0, n - 1]))
        loss.backward()
        opt.step()
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1}, os.path.join(out, "VegetableResnet50.ckpt"))
        if paths:
            with open(os.path.join(out, "probs.json"), "w") as f:
                json.dump(probabilities(model, paths), f)
    else:
        path, layout, n, out, paths = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6:]
        if layout == "tutorial":
            model = VegetableResnet(n)
        else:
            model = models.resnet50()
            model.fc = head(n)
        model.load_state_dict(torch.load(path), strict=True)
        with open(out, "w") as f:
            json.dump(probabilities(model, paths), f)


if __name__ == "__main__":
    main()
