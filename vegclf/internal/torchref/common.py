"""Helpers shared by the reference scripts."""
import torch


def realistic_batchnorm(model, size, batch):
    """Gives a randomly initialized torchvision model batch norms that look trained: random affine
    parameters, and running statistics from three train-mode passes on random inputs. Its other
    normalizations look trained too (a ConvNeXt's, which has no batch norm): LayerNorms get random affine
    parameters, and layer scales (initially 1e-6, which would leave the residual branches out) values in
    [2, 5), so that every block's branch is a sizeable part of its output. Models without them draw the
    same numbers as before."""
    with torch.no_grad():
        batch_norms = False
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                batch_norms = True
            elif isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
            if isinstance(getattr(m, "layer_scale", None), torch.nn.Parameter):
                m.layer_scale.uniform_(2, 5)
        if not batch_norms:
            return
        model.train()
        for _ in range(3):
            model(torch.randn(batch, 3, size, size))
