"""Writes a torchvision model with random weights and its outputs, the reference for vegclf's architectures.

usage: model_reference.py ARCH OUTDIR BATCH SIZE SEED

OUTDIR gets:
  weights.pth      the state_dict, saved with torch.save (random weights, batch-norm statistics from
                   three train-mode passes, random batch-norm affine parameters; random LayerNorm
                   affine parameters and layer scales: common.realistic_batchnorm)
  input.bin        float32 [BATCH, SIZE, SIZE, 3] (channels last) random input
  eval.bin         float32 [BATCH, 1000] logits in eval mode
  train.bin        float32 [BATCH, 1000] logits of one train-mode forward (batch statistics; dropout and stochastic depth off)
  after_train.pth  the state_dict after that forward (updated running statistics)

The forward passes run on $VEGCLF_TORCH_DEVICE (default cpu; cuda for the GPU check), in exact float32
(TF32 off); the files hold CPU tensors either way.
"""
import os
import sys

import torch
import torchvision

from common import at_size, nondefault, realistic_batchnorm


def main():
    arch, out, batch, size, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    model = getattr(torchvision.models, arch)()
    nondefault(model)
    realistic_batchnorm(at_size(model, arch, size), size, batch)
    device = os.environ.get("VEGCLF_TORCH_DEVICE", "cpu")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.no_grad():
        torch.save(model.state_dict(), os.path.join(out, "weights.pth"))  # At the native size.
        model = at_size(model, arch, size)
        x = torch.randn(batch, 3, size, size)
        x.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(os.path.join(out, "input.bin"))
        model.to(device)
        xd = x.to(device)
        model.eval()
        model(xd).cpu().numpy().astype("<f4").tofile(os.path.join(out, "eval.bin"))
        model.train()
        for m in model.modules():
            if isinstance(m, (torch.nn.Dropout, torchvision.ops.StochasticDepth)):
                m.eval()
        model(xd).cpu().numpy().astype("<f4").tofile(os.path.join(out, "train.bin"))
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, os.path.join(out, "after_train.pth"))


if __name__ == "__main__":
    main()
