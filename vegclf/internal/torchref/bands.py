"""Pillow's and torchvision's reading of images as 1, 2 or 4 bands, the reference for vegclf's --in-channels
(rgb.DecodeBands, data.Transform.ApplyBands).

usage: bands.py make DIR
    Writes images with alpha of the kinds DecodeBands reads it from: gray and alpha (LA) PNG, RGBA TIFF,
    a palette PNG with a transparent entry, and a grayscale PNG and TIFF.
usage: bands.py OUT MODE SIZE MEAN0,MEAN1,MEAN2 STD0,STD1,STD2 IMAGE...
    MODE is L, LA or RGBA. OUT gets, for each image, its width and height (two little-endian uint32), its
    pixels Image.open(p).convert(MODE) (row by row, bands interleaved), then the float32 little-endian
    values [SIZE, SIZE, C] (channels last) of:
      L:        torchvision's Compose([Resize((SIZE, SIZE)), ToTensor(), Normalize(mean, std)]) on the L
                image, mean and std the averages of the three given (vegclf's grayscale statistics);
      LA, RGBA: each band resized on its own as an L image (Resize((SIZE, SIZE)), bilinear), merged,
                ToTensor(), Normalize with channel c's statistics those of RGB channel c % 3. (Pillow's
                resize of an LA or RGBA image premultiplies alpha; vegclf's bands are data, not transparency.)
"""
import os
import struct
import sys

import numpy as np
from PIL import Image
from torchvision import transforms


def make(out):
    os.makedirs(out, exist_ok=True)
    h, w = 83, 117
    yy, xx = np.mgrid[0:h, 0:w]
    gray = Image.fromarray(((xx * 7 + yy * 3) % 256).astype(np.uint8), "L")
    alpha = Image.fromarray(((xx * 255) // w).astype(np.uint8), "L")
    rgb = Image.fromarray(np.stack([(xx * 255 // w), (yy * 255 // h), ((xx * yy) % 251)], axis=-1).astype(np.uint8), "RGB")
    la = gray.copy()
    la.putalpha(alpha)
    la.save(os.path.join(out, "gray_alpha.png"))
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    rgba.save(os.path.join(out, "rgba.tiff"))
    gray.save(os.path.join(out, "gray.png"))
    gray.save(os.path.join(out, "gray.tiff"))
    pal = rgb.quantize(32)
    pal.info["transparency"] = 3
    pal.save(os.path.join(out, "palette_transparent.png"), transparency=3)


def main():
    if sys.argv[1] == "make":
        make(sys.argv[2])
        return
    out, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mean3 = [float(v) for v in sys.argv[4].split(",")]
    std3 = [float(v) for v in sys.argv[5].split(",")]
    c = len(mode)
    if c == 1:
        mean, std = [sum(mean3) / 3], [sum(std3) / 3]
    else:
        mean, std = [mean3[k % 3] for k in range(c)], [std3[k % 3] for k in range(c)]
    # The float32 statistics vegclf computes with: its float32 values averaged in float32.
    if c == 1:
        m = np.float32(np.float32(mean3[0]) + np.float32(mean3[1])) + np.float32(mean3[2])
        s = np.float32(np.float32(std3[0]) + np.float32(std3[1])) + np.float32(std3[2])
        mean, std = [float(np.float32(m / np.float32(3)))], [float(np.float32(s / np.float32(3)))]
    resize = transforms.Resize((size, size))
    tail = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    with open(out, "wb") as f:
        for p in sys.argv[6:]:
            with open(p, "rb") as fh:
                img = Image.open(fh).convert(mode)
            f.write(struct.pack("<II", img.width, img.height))
            f.write(img.tobytes())
            if c == 1:
                resized = resize(img)
            else:
                resized = Image.merge(mode, [resize(band) for band in img.split()])
            x = tail(resized).permute(1, 2, 0).contiguous().numpy().astype("<f4")
            f.write(x.tobytes())


if __name__ == "__main__":
    main()
