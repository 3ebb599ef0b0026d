"""Opens vegclf serve's page in a real browser and classifies a real photo, as a person would.

usage: /usr/bin/python3 vegclf/serve/browser_test.py OUTDIR [IN_CHANNELS]
(from the repository root; scripts/test.sh runs it with RGB, the default 3)

Builds vegclf, trains a tiny run on generated images (with --in-channels IN_CHANNELS), starts `vegclf serve`
on 127.0.0.1, opens its page in headless Chromium (Debian's chromium and chromium-driver, with
python3-selenium), checks that the model's description names how images are read (RGB, grayscale, ...),
chooses a real photo (../shared/data/hymenoptera, else a generated image) in the file input with Grad-CAM
ticked, and checks that the page shows the top class `vegclf predict --json` gives, three bars and the
Grad-CAM image decoded. A screenshot goes to OUTDIR/serve-page.png (serve-page-CHANNELS.png for other than 3).
"""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

# What the page's description says of a model of 1 to 4 input channels.
MODES = {1: "grayscale images (1 channel", 2: "grayscale images with alpha (2 channels", 3: "RGB images",
         4: "RGBA images (4 channels"}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_for(driver, script, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if driver.execute_script(script):
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def main():
    outdir = sys.argv[1]
    channels = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    shot = "serve-page.png" if channels == 3 else f"serve-page-{channels}.png"
    os.makedirs(outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vegclf-serve-browser-")
    vegclf = os.path.join(work, "vegclf")
    subprocess.run(["go", "build", "-o", vegclf, "./vegclf/cmd/vegclf"], cwd=ROOT, check=True)
    data, run = os.path.join(work, "data"), os.path.join(work, "run")
    subprocess.run([vegclf, "synth", "--out", data, "--classes", "3", "--train", "8", "--size", "48"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([vegclf, "train", "--data", data, "--out", run, "--arch", "resnet18", "--weights", "none",
                    "--image-size", "32", "--batch", "4", "--frozen-epochs", "1", "--finetune-epochs", "1"]
                   + ([] if channels == 3 else ["--in-channels", str(channels)]),
                   check=True, stdout=subprocess.DEVNULL)
    photos = sorted(glob.glob(os.path.join(ROOT, "..", "shared", "data", "hymenoptera", "val", "bees", "*.jpg")))
    photo = os.path.abspath(photos[0] if photos else sorted(glob.glob(os.path.join(data, "validation", "*", "*.jpg")))[0])
    want = json.loads(subprocess.run([vegclf, "predict", "--run", run, "--json", "--topk", "3", photo],
                                     check=True, capture_output=True, text=True).stdout)
    server = subprocess.Popen([vegclf, "serve", "--run", run, "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE,
                              stderr=open(os.path.join(outdir, shot.replace(".png", ".log")), "w"), text=True)
    driver = None
    try:
        line = server.stdout.readline()
        m = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
        if not m:
            raise RuntimeError(f"vegclf serve did not say where it listens: {line!r}")
        opts = Options()
        opts.binary_location = "/usr/bin/chromium"
        for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={os.path.join(work, 'chrome')}", "--window-size=1000,800"]:
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        driver.get(m.group(1) + "/")
        wait_for(driver, "return document.getElementById('model').textContent.includes('classes')", 20,
                 "the model's description")
        description = driver.execute_script("return document.getElementById('model').textContent")
        driver.find_element(By.ID, "gradcam").click()
        driver.find_element(By.ID, "files").send_keys(photo)
        wait_for(driver, "return document.querySelector('.card.done') !== null", 60, "the prediction")
        shown = driver.execute_script(
            "const c = document.querySelector('.card.done');"
            "return {failed: c.classList.contains('failed'), text: c.textContent,"
            " labels: Array.from(c.querySelectorAll('.bar')).map(b => b.dataset.label),"
            " gradcam: Array.from(c.querySelectorAll('img.gradcam')).map(i => i.complete && i.naturalWidth)};")
        driver.save_screenshot(os.path.join(outdir, shot))
        problems = []
        if MODES[channels] not in description:
            problems.append(f"the model's description does not say {MODES[channels]!r}: {description!r}")
        if shown["failed"]:
            problems.append(f"the page shows an error: {shown['text']}")
        if shown["labels"] != [c["label"] for c in want["top"]]:
            problems.append(f"the page shows {shown['labels']}, vegclf predict says {[c['label'] for c in want['top']]}")
        if not shown["gradcam"] or not shown["gradcam"][0]:
            problems.append(f"no Grad-CAM image decoded: {shown['gradcam']}")
        if problems:
            print("serve page: " + "; ".join(problems))
            sys.exit(1)
        print(f"serve page: {os.path.basename(photo)} shown as {shown['labels'][0]}, as vegclf predict says; "
              f"screenshot in {outdir}/{shot}")
    finally:
        if driver:
            driver.quit()
        server.send_signal(signal.SIGTERM)
        if server.wait(timeout=30) != 0:
            print(f"vegclf serve exited {server.returncode} after SIGTERM")
            sys.exit(1)


if __name__ == "__main__":
    main()
