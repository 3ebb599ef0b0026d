"""A torchvision model with the tutorial's head in place of its classifier, for vegclf's import and export
tests of every architecture.

usage: torchvision_ckpt.py save ARCH HEAD OUTDIR NUM_CLASSES SIZE IMAGE...
    Builds ARCH with its module HEAD ("fc", "classifier.3") replaced by Sequential(Linear(F,128), ReLU,
    Linear(128,N)), random weights, batch norms that look trained, the last Linear scaled so that the
    first image's logits have a standard deviation of 3; writes OUTDIR/model.pth (its state_dict, torch.save)
    and OUTDIR/probs.json: the eval-mode probabilities of the images under Resize((SIZE, SIZE)), ToTensor,
    Normalize with ImageNet's statistics.
usage: torchvision_ckpt.py load ARCH HEAD FILE NUM_CLASSES SIZE OUT.json IMAGE...
    Loads FILE into the same model with load_state_dict(strict=True) and writes the probabilities.
"""
import json
import os
import sys

import torch
import torchvision
from PIL import Image
from torchvision import transforms

from common import at_size, nondefault, realistic_batchnorm


def model_arch(model):
    return "vit" if isinstance(model, torchvision.models.VisionTransformer) else ""


def build(arch, head, n):
    model = getattr(torchvision.models, arch)()
    parent_name, _, child = head.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = parent[int(child)] if child.isdigit() else getattr(parent, child)
    new = torch.nn.Sequential(torch.nn.Linear(old.in_features, 128), torch.nn.ReLU(), torch.nn.Linear(128, n))
    if child.isdigit():
        parent[int(child)] = new
    else:
        setattr(parent, child, new)
    return model, new


def probabilities(model, size, paths):
    model = at_size(model, model_arch(model), size)
    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                             transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    model.eval()
    with torch.no_grad():
        x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])
        return torch.softmax(model(x), 1).tolist()


def main():
    torch.set_num_threads(2)
    if sys.argv[1] == "save":
        arch, head, out, n, size, images = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7:]
        torch.manual_seed(4)
        model, new = build(arch, head, n)
        nondefault(model)
        realistic_batchnorm(model, size, 4)
        model.eval()
        tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                 transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
        with torch.no_grad():
            logits = at_size(model, model_arch(model), size).eval()(tf(Image.open(images[0]).convert("RGB")).unsqueeze(0))
            scale = 3 / logits.std().item()
            new[2].weight.mul_(scale)
            new[2].bias.mul_(scale)
        torch.save(model.state_dict(), os.path.join(out, "model.pth"))
        with open(os.path.join(out, "probs.json"), "w") as f:
            json.dump(probabilities(model, size, images), f)
    else:
        arch, head, file, n, size, out, images = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], sys.argv[8:]
        model, _ = build(arch, head, n)
        model.load_state_dict(torch.load(file), strict=True)
        with open(out, "w") as f:
            json.dump(probabilities(model, size, images), f)


if __name__ == "__main__":
    main()
