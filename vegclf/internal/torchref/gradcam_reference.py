"""Writes Grad-CAM maps of torchvision's ResNet-18 (layer4, eval mode), the reference for package interpret.

usage: gradcam_reference.py OUTDIR SIZE
OUTDIR gets weights.pth, input.bin (float32 [2, SIZE, SIZE, 3], channels last), classes.bin (int32 [2]) and
cams.bin (float32 [2, SIZE/32, SIZE/32], each map divided by its maximum).
"""
import os
import sys

import torch
import torchvision

from common import realistic_batchnorm


def main():
    out, size = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(5)
    model = torchvision.models.resnet18()
    realistic_batchnorm(model, size, 4)
    with torch.no_grad():
        model.fc.weight.mul_(0.1)
    torch.save(model.state_dict(), os.path.join(out, "weights.pth"))
    model.eval()
    x = torch.randn(2, 3, size, size)
    maps = {}
    model.layer4.register_forward_hook(lambda m, i, o: maps.__setitem__("a", o))
    logits = model(x)
    classes = torch.tensor([3, int(logits[1].argmax())])  # An arbitrary class, and the predicted one.
    score = logits[torch.arange(2), classes].sum()
    a = maps["a"]
    grads, = torch.autograd.grad(score, a)
    cam = torch.relu((a * grads.mean((2, 3), keepdim=True)).sum(1))
    cam = cam / cam.flatten(1).max(1).values.clamp(min=1e-30)[:, None, None]
    x.permute(0, 2, 3, 1).contiguous().detach().numpy().astype("<f4").tofile(os.path.join(out, "input.bin"))
    classes.numpy().astype("<i4").tofile(os.path.join(out, "classes.bin"))
    cam.detach().numpy().astype("<f4").tofile(os.path.join(out, "cams.bin"))


if __name__ == "__main__":
    main()
