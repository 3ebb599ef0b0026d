"""The tutorial's loop in PyTorch for one fine-tuning epoch, the reference for bench.sh's one-epoch CLI measure.

usage: bench_cli_epoch.py DATA ARCH SIZE BATCH WEIGHTS.pth OUTDIR

What 'vegclf train --frozen-epochs 0 --finetune-epochs 1' does, as the tutorial writes it: torchvision's
ARCH with the tutorial's head, the backbone's weights from WEIGHTS.pth (its classifier dropped), one epoch
of fine-tuning (all layers, Adam 1e-5, model.train()) over DATA/train in shuffled batches, the test split's
accuracy and loss, the best checkpoint saved with torch.save to OUTDIR/best.pth and read back, its
validation accuracy and loss, and the predictions of one validation image per class. Threads: the core
count. bench.sh times the whole process (Python's start and the imports included), as it times vegclf's.
"""
import os
import sys

import torch

import bench_torch_steps


def main():
    data, arch, size, batch, weights, out = sys.argv[1:7]
    size, batch = int(size), int(batch)
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    train_set, test_set, val_set = bench_torch_steps.tutorial_splits(data, size)
    model = bench_torch_steps.make_model(arch, len(train_set.classes))
    state = torch.load(weights, map_location="cpu")
    head = [n for n, _ in model.named_parameters() if n.startswith("fc.")]  # The new head's, not the file's.
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or sorted(missing) != sorted(head):
        sys.exit(f"weights {weights}: missing {missing}, unexpected {unexpected}")
    workers = os.cpu_count()
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch, shuffle=True, num_workers=workers)
    criterion = torch.nn.CrossEntropyLoss()

    def evaluate(split):
        loader = torch.utils.data.DataLoader(split, batch_size=batch, num_workers=workers)
        return bench_torch_steps.evaluate(model, loader, criterion)

    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    bench_torch_steps.train_epoch(model, train_loader, opt, criterion)
    acc, loss = evaluate(test_set)
    print(f"Epoch 1 - Test accuracy: {100 * acc:.2f}%, Test loss: {loss:.6f}")
    best = os.path.join(out, "best.pth")
    torch.save(model.state_dict(), best)
    model.load_state_dict(torch.load(best, map_location="cpu"))
    acc, loss = evaluate(val_set)
    print(f"Validation: {100 * acc:.2f}%, {loss:.6f}")
    seen = set()
    model.eval()
    with torch.no_grad():
        for path, label in val_set.samples:
            if label in seen:
                continue
            seen.add(label)
            probs = torch.softmax(model(val_set[val_set.samples.index((path, label))][0][None]), 1)[0]
            print(path, val_set.classes[int(probs.argmax())], f"{100 * float(probs.max()):.2f}%")


if __name__ == "__main__":
    main()
