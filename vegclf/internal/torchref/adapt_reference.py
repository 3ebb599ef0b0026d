"""timm's adapt_input_conv on a torchvision checkpoint, the reference for vegclf's --in-channels with
pretrained weights (weights.AdaptInputConv).

usage: adapt_reference.py ARCH STEM OUTDIR SEED CHANNELS...

Builds torchvision's ARCH (random weights, seeded) and writes OUTDIR/model.pth (its state_dict, torch.save,
as torchvision publishes its weights) and, for each C in CHANNELS, OUTDIR/stem_C.bin: the float32 values of
the stem's kernel STEM ([out, C, kh, kw], row-major) as timm adapts it for in_chans=C.

adapt_input_conv below is timm's (timm/models/_manipulate.py, timm 0.9; timm/models/helpers.py before),
which timm applies to a pretrained first convolution when a model is created with in_chans != 3; timm is
not installed here, so its formula is written out.
"""
import math
import os
import sys

import torch
import torchvision


def adapt_input_conv(in_chans, conv_weight):
    conv_type = conv_weight.dtype
    conv_weight = conv_weight.float()  # Some weights are in torch.half, ensure it's float for sum on CPU
    O, I, J, K = conv_weight.shape
    if in_chans == 1:
        if I > 3:
            assert conv_weight.shape[1] % 3 == 0
            # For models with space2depth stems
            conv_weight = conv_weight.reshape(O, I // 3, 3, J, K)
            conv_weight = conv_weight.sum(dim=2, keepdim=False)
        else:
            conv_weight = conv_weight.sum(dim=1, keepdim=True)
    elif in_chans != 3:
        if I != 3:
            raise NotImplementedError('Weight format not supported by conversion.')
        else:
            # NOTE this strategy should be better than random init, but there could be other combinations of
            # the original RGB input layer weights that'd work better for specific cases.
            repeat = int(math.ceil(in_chans / 3))
            conv_weight = conv_weight.repeat(1, repeat, 1, 1)[:, :in_chans, :, :]
            conv_weight *= (3 / float(in_chans))
    conv_weight = conv_weight.to(conv_type)
    return conv_weight


def main():
    arch, stem, out, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)()
    state = model.state_dict()
    torch.save(state, os.path.join(out, "model.pth"))
    for c in (int(v) for v in sys.argv[5:]):
        adapted = adapt_input_conv(c, state[stem].clone())
        assert adapted.shape[1] == c
        adapted.contiguous().numpy().astype("<f4").tofile(os.path.join(out, "stem_%d.bin" % c))


if __name__ == "__main__":
    main()
