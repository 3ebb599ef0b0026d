"""Writes Pillow's decoding of images, the reference for vegclf's decoder: Image.open(p).convert("RGB").

usage: decode.py OUT IMAGE...
OUT gets, for each image, its width and height (two little-endian uint32) and its RGB pixels, row by row.
"""
import struct
import sys

from PIL import Image


def main():
    out, paths = sys.argv[1], sys.argv[2:]
    with open(out, "wb") as f:
        for p in paths:
            with open(p, "rb") as fh:
                img = Image.open(fh).convert("RGB")
            f.write(struct.pack("<II", img.width, img.height))
            f.write(img.tobytes())


if __name__ == "__main__":
    main()
