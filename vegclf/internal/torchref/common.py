"""Helpers shared by the reference scripts."""
import torch


def realistic_batchnorm(model, size, batch):
    """Gives a randomly initialized torchvision model batch norms that look trained: random affine
    parameters, and running statistics from three train-mode passes on random inputs."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
        model.train()
        for _ in range(3):
            model(torch.randn(batch, 3, size, size))
