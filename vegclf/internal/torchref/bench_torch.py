"""Times the PyTorch tutorial's pieces on a dataset, the reference for 'vegclf bench'.

usage: bench_torch.py DATA ARCH SIZE BATCH FROZEN_EPOCHS FINETUNE_EPOCHS OUT.json

Measures, with torch's threads set to the core count: inference images/s (eval mode), a frozen-phase
training step (backbone frozen, model.train() as the tutorial), a fine-tuning step, data loading
(ImageFolder + DataLoader), the peak resident memory of the fine-tuning steps, and the wall time of the
tutorial's whole recipe on DATA (FROZEN_EPOCHS + FINETUNE_EPOCHS epochs over train and test, then
validation of the best checkpoint).
"""
import copy
import json
import os
import resource
import sys
import time

import torch

import bench_torch_steps


def main():
    data, arch, size, batch, frozen_epochs, finetune_epochs, out = sys.argv[1:8]
    size, batch, frozen_epochs, finetune_epochs = int(size), int(batch), int(frozen_epochs), int(finetune_epochs)
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    train_set, test_set, val_set = bench_torch_steps.tutorial_splits(data, size)
    n = len(train_set.classes)

    def make_model():
        return bench_torch_steps.make_model(arch, n)

    results = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    model = make_model()
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, n, (batch,))
    criterion = torch.nn.CrossEntropyLoss()
    results.update(bench_torch_steps.time_steps(model, model, x, y, lambda: None, 3))
    # The fine-tuning steps' own peak where Linux can tell it (vegclf bench measures its own so), else the process's.
    results["peak_rss_mb"] = results.pop("finetune_peak_rss_mb", None) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    loader = torch.utils.data.DataLoader(train_set, batch_size=batch, shuffle=True, num_workers=os.cpu_count())
    t0 = time.perf_counter()
    count = sum(len(b[1]) for b in loader)
    results["data_loading_images_per_second"] = count / (time.perf_counter() - t0)

    # The tutorial's whole recipe.
    t0 = time.perf_counter()
    model = make_model()
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch, shuffle=True, num_workers=os.cpu_count())
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=batch, num_workers=os.cpu_count())
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=batch, num_workers=os.cpu_count())
    best = (-1, None)

    def run(epochs, opt):
        nonlocal best
        for _ in range(epochs):
            bench_torch_steps.train_epoch(model, train_loader, opt, criterion)
            acc, _ = bench_torch_steps.evaluate(model, test_loader, criterion)
            if acc > best[0]:
                best = (acc, copy.deepcopy(model.state_dict()))

    bench_torch_steps.train_only_head(model, True)
    run(frozen_epochs, torch.optim.Adam(model.head.parameters(), lr=1e-4))
    bench_torch_steps.train_only_head(model, False)
    run(finetune_epochs, torch.optim.Adam(model.parameters(), lr=1e-5))
    model.load_state_dict(best[1])
    bench_torch_steps.evaluate(model, val_loader, criterion)
    results["recipe_seconds"] = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
