"""Writes images in the modes and encodings Pillow produces, for vegclf's decoder tests, and JPEGs with
restart markers (Debian's jpegtran, from libjpeg-turbo-progs; Pillow 9.4 ignores its restart options).

usage: make_images.py OUTDIR
"""
import os
import subprocess
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
    rgb.save(os.path.join(out, "progressive.jpg"), quality=90, progressive=True)
    rgb.convert("L").save(os.path.join(out, "gray_progressive.jpg"), quality=85, progressive=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees; Pillow's open does not apply it, nor must we.
    rgb.save(os.path.join(out, "exif_rotated.jpg"), quality=90, exif=exif.tobytes())
    for name, args in (("restart.jpg", ["-restart", "1"]), ("restart_progressive.jpg", ["-restart", "2B", "-progressive"])):
        subprocess.run(["jpegtran", *args, "-outfile", os.path.join(out, name), os.path.join(out, "rgb420.jpg")], check=True)
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray((xx * 255 // w).astype(np.uint8), "L"))
    rgba.save(os.path.join(out, "alpha.png"))
    rgb.quantize(64).save(os.path.join(out, "palette.png"))
    rgb.quantize(64).save(os.path.join(out, "anim.gif"))
    rgb.save(os.path.join(out, "plain.png"))


if __name__ == "__main__":
    main()
