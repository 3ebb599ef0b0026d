"""Prints torchvision's top ImageNet class index for an image.

usage: classify.py ARCH WEIGHTS.pth SIZE IMAGE
"""
import sys

import torch
import torchvision
from PIL import Image
from torchvision import transforms


def main():
    arch, weights, size, image = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    model = getattr(torchvision.models, arch)()
    model.load_state_dict(torch.load(weights))
    model.eval()
    tf = transforms.Compose([
        transforms.Resize((size, size)),
        transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    with torch.no_grad():
        x = tf(Image.open(image).convert("RGB")).unsqueeze(0)
        print(int(model(x).argmax(1)[0]))


if __name__ == "__main__":
    main()
