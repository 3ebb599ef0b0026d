"""Writes torchvision's ImageNet evaluation transform of images, the reference for vegclf's data.Transform
with Resize set: Compose([Resize(RESIZE, interpolation), CenterCrop(CROP), ToTensor(), Normalize(mean, std)]),
as torchvision's weights' ImageClassification(crop_size=CROP, resize_size=RESIZE, interpolation) does it.

usage: transform_crop.py OUTDIR MEAN0,MEAN1,MEAN2 STD0,STD1,STD2 RESIZE:CROP:INTERPOLATION[,...] IMAGE...
INTERPOLATION is bilinear or bicubic. OUTDIR/I.bin gets, for the I-th transform (from 0), the float32
little-endian values of each image, [CROP, CROP, 3] (channels last), one after another.
"""
import os
import sys

import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

MODES = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}


def main():
    # One image at a time is too little work to share: with OMP_NUM_THREADS=2 (testenv.RunPython's) on two
    # busy cores, OpenMP's waiting made this script four times slower.
    torch.set_num_threads(1)
    out, mean, std, cases, paths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    mean = [float(v) for v in mean.split(",")]
    std = [float(v) for v in std.split(",")]
    tfs = []
    for case in cases.split(","):
        resize, crop, mode = case.split(":")
        tfs.append(transforms.Compose([
            transforms.Resize(int(resize), interpolation=MODES[mode]),
            transforms.CenterCrop(int(crop)),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]))
    files = [open(os.path.join(out, f"{i}.bin"), "wb") for i in range(len(tfs))]
    for p in paths:
        with open(p, "rb") as fh:
            img = Image.open(fh).convert("RGB")
        for tf, f in zip(tfs, files):
            x = tf(img).permute(1, 2, 0).contiguous().numpy().astype("<f4")
            f.write(x.tobytes())
    for f in files:
        f.close()


if __name__ == "__main__":
    main()
