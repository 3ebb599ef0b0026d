"""Writes images in the modes and encodings Pillow produces, for vegclf's decoder tests.

usage: make_images.py OUTDIR
"""
import os
import sys

import numpy as np
from PIL import Image


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    h, w = 301, 397
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([
        (xx * 255 // w), (yy * 255 // h), ((xx + yy) % 97) * 2
    ], axis=-1).astype(np.float64)
    base += rng.normal(0, 12, size=base.shape)
    rgb = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    rgb.save(os.path.join(out, "rgb420.jpg"), quality=90)
    rgb.save(os.path.join(out, "rgb444.jpg"), quality=95, subsampling=0)
    rgb.save(os.path.join(out, "rgb422.jpg"), quality=90, subsampling=1)
    rgb.resize((97, 61)).save(os.path.join(out, "small_upscaled.jpg"), quality=90)
    rgb.convert("L").save(os.path.join(out, "gray.jpg"), quality=90)
    rgb.convert("CMYK").save(os.path.join(out, "cmyk.jpg"), quality=90)
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray((xx * 255 // w).astype(np.uint8), "L"))
    rgba.save(os.path.join(out, "alpha.png"))
    rgb.quantize(64).save(os.path.join(out, "palette.png"))
    rgb.quantize(64).save(os.path.join(out, "anim.gif"))
    rgb.save(os.path.join(out, "plain.png"))


if __name__ == "__main__":
    main()
