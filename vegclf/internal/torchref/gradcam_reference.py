"""Writes Grad-CAM maps of a torchvision model (eval mode) on its last stage (a ResNet's layer4, a
MobileNetV3's or a ConvNeXt's features, a ViT's last block's ln_1, its patch tokens on their grid as
pytorch-grad-cam reshapes them), the reference for package interpret.

usage: gradcam_reference.py ARCH OUTDIR SIZE
OUTDIR gets weights.pth, input.bin (float32 [2, SIZE, SIZE, 3], channels last), classes.bin (int32 [2]) and
cams.bin (float32 [2, SIZE/32, SIZE/32], each map divided by its maximum).
"""
import os
import sys

import torch
import torchvision

from common import at_size, nondefault, realistic_batchnorm


def main():
    arch, out, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.manual_seed(5)
    model = getattr(torchvision.models, arch)()
    nondefault(model)
    realistic_batchnorm(at_size(model, arch, size), size, 4)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(0.1)
    torch.save(model.state_dict(), os.path.join(out, "weights.pth"))  # At the native size.
    model = at_size(model, arch, size)
    model.eval()
    x = torch.randn(2, 3, size, size)
    maps = {}
    if arch.startswith("resnet"):
        stage = model.layer4
    elif arch.startswith("vit"):
        stage = model.encoder.layers[-1].ln_1
    else:
        stage = model.features
    stage.register_forward_hook(lambda m, i, o: maps.__setitem__("a", o))
    logits = model(x)
    a = maps["a"]

    def cams(classes):
        score = logits[torch.arange(2), classes].sum()
        grads, = torch.autograd.grad(score, a, retain_graph=True)
        maps, weights = a, grads
        if arch.startswith("vit"):  # Tokens [B, 1+h*w, D]: the patches', on the grid, channels first.
            side = size // model.patch_size
            grid = lambda t: t[:, 1:, :].reshape(t.shape[0], side, side, t.shape[2]).permute(0, 3, 1, 2)
            maps, weights = grid(a), grid(grads)
        return torch.relu((maps * weights.mean((2, 3), keepdim=True)).sum(1))

    # An arbitrary class (3, or the next one whose map is not all zero: one that nothing in the image
    # raises compares trivially), and the predicted one.
    arbitrary = 3
    while cams(torch.tensor([arbitrary, 0]))[0].max() <= 0:
        arbitrary += 1
    classes = torch.tensor([arbitrary, int(logits[1].argmax())])
    cam = cams(classes)
    cam = cam / cam.flatten(1).max(1).values.clamp(min=1e-30)[:, None, None]
    x.permute(0, 2, 3, 1).contiguous().detach().numpy().astype("<f4").tofile(os.path.join(out, "input.bin"))
    classes.numpy().astype("<i4").tofile(os.path.join(out, "classes.bin"))
    cam.detach().numpy().astype("<f4").tofile(os.path.join(out, "cams.bin"))


if __name__ == "__main__":
    main()
