"""Times the tutorial's model steps in PyTorch on one device, the reference for 'vegclf bench --steps-only'.

usage: bench_torch_steps.py ARCH SIZE BATCH DEVICE PRECISION MODE OUT.json

DEVICE is cpu or cuda; PRECISION float32 or bfloat16 (torch.autocast, float32 weights: the same mixed
precision as vegclf's); MODE eager or compile (torch.compile of the model; where it fails, OUT.json
says why and has no figures). Measures inference images/s (eval mode), a frozen-phase training step
(backbone frozen, model.train() as the tutorial), a fine-tuning step, and the peak device memory, on
random data with the tutorial's head and Adam, synchronizing the device around every timed call.

Also the tutorial's pieces that the other benchmarks (bench_torch.py, bench_cli_epoch.py, bench_loading.py)
share: its transform and splits, its model, its training epoch and its evaluation.
"""
import contextlib
import json
import os
import statistics
import sys
import time

import torch
import torchvision


def timed(fn, sync, repeats, warmups):
    for _ in range(warmups):  # Warm-up (and compilation).
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tutorial_transform(size):
    """Returns the tutorial's transform: Resize((size, size)), ToTensor, Normalize with mean and std 0.5."""
    from torchvision import transforms

    return transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])


def tutorial_splits(data, size):
    """Returns the tutorial's train, test and validation ImageFolders of data, under tutorial_transform(size)."""
    from torchvision import datasets

    tf = tutorial_transform(size)
    return tuple(datasets.ImageFolder(os.path.join(data, split), tf) for split in ("train", "test", "validation"))


def train_epoch(model, loader, opt, criterion):
    """Trains model for one epoch as the tutorial does: model.train(), then for each batch of loader
    zero_grad, the loss under criterion, backward and opt's step."""
    model.train()
    for xb, yb in loader:
        opt.zero_grad()
        criterion(model(xb), yb).backward()
        opt.step()


def evaluate(model, loader, criterion):
    """Returns model's accuracy on loader's dataset and its loss under criterion (the mean of the batches'),
    in eval mode and under torch.no_grad() as the tutorial's evaluation."""
    model.eval()
    correct, losses = 0, []
    with torch.no_grad():
        for xb, yb in loader:
            out = model(xb)
            losses.append(criterion(out, yb).item())
            correct += (out.argmax(1) == yb).sum().item()
    return correct / len(loader.dataset), sum(losses) / len(losses)


def train_only_head(model, only_head):
    """Sets which of model's parameters train: only its head's (the frozen phase) or all (fine-tuning)."""
    for p in model.parameters():
        p.requires_grad = not only_head
    for p in model.head.parameters():
        p.requires_grad = True


def make_model(arch, classes):
    """torchvision's model with the tutorial's head in place of its last Linear (a ResNet's fc, a
    MobileNetV3's classifier[3], ...)."""
    m = getattr(torchvision.models, arch)()
    name, last = [(n, mod) for n, mod in m.named_modules() if isinstance(mod, torch.nn.Linear)][-1]
    parent_name, _, child = name.rpartition(".")
    parent = m.get_submodule(parent_name) if parent_name else m
    head = torch.nn.Sequential(torch.nn.Linear(last.in_features, 128), torch.nn.ReLU(), torch.nn.Linear(128, classes))
    if child.isdigit():
        parent[int(child)] = head
    else:
        setattr(parent, child, head)
    object.__setattr__(m, "head", head)  # Not registered twice as a submodule.
    return m


def time_steps(model, net, x, y, sync, repeats, warmups=1, autocast=None):
    """Images/s of inference (eval mode), of a frozen-phase step (backbone frozen, model.train() as the
    tutorial) and of a fine-tuning step, with Adam; net is model or its compiled version."""
    autocast = autocast or contextlib.nullcontext()
    criterion = torch.nn.CrossEntropyLoss()
    batch = x.shape[0]
    results = {}
    model.eval()

    def infer():
        with torch.no_grad(), autocast:
            net(x)

    results["inference_images_per_second"] = batch / timed(infer, sync, repeats, warmups)
    train_only_head(model, True)
    opt = torch.optim.Adam(model.head.parameters(), lr=1e-4)
    model.train()

    def step():
        opt.zero_grad()
        with autocast:
            loss = criterion(net(x), y)
        loss.backward()
        opt.step()

    results["frozen_step_images_per_second"] = batch / timed(step, sync, repeats, warmups)
    train_only_head(model, False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    reset_peak_rss()
    results["finetune_step_images_per_second"] = batch / timed(step, sync, repeats, warmups)
    peak = peak_rss_mb()
    if peak:
        results["finetune_peak_rss_mb"] = peak
    return results


def reset_peak_rss():
    """Restarts Linux's count of the process's peak resident memory (clear_refs), where it can."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb():
    """The process's peak resident memory (VmHWM) in MB, or None where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main():
    arch, size, batch, device, precision, mode, out = sys.argv[1:8]
    size, batch = int(size), int(batch)
    torch.manual_seed(0)
    if device == "cpu":
        torch.set_num_threads(os.cpu_count())
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    results = {"torch": torch.__version__, "device": device, "precision": precision, "mode": mode}
    model = make_model(arch, 15).to(device)
    if device == "cuda":
        results["gpu"] = torch.cuda.get_device_name()
        torch.cuda.reset_peak_memory_stats()
    net = model
    if mode == "compile":
        try:
            net = torch.compile(model)
        except Exception as e:  # noqa: BLE001 - reported, not hidden.
            results["error"] = f"torch.compile: {e}"
            json.dump(results, open(out, "w"), indent=2)
            return
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bfloat16")
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 15, (batch,), device=device)
    try:
        results.update(time_steps(model, net, x, y, sync, 20 if device == "cuda" else 3, 3, autocast))
        if device == "cuda":
            results["peak_device_mb"] = torch.cuda.max_memory_allocated() / 2**20
    except Exception as e:  # noqa: BLE001 - torch.compile fails late on some setups; say so.
        results["error"] = f"{mode} {precision}: {type(e).__name__}: {e}"[:2000]
    with open(out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
