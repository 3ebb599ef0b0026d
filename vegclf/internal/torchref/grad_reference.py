"""One training step's loss and gradients of a torchvision model with the tutorial's head, the reference
for the gradients of vegclf's architectures.

usage: grad_reference.py ARCH HEAD OUTDIR NCLASSES BATCH SIZE SEED

HEAD is the module the head replaces ("fc", "classifier.3"). The model has random weights with batch norms
that look trained (common.realistic_batchnorm), and the tutorial's head Sequential(Linear(F, 128), ReLU,
Linear(128, NCLASSES)) in place of HEAD. It runs in train mode (batch statistics) with dropout and
stochastic depth off. The step is computed in float64 from the float32 state_dict and images: the gradients
are the exact ones (rounded to float32), so that a test measures its own float32 error only, not torch's as
well (which for EfficientNet's squeeze-excitations, whose gradients are sums that cancel, is 7e-5 of the
largest value).

OUTDIR gets:
  init.pth    the state_dict before the step
  input.bin   float32 [BATCH, SIZE, SIZE, 3] (channels last) random images
  labels.bin  int32 [BATCH] random labels
  loss.json   {"loss": the cross-entropy}
  grads.pth   the gradient of every parameter, by its state_dict name
"""
import json
import os
import sys

import torch
import torchvision

from common import at_size, nondefault, realistic_batchnorm


def main():
    arch, head, out = sys.argv[1], sys.argv[2], sys.argv[3]
    n, batch, size, seed = (int(v) for v in sys.argv[4:8])
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    model = getattr(torchvision.models, arch)()
    nondefault(model)
    realistic_batchnorm(at_size(model, arch, size), size, batch)
    parent_name, _, child = head.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    features = getattr(parent, child).in_features if not child.isdigit() else parent[int(child)].in_features
    new_head = torch.nn.Sequential(torch.nn.Linear(features, 128), torch.nn.ReLU(), torch.nn.Linear(128, n))
    if child.isdigit():
        parent[int(child)] = new_head
    else:
        setattr(parent, child, new_head)
    torch.save(model.state_dict(), os.path.join(out, "init.pth"))  # At the native size.
    model = at_size(model, arch, size)

    x = torch.randn(batch, 3, size, size)
    labels = torch.randint(0, n, (batch,))
    x.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(os.path.join(out, "input.bin"))
    labels.numpy().astype("<i4").tofile(os.path.join(out, "labels.bin"))
    model.double()
    model.train()
    for m in model.modules():
        if isinstance(m, (torch.nn.Dropout, torchvision.ops.StochasticDepth)):
            m.eval()
    loss = torch.nn.CrossEntropyLoss()(model(x.double()), labels)
    loss.backward()
    with open(os.path.join(out, "loss.json"), "w") as f:
        json.dump({"loss": loss.item()}, f)
    torch.save({name: p.grad.float() for name, p in model.named_parameters()}, os.path.join(out, "grads.pth"))


if __name__ == "__main__":
    main()
