"""Times PyTorch's data loading as the tutorial loads images: ImageFolder over DATA/train with
Resize((SIZE, SIZE)), ToTensor, Normalize, through a DataLoader of WORKERS worker processes, one pass.

usage: bench_loading.py DATA SIZE WORKERS BATCH
Prints {"data_loading_images_per_second": ...} as JSON.
"""
import json
import os
import sys
import time

import torch
from torchvision import datasets

import bench_torch_steps


def main():
    data, size, workers, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    train = datasets.ImageFolder(os.path.join(data, "train"), bench_torch_steps.tutorial_transform(size))
    loader = torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, num_workers=workers)
    t0 = time.perf_counter()
    count = sum(len(labels) for _, labels in loader)
    print(json.dumps({"data_loading_images_per_second": count / (time.perf_counter() - t0)}))


if __name__ == "__main__":
    main()
