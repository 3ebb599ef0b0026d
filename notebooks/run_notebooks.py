"""Executes the notebooks headless with the real GoNB kernel and checks every cell's outputs.

usage: /usr/bin/python3 notebooks/run_notebooks.py OUTDIR

nbconvert alone lets a Go panic or os.Exit pass (GoNB reports them only as "exit status N" on stderr), so
each cell's outputs are checked here: no error output, no "exit status"/"signal:"/"panic:" on stderr, and
the tutorial's expected outputs are present (the sample grid, the curves, the report lines, validation, the
evaluation pictures, the predictions). The executed notebooks are written to OUTDIR. The notebooks run on a
small generated dataset, from random initialization, at a small image size (environment overrides).
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


VEGCLF = None  # The vegclf command main builds.


def outputs(cell, kind=None):
    for out in cell.get("outputs", []):
        if kind is None or out.get("output_type") == kind:
            yield out


def text_of(cell, stream):
    return "".join(o.get("text", "") for o in outputs(cell, "stream") if o.get("name") == stream)


def mime_count(cell, mime):
    return sum(1 for o in outputs(cell) if mime in o.get("data", {}))


def html_of(cell):
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs(cell))


def check_cells(nb, name):
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in outputs(cell, "error"):
            problems.append(f"{name} cell {i}: error {out.get('ename')}: {out.get('evalue')}")
        err = text_of(cell, "stderr")
        for marker in ("exit status", "signal:", "panic:"):
            if marker in err:
                problems.append(f"{name} cell {i}: stderr has {marker!r}:\n{err[-2000:]}")
    return problems


def check_tutorial(nb):
    """The tutorial's expected outputs, found by the cells' content."""
    problems = []

    def cell_with(snippet):
        for c in nb.cells:
            if c.cell_type == "code" and snippet in c.source:
                return c
        problems.append(f"tutorial: no cell with {snippet!r}")
        return {"outputs": []}

    # Thin cells: each step is a line or two over the shared session; the work lives in the library.
    for c in nb.cells:
        if c.cell_type == "code" and c.source.startswith("%%"):
            lines = [l for l in c.source.splitlines()[1:] if l.strip()]
            if len(lines) > 2:
                problems.append(f"tutorial: a cell of {len(lines)} lines: {c.source[:80]!r}")
    backend = cell_with("session().Describe()")
    if "Backend: go" not in text_of(backend, "stdout") or "Devices: 1 " not in text_of(backend, "stdout"):
        problems.append("tutorial: the backend cell does not say which backend runs on how many devices")
    data = cell_with("session().ShowData(")
    if mime_count(data, "image/png") < 1 or "classes:" not in text_of(data, "stdout"):
        problems.append("tutorial: no sample grid (image/png) or class list")
    model = cell_with("session().ShowModel()")
    if "random initialization" not in text_of(model, "stdout") and "Pretrained weights:" not in text_of(model, "stdout"):
        problems.append("tutorial: the model cell does not say which weights it uses")
    archs = cell_with("notebook.ShowArchitectures(")
    if "mobilenet_v3_large" not in html_of(archs) or "<table" not in html_of(archs) or "resnet50" not in text_of(archs, "stdout"):
        problems.append("tutorial: the architectures cell shows no table of the registered architectures")
    training = cell_with("session().Train()")
    out = text_of(training, "stdout")
    if "Epoch  1 - Train accuracy:" not in out or "Fine-tuning:" not in out:
        problems.append(f"tutorial: no report lines in the training cell:\n{out[-1500:]}")
    if "<svg" not in html_of(training) or "cross-entropy" not in html_of(training):
        problems.append("tutorial: no live training curves (SVG) in the training cell")
    validation = cell_with("session().Validate()")
    if "Validation: " not in text_of(validation, "stdout") or "<svg" not in html_of(validation):
        problems.append("tutorial: no validation line or curves")
    evaluation = cell_with("session().ShowEvaluation(")
    if mime_count(evaluation, "image/png") < 1 or "Accuracy:" not in text_of(evaluation, "stdout"):
        problems.append("tutorial: no confusion matrix picture")
    predictions = cell_with("session().ShowPredictions(")
    if mime_count(predictions, "image/png") < 3 or "%" not in text_of(predictions, "stdout"):
        problems.append("tutorial: fewer than 3 prediction pictures")
    augmented = cell_with("session().ShowAugmented(")
    if mime_count(augmented, "image/png") < 1:
        problems.append("tutorial: no grid of augmented images")
    sched = cell_with("session().ShowSchedule()")
    if "<svg" not in html_of(sched) or "Learning rate per step (cosine," not in html_of(sched):
        problems.append("tutorial: the learning-rate schedule is not drawn")
    mixed = cell_with("session().ShowMixed(")
    if mime_count(mixed, "image/png") < 1:
        problems.append("tutorial: no grid of mixup/cutmix images")
    if "Mixing images: mixup 0.8, cutmix 1" not in out:
        problems.append("tutorial: the training cell did not mix images although VEGCLF_MIXUP and VEGCLF_CUTMIX are set")
    lrfind = cell_with(".FindLR(")
    if "<svg" not in html_of(lrfind) or "LR finder (finetune" not in html_of(lrfind) or \
            "Suggested learning rate:" not in text_of(lrfind, "stdout"):
        problems.append("tutorial: the LR finder's plot or suggestion is missing")
    model = cell_with("session().ShowModel()")
    if "images 40x40, batch 4" not in text_of(model, "stdout"):
        problems.append(f"tutorial: the flags after the model cell's %% were not applied: {text_of(model, 'stdout')!r}")
    # Those flags held for that cell only: the run the training cell made has the environment's settings.
    with open(os.path.join(os.environ["VEGCLF_RUN"], "config.json")) as f:
        saved = json.load(f)
    if saved.get("batch") != 8 or saved.get("image_size") != 32:
        problems.append(f"tutorial: the run's config has batch {saved.get('batch')}, image size {saved.get('image_size')}; want the environment's 8 and 32")
    gradcam = cell_with("session().ShowGradCAM(")
    if mime_count(gradcam, "image/png") < 2 or "Grad-CAM of" not in text_of(gradcam, "stdout"):
        problems.append("tutorial: no Grad-CAM pictures")
    return problems


def check_experiments(nb):
    problems = []
    cell = next((c for c in nb.cells if c.cell_type == "code" and "CompareRuns" in c.source), {"outputs": []})
    html = html_of(cell)
    if html.count("<svg") < 2 or '<table class="vegclf-runs">' not in html or html.count("<tr>") != 3:
        problems.append("experiments: no comparison charts or no table row per run")
    # The table shows the settings in which the runs differ (their learning rates), not the others.
    if ">lr</th>" not in html or ">finetune_lr</th>" not in html or ">arch</th>" in html:
        problems.append("experiments: the table's columns are not the settings in which the runs differ")
    out = text_of(cell, "stdout")
    if "lr-a:" not in out or "lr-b:" not in out or "Best run: " not in out or mime_count(cell, "image/png") < 1:
        problems.append(f"experiments: runs or the best run's confusion matrix missing from the output:\n{out}")
    # The architectures' trade-off: a point per architecture on the accuracy and seconds axes.
    cell = next((c for c in nb.cells if c.cell_type == "code" and "ShowTradeOff" in c.source), {"outputs": []})
    html, out = html_of(cell), text_of(cell, "stdout")
    for want in ("Accuracy against training time", "seconds per training epoch", "accuracy (%)"):
        if want not in html:
            problems.append(f"experiments: the trade-off chart lacks {want!r}")
    for arch in ("resnet50", "mobilenet_v3_large", "efficientnet_b0"):
        if arch not in html or not re.search(arch + r": \d+\.\d\d% accuracy, \d+\.\d s per training epoch", out):
            problems.append(f"experiments: no point for {arch} in the trade-off chart:\n{out[-1500:]}")
    return problems


def best_grid_rate(data):
    """Trains the default run's fine-tuning phase (recipe.FromScratch's settings) at a small grid of learning
    rates on the data, and returns the rate whose final train loss is lowest."""
    best, best_loss = None, float("inf")
    for rate in ("1e-4", "1e-3", "1e-2"):
        out = tempfile.mkdtemp(prefix="vegclf-grid-")
        subprocess.run([VEGCLF, "train", "--data", data, "--out", out, "--arch", "resnet18", "--weights", "none",
                        "--image-size", "64", "--batch", "8", "--frozen-epochs", "0", "--finetune-epochs", "2",
                        "--finetune-lr", rate], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "metrics.jsonl")) as f:
            loss = [json.loads(line) for line in f if line.strip()][-1]["train_loss"]
        if loss < best_loss:
            best, best_loss = float(rate), loss
    return best


def check_default_run(nb):
    """The tutorial with nothing set and no pretrained weights: it says so in its first cell that runs,
    trains in under 5 minutes, and ends above 90% validation accuracy on the generated data."""
    problems = []
    backend = next((c for c in nb.cells if c.cell_type == "code" and "session().Describe()" in c.source), None)
    if backend is None or "trains from random initialization, with settings that learn from it" not in text_of(backend, "stdout"):
        problems.append("tutorial-default: the first cell does not say the run learns from random initialization")
    training = next((c for c in nb.cells if c.cell_type == "code" and "session().Train()" in c.source), None)
    timing = (training or {}).get("metadata", {}).get("execution", {})
    if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
        start, end = (datetime.datetime.fromisoformat(timing[k].replace("Z", "+00:00")) for k in ("iopub.execute_input", "shell.execute_reply"))
        seconds = (end - start).total_seconds()
        print(f"tutorial-default: training took {seconds:.0f} s")
        if seconds > 300:
            problems.append(f"tutorial-default: training took {seconds:.0f} s, over 5 minutes")
    else:
        problems.append("tutorial-default: the training cell has no timing")
    lrfind = next((c for c in nb.cells if c.cell_type == "code" and ".FindLR(" in c.source), None)
    found = re.search(r"Suggested learning rate: ([0-9.e+-]+) \(steepest descent\)", text_of(lrfind, "stdout") if lrfind else "")
    if not found:
        problems.append("tutorial-default: no LR finder suggestion")
    else:
        suggested = float(found.group(1))
        best = best_grid_rate(os.path.join(HERE, "runs", "vegetables"))
        print(f"tutorial-default: LR finder suggests {suggested:.3g}, the grid's best rate is {best:g}")
        if not 0.1 <= suggested / best <= 10:
            problems.append(f"tutorial-default: the LR finder suggests {suggested:.3g}, not within 10x of the grid's best {best:g}")
    validation = next((c for c in nb.cells if c.cell_type == "code" and "session().Validate()" in c.source), None)
    found = re.search(r"Validation: (\d+\.\d+)%", text_of(validation, "stdout") if validation else "")
    if not found or float(found.group(1)) <= 90:
        problems.append(f"tutorial-default: validation accuracy {found.group(1) if found else 'missing'}, want over 90%")
    else:
        print(f"tutorial-default: validation accuracy {found.group(1)}%")
    return problems


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vegclf-notebooks-")
    global VEGCLF
    vegclf = VEGCLF = os.path.join(work, "vegclf")
    env = dict(os.environ, GOEXPERIMENT="simd")
    subprocess.run(["go", "build", "-o", vegclf, "./vegclf/cmd/vegclf"], cwd=ROOT, check=True, env=env)
    data = os.path.join(work, "data")
    subprocess.run([vegclf, "synth", "--out", data, "--classes", "3", "--train", "8", "--test", "3",
                    "--validation", "3", "--size", "48"], check=True)
    os.environ.update({
        "VEGCLF_DATA": data, "VEGCLF_RUN": os.path.join(work, "run"), "VEGCLF_ARCH": "resnet18",
        "VEGCLF_WEIGHTS": "none", "VEGCLF_IMAGE_SIZE": "32", "VEGCLF_BATCH": "8",
        "VEGCLF_FROZEN_EPOCHS": "1", "VEGCLF_FINETUNE_EPOCHS": "2", "VEGCLF_LR": "1e-3", "VEGCLF_FINETUNE_LR": "1e-3",
        "VEGCLF_SCHEDULE": "cosine", "VEGCLF_AUGMENT": "1", "VEGCLF_MIXUP": "0.8", "VEGCLF_CUTMIX": "1",
        "VEGCLF_LR_FIND_STEPS": "40",
    })
    # Two short runs for the experiments notebook to compare.
    runs = []
    for name, rate in [("lr-a", "1e-3"), ("lr-b", "3e-3")]:
        run = os.path.join(work, "runs", name)
        subprocess.run([vegclf, "train", "--data", data, "--out", run, "--arch", "resnet18", "--weights", "none",
                        "--image-size", "32", "--batch", "8", "--frozen-epochs", "1", "--finetune-epochs", "1",
                        "--lr", rate, "--finetune-lr", rate], check=True, stdout=subprocess.DEVNULL, env=env)
        runs.append(run)
    os.environ["VEGCLF_RUNS"] = ",".join(runs)
    problems = []
    notebooks = [("tutorial.ipynb", check_tutorial), ("experiments.ipynb", check_experiments)]
    for name, checker in notebooks:
        nb = nbformat.read(os.path.join(HERE, name), as_version=4)
        if name == "tutorial.ipynb":
            # Flags after a cell's %% override the environment for that cell, as a user gives them.
            for c in nb.cells:
                if c.cell_type == "code" and "session().ShowModel()" in c.source:
                    c.source = c.source.replace("%%\n", "%% --batch=4 --image-size=40\n", 1)
        client = NotebookClient(nb, kernel_name="vegclf-cpu", timeout=1200, startup_timeout=120,
                                resources={"metadata": {"path": HERE}})
        try:
            client.execute()
        except Exception as e:  # A compile error stops execution: report it with what ran.
            problems.append(f"{name}: execution stopped: {e}")
        nbformat.write(nb, os.path.join(outdir, name.replace(".ipynb", ".executed.ipynb")))
        problems += check_cells(nb, name) + checker(nb)
    # The tutorial as a newcomer runs it: nothing set but a fresh run folder, no pretrained weights here. It
    # must say so and learn the generated data from random initialization.
    for key in [k for k in os.environ if k.startswith("VEGCLF_")]:
        del os.environ[key]
    os.environ["VEGCLF_RUN"] = os.path.join(work, "default-run")
    nb = nbformat.read(os.path.join(HERE, "tutorial.ipynb"), as_version=4)
    client = NotebookClient(nb, kernel_name="vegclf-cpu", timeout=1200, startup_timeout=120,
                            resources={"metadata": {"path": HERE}})
    try:
        client.execute()
    except Exception as e:
        problems.append(f"tutorial-default: execution stopped: {e}")
    nbformat.write(nb, os.path.join(outdir, "tutorial.default.executed.ipynb"))
    problems += [p.replace("tutorial.ipynb", "tutorial-default") for p in check_cells(nb, "tutorial.ipynb")] + check_default_run(nb)
    notebooks.append(("tutorial-default", None))
    for p in problems:
        print("FAIL:", p)
    failed = len({p.split(" ")[0].split(":")[0] for p in problems})
    print(f"notebooks: {len(notebooks) - failed} passed, {failed} failed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
