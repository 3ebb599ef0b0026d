"""ImageNet class probabilities of a torchvision model with random weights, the reference for
`vegclf predict --weights`.

usage: predict_reference.py ARCH OUTDIR TRANSFORM IMAGE...

The model has random weights, batch norms that look trained (common.realistic_batchnorm) and its last
Linear scaled so that the first image's logits have a standard deviation of 3 (a softmax neither flat nor
one-hot). TRANSFORM is "squash:SIZE" (the tutorial's
Resize((SIZE, SIZE)), ToTensor, Normalize with ImageNet's statistics) or "enum:WEIGHTS" (the evaluation
transform of torchvision's weights enum value WEIGHTS of ARCH, such as IMAGENET1K_V1).

OUTDIR gets weights.pth (the state_dict, torch.save) and probs.json (one row of 1000 probabilities per image).
"""
import json
import os
import sys

import torch
import torchvision
from PIL import Image
from torchvision import transforms

from common import at_size, nondefault, realistic_batchnorm


def main():
    arch, out, spec, images = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    torch.manual_seed(3)
    torch.set_num_threads(2)
    model = getattr(torchvision.models, arch)()
    nondefault(model)
    realistic_batchnorm(model, 64, 4)
    kind, _, value = spec.partition(":")
    if kind == "squash":
        size = int(value)
        tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                 transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    else:
        tf = torchvision.models.get_model_weights(arch)[value].transforms()
    model.eval()
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    size = int(value) if kind == "squash" else 224
    with torch.no_grad():
        logits = at_size(model, arch, size).eval()(tf(Image.open(images[0]).convert("RGB")).unsqueeze(0))
        scale = 3 / logits.std().item()
        last.weight.mul_(scale)
        last.bias.mul_(scale)
    torch.save(model.state_dict(), os.path.join(out, "weights.pth"))  # At the native size.
    model = at_size(model, arch, size).eval()
    probs = []
    with torch.no_grad():
        for path in images:
            x = tf(Image.open(path).convert("RGB")).unsqueeze(0)
            probs.append(torch.softmax(model(x), 1)[0].tolist())
    with open(os.path.join(out, "probs.json"), "w") as f:
        json.dump(probs, f)


if __name__ == "__main__":
    main()
