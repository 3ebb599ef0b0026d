"""torch's gradient clipping, the reference for vegclf's --clip-grad and --clip-mode.

usage: clip_reference.py DIR MAX_NORM MAX_VALUE

DIR holds shapes.json (a list of the gradients' shapes, in order) and grads.bin (their float32 values,
little-endian, one after the other, each row-major). The script gives each gradient to a parameter of that
shape and clips them as a training loop does before optimizer.step(), writing:
  norm.bin   the gradients after torch.nn.utils.clip_grad_norm_(params, MAX_NORM) (norm_type 2)
  value.bin  the gradients after torch.nn.utils.clip_grad_value_(params, MAX_VALUE)
and prints JSON {"total_norm": the norm clip_grad_norm_ returned}.
"""
import json
import os
import sys

import numpy as np
import torch


def params(shapes, flat):
    out, offset = [], 0
    for shape in shapes:
        n = int(np.prod(shape)) if shape else 1
        p = torch.nn.Parameter(torch.zeros(shape))
        p.grad = torch.from_numpy(flat[offset:offset + n].copy()).reshape(shape)
        out.append(p)
        offset += n
    assert offset == len(flat), (offset, len(flat))
    return out


def main():
    folder, max_norm, max_value = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    with open(os.path.join(folder, "shapes.json")) as f:
        shapes = json.load(f)
    flat = np.fromfile(os.path.join(folder, "grads.bin"), dtype="<f4")
    ps = params(shapes, flat)
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    torch.cat([p.grad.flatten() for p in ps]).numpy().astype("<f4").tofile(os.path.join(folder, "norm.bin"))
    ps = params(shapes, flat)
    torch.nn.utils.clip_grad_value_(ps, max_value)
    torch.cat([p.grad.flatten() for p in ps]).numpy().astype("<f4").tofile(os.path.join(folder, "value.bin"))
    json.dump({"total_norm": total.item()}, sys.stdout)


if __name__ == "__main__":
    main()
