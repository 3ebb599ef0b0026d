"""Writes Pillow's and torchvision's resizing of images, the reference for vegclf's rgb.ResizeFilter.

usage: resize.py FILTER[,FILTER...] IMAGE...
FILTER is bilinear or bicubic. Standard output gets, for each image: its width and height (two
little-endian uint32) and its pixels as Pillow decodes them (Image.open(p).convert("RGB"), row by row);
the number of sizes it is resized to (uint32); then for each size, its width and height (two uint32)
and, for each FILTER in turn, Image.resize((w, h), FILTER)'s pixels and torchvision's
transforms.Resize((h, w), FILTER)'s pixels.
The sizes shrink and enlarge, each side by its own factor, or one side alone.
"""
import struct
import sys

from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

FILTERS = {
    "bilinear": (Image.BILINEAR, InterpolationMode.BILINEAR),
    "bicubic": (Image.BICUBIC, InterpolationMode.BICUBIC),
}


def sizes(w, h):
    return [
        (224, 224),  # Squashed to a square, as Transform does without Resize.
        (w * 4 // 3 + 1, h * 6 // 5 + 3),  # Enlarged, by other factors across and down.
        (max(w // 3, 1), h + 17),  # Shrunk across, enlarged down.
        (w, max(h // 2, 1)),  # The vertical pass alone.
        (w * 5 // 4 + 1, h),  # The horizontal pass alone.
        (7, 5),  # Shrunk to a few pixels: the filter spans many.
        (w, h),  # Unchanged: a copy.
    ]


def main():
    filters = [FILTERS[name] for name in sys.argv[1].split(",")]
    out = sys.stdout.buffer
    for p in sys.argv[2:]:
        with open(p, "rb") as fh:
            img = Image.open(fh).convert("RGB")
        out.write(struct.pack("<II", img.width, img.height))
        out.write(img.tobytes())
        todo = sizes(img.width, img.height)
        out.write(struct.pack("<I", len(todo)))
        for w, h in todo:
            out.write(struct.pack("<II", w, h))
            for pil_filter, tv_filter in filters:
                pil = img.resize((w, h), pil_filter)
                tv = transforms.Resize((h, w), interpolation=tv_filter)(img)
                assert pil.size == tv.size == (w, h), (p, w, h, pil.size, tv.size)
                out.write(pil.tobytes())
                out.write(tv.tobytes())
    out.flush()


if __name__ == "__main__":
    main()
