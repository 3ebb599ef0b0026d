"""Writes torchvision's transform of images, the reference for vegclf's data package.

usage: transform.py OUT SIZE MEAN0,MEAN1,MEAN2 STD0,STD1,STD2 IMAGE...
OUT gets the float32 little-endian values of each image, [SIZE, SIZE, 3] (channels last), one after another.
"""
import sys

import numpy as np
from PIL import Image
from torchvision import transforms


def main():
    out, size, mean, std, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
    mean = [float(v) for v in mean.split(",")]
    std = [float(v) for v in std.split(",")]
    tf = transforms.Compose([
        transforms.Resize((size, size)),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])
    with open(out, "wb") as f:
        for p in paths:
            with open(p, "rb") as fh:
                img = Image.open(fh).convert("RGB")
            x = tf(img).permute(1, 2, 0).contiguous().numpy().astype("<f4")
            f.write(x.tobytes())


if __name__ == "__main__":
    main()
