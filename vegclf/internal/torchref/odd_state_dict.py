"""Writes a state_dict with the storage layouts torch.save produces beyond plain float32 tensors.

usage: odd_state_dict.py OUT.pth
Tensors (values are 0, 1, 2, ... in row-major order of the saved tensor):
  transposed  float32 [3, 2], a transposed view (non-contiguous strides) of a [2, 3] tensor
  sliced      float32 [2], a view at a non-zero storage offset
  half        float16 [4]
  double      float64 [2, 2]
  counter     int64 scalar 7
"""
import sys
from collections import OrderedDict

import torch


def main():
    base = torch.arange(6, dtype=torch.float32).reshape(3, 2).t().contiguous()  # [[0,2,4],[1,3,5]]
    transposed = base.t()  # [[0,1],[2,3],[4,5]], strides (1, 3)
    assert not transposed.is_contiguous()
    sliced = torch.arange(10, dtype=torch.float32)[3:5] - 3  # [0, 1] at storage offset 3
    sd = OrderedDict([
        ("transposed", transposed),
        ("sliced", sliced),
        ("half", torch.arange(4, dtype=torch.float16)),
        ("double", torch.arange(4, dtype=torch.float64).reshape(2, 2)),
        ("counter", torch.tensor(7, dtype=torch.int64)),
    ])
    torch.save(sd, sys.argv[1])


if __name__ == "__main__":
    main()
