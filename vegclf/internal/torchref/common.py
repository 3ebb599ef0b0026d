"""Helpers shared by the reference scripts."""
import torch


def realistic_batchnorm(model, size, batch):
    """Gives a randomly initialized torchvision model batch norms that look trained: random affine
    parameters, and running statistics from three train-mode passes on random inputs. A model without batch
    norms is left as it is."""
    if not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()):
        return
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
        model.train()
        for _ in range(3):
            model(torch.randn(batch, 3, size, size))


def nondefault(model):
    """Sets a randomly initialized torchvision model's parameters that start at constants away from them, so
    that parity tests exercise them: LayerNorms' affine parameters, Linears initialized to zero (ViT's
    head), the class token, ConvNeXt's layer scales (initially 1e-6, which would leave the residual branches
    out: values in [2, 5), so that every block's branch is a sizeable part of its output)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
            elif isinstance(m, torch.nn.Linear) and m.weight.abs().max() == 0:
                m.weight.normal_(0, 0.02)
                m.bias.normal_(0, 0.01)
            if isinstance(getattr(m, "layer_scale", None), torch.nn.Parameter):
                m.layer_scale.uniform_(2, 5)
        for name, p in model.named_parameters():
            if name == "class_token":
                p.normal_(0, 0.1)


def at_size(model, arch, size):
    """The model at image size SIZE: itself, or for a Vision Transformer, a copy for that size with the
    position embeddings interpolated as torchvision's interpolate_embeddings does."""
    if not arch.startswith("vit") or size == model.image_size:
        return model
    import copy
    from torchvision.models.vision_transformer import interpolate_embeddings
    resized = copy.deepcopy(model)
    state = interpolate_embeddings(size, model.patch_size, {"encoder.pos_embedding": model.encoder.pos_embedding.detach()})
    resized.encoder.pos_embedding = torch.nn.Parameter(state["encoder.pos_embedding"])
    resized.image_size = size
    return resized
