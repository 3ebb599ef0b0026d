"""torchvision 0.14's automatic augmentation operations, the reference for vegclf's --augment-policy.

usage: autoaugment_reference.py DIR IMAGE...

For each IMAGE (an RGB PNG in DIR), the script takes the magnitude bins of every operation of
TrivialAugmentWide() and of RandAugment() (num_magnitude_bins 31, the image's size) from their
_augmentation_space, and applies torchvision's _apply_op (nearest interpolation, fill None: black) to the
PIL image for every operation, at every bin's magnitude, positive and negated for the signed operations.
It writes to DIR:
  IMAGE.cases.json  [{"policy", "op", "magnitude"}, ...] in order, and
  IMAGE.out.raw     the results' RGB bytes, one image after the other (each the input's size),
and prints JSON {"cpu_capability": torch's CPU capability (AVX2, ...), "images": {IMAGE: {"trivialaugment":
{op: {"bins": [...], "signed": bool}}, "randaugment": ...}}, "translate": {side: RandAugment's TranslateX bins
for an image of that width, sides 16 to 399}}.
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import autoaugment


def spaces(width, height):
    return {
        "trivialaugment": autoaugment.TrivialAugmentWide(num_magnitude_bins=31)._augmentation_space(31),
        "randaugment": autoaugment.RandAugment(num_magnitude_bins=31)._augmentation_space(31, (height, width)),
    }


def cpu_capability():
    """The CPU capability torch's kernels run with, as torch 1.13 reports it in its build configuration."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return ""


def main():
    folder, names = sys.argv[1], sys.argv[2:]
    report = {}
    for name in names:
        img = Image.open(os.path.join(folder, name)).convert("RGB")
        cases, outputs, bins = [], [], {}
        for policy, space in spaces(img.width, img.height).items():
            bins[policy] = {}
            for op, (magnitudes, signed) in space.items():
                values = [float(m) for m in magnitudes.flatten().tolist()] if magnitudes.ndim > 0 else []
                bins[policy][op] = {"bins": values, "signed": bool(signed)}
                for m in values or [0.0]:
                    for magnitude in ([m, -m] if signed else [m]):
                        out = autoaugment._apply_op(img, op, magnitude, InterpolationMode.NEAREST, None)
                        cases.append({"policy": policy, "op": op, "magnitude": magnitude})
                        outputs.append(np.asarray(out.convert("RGB"), dtype=np.uint8).tobytes())
        with open(os.path.join(folder, name + ".cases.json"), "w") as f:
            json.dump(cases, f)
        with open(os.path.join(folder, name + ".out.raw"), "wb") as f:
            f.write(b"".join(outputs))
        report[name] = bins
    # RandAugment's translation bins for image sides 16 to 399: linspace(0, 150/331*side, 31).
    translate = {side: space["TranslateX"][0].tolist() for side in range(16, 400)
                 for space in [spaces(side, side)["randaugment"]]}
    json.dump({"cpu_capability": cpu_capability(), "images": report, "translate": translate}, sys.stdout)


if __name__ == "__main__":
    main()
