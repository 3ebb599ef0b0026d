"""Opens the tutorial in a real browser and runs all its cells, as a person would.

usage: /usr/bin/python3 notebooks/browser_test.py OUTDIR

Starts the classic Jupyter notebook server on 127.0.0.1, opens a copy of notebooks/tutorial.ipynb in headless
Chromium (Debian's chromium and chromium-driver, with python3-selenium), runs all cells, and checks that the
images and the plots are rendered in the page (images decoded, SVG lines drawn with a size), and that no cell
printed an error. Screenshots go to OUTDIR. The run uses the small generated dataset of run_notebooks.py.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import Select

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COPY = "browser-test-tutorial.ipynb"
EXPERIMENTS_COPY = "browser-test-experiments.ipynb"



# For every chart (an SVG in an output), the title and its axes' tick labels as rendered: the x axis's are
# the largest row of numeric labels at one height, the y axis's the largest column sharing a right edge.
CHART_TICKS_JS = r"""
const number = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/;
return Array.from(document.querySelectorAll('.output_area svg')).map(svg => {
  const texts = Array.from(svg.querySelectorAll('text')).map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent.trim(), x: r.left, y: r.top, right: r.right};
  });
  const nums = texts.filter(t => number.test(t.text));
  const group = key => {
    const g = {};
    nums.forEach(t => { const k = Math.round(key(t)); (g[k] = g[k] || []).push(t); });
    return Object.values(g).sort((a, b) => b.length - a.length)[0] || [];
  };
  const x = group(t => t.y).sort((a, b) => a.x - b.x).map(t => t.text);
  const y = group(t => t.right).sort((a, b) => b.y - a.y).map(t => t.text);
  const title = (texts.find(t => !number.test(t.text)) || {text: ''}).text;
  return {title: title, x: x, y: y};
});
"""


def check_chart_ticks(charts, minimum=5):
    """Each chart's tick labels are distinct and increase along their axis; a learning-rate axis is
    logarithmic: its labels are successive powers of ten."""
    problems = []
    if len(charts) < minimum:
        problems.append(f"{len(charts)} charts rendered, want at least {minimum}")
    for c in charts:
        for axis in ("x", "y"):
            labels = c[axis]
            values = [float(v) for v in labels]
            if len(labels) < 2 or len(set(labels)) != len(labels) or values != sorted(values) or len(set(values)) != len(values):
                problems.append(f"chart {c['title']!r}: {axis} tick labels {labels} are not distinct and increasing")
        log_axis = c["x"] if c["title"].startswith("LR finder") else c["y"] if c["title"].startswith("Learning rate") else None
        if log_axis is not None:
            values = [float(v) for v in log_axis]
            if any(abs(b / a - 10) > 1e-9 for a, b in zip(values, values[1:])):
                problems.append(f"chart {c['title']!r}: learning-rate ticks {log_axis} are not successive powers of ten")
    return problems

def run_all_cells(driver, port, name, interact=None):
    """Opens the notebook in the page, runs all its cells from the menu's action and waits for them. A
    notebook whose last cell waits for the user (the tutorial's pick-an-image cell) passes interact: it is
    called once that cell runs, and returns its problems after ending the cell."""
    driver.get(f"http://127.0.0.1:{port}/notebooks/notebooks/{name}")
    wait_for(driver, "return typeof Jupyter !== 'undefined' && Jupyter.notebook && Jupyter.notebook.kernel "
                     "&& Jupyter.notebook.kernel.is_connected()", 120, "the kernel")
    driver.execute_script("Jupyter.notebook.set_autosave_interval(0); Jupyter.notebook.clear_all_output(); "
                          "Jupyter.notebook.execute_all_cells();")
    problems = []
    if interact is not None:
        wait_for(driver, "const cells = Jupyter.notebook.get_cells().filter(c => c.cell_type == 'code');"
                         "return cells.slice(0, -1).every(c => c.input_prompt_number != null "
                         "&& c.input_prompt_number !== '*');", 1200, "all cells but the last to run")
        problems = interact(driver)
    wait_for(driver, "const cells = Jupyter.notebook.get_cells().filter(c => c.cell_type == 'code');"
                     "return !Jupyter.notebook.kernel_busy && cells.every(c => c.input_prompt_number != null "
                     "&& c.input_prompt_number !== '*');", 1200, "all cells to run")
    time.sleep(2)
    return problems


def interact_pick(outdir):
    """The pick-an-image cell: it shows the first image's top-3; choosing an image of another class shows that
    one's instead; Done ends the cell and disables the choice."""
    top = "const p = document.querySelector('.vegclf-pick-top'); return p ? p.textContent : '';"

    def interact(driver):
        problems = []
        wait_for(driver, "return document.querySelector('select[id^=vegclf-pick-select]') != null && "
                         "document.querySelector('.vegclf-pick-top') != null", 300, "the pick-an-image cell's first image")
        first = driver.execute_script(top)
        select = Select(driver.find_element("css selector", "select[id^=vegclf-pick-select]"))
        labels = [o.text for o in select.options]
        other = next((i for i, l in enumerate(labels) if l.split("/")[0] != labels[0].split("/")[0]), None)
        if other is None:
            return [f"pick: the choice offers images of one class only: {labels}"]
        select.select_by_index(other)
        try:
            wait_for(driver, f"const p = document.querySelector('.vegclf-pick-top'); return p && p.textContent != {first!r};",
                     120, "the shown prediction to change")
        except TimeoutError as e:
            problems.append(f"pick: choosing {labels[other]!r} left {first!r} shown: {e}")
        shown = driver.execute_script(top)
        image = labels[other].split("/")[-1]
        print(f"browser: pick: {first!r}, then {shown!r}")
        if image not in shown or shown.count("%") != 3:
            problems.append(f"pick: after choosing {labels[other]!r} the cell shows {shown!r}")
        driver.execute_script("document.querySelector('.vegclf-pick').scrollIntoView();")
        time.sleep(0.5)
        driver.save_screenshot(os.path.join(outdir, "tutorial-pick.png"))
        driver.find_element("css selector", "button[id^=vegclf-pick-done]").click()
        wait_for(driver, "return Array.from(document.querySelectorAll('.output_area')).some(o => o.innerText.includes('Done: '))",
                 60, "the cell to end after Done")
        if not driver.execute_script("return document.querySelector('select[id^=vegclf-pick-select]').disabled"):
            problems.append("pick: the choice is still enabled after Done")
        return problems
    return interact


def check_experiments(driver, port, outdir):
    """The experiments notebook with no runs: it sweeps by itself, then shows the overlaid curves, a table
    of the 4 runs that sorts by a clicked column, the best run's confusion matrix, and the architectures'
    accuracy against training time."""
    problems = []
    run_all_cells(driver, port, EXPERIMENTS_COPY)
    rows = driver.execute_script("return document.querySelectorAll('table.vegclf-runs tr').length;")
    charts = driver.execute_script(CHART_TICKS_JS)
    images = driver.execute_script("return Array.from(document.querySelectorAll('.output_area img')).filter(i => i.naturalWidth > 0).length;")
    print(f"browser: experiments: {rows} table rows, {len(charts)} charts, {images} images")
    titles = [c["title"] for c in charts]
    if rows != 5 or len(charts) != 3 or images < 1 or "Accuracy against training time" not in titles:
        problems.append(f"experiments: {rows} table rows (want 5), {len(charts)} charts {titles} (want 3, one of them "
                        f"'Accuracy against training time'), {images} images")
    problems += check_chart_ticks(charts, minimum=3)
    column = driver.execute_script(
        "const ths = Array.from(document.querySelectorAll('table.vegclf-runs th'));"
        "return ths.findIndex(th => th.textContent == 'best test accuracy');")
    th = driver.find_elements("css selector", "table.vegclf-runs th")[column]
    for clicks in (1, 2):
        th.click()
        values = driver.execute_script(
            f"return Array.from(document.querySelectorAll('table.vegclf-runs tr')).slice(1).map(r => parseFloat(r.children[{column}].dataset.v));")
        want = sorted(values) if clicks == 1 else sorted(values, reverse=True)
        if values != want:
            problems.append(f"experiments: after {clicks} click(s) on 'best test accuracy' the column reads {values}")
    table = driver.find_element("css selector", "table.vegclf-runs")
    driver.execute_script("arguments[0].scrollIntoView();", table)
    driver.save_screenshot(os.path.join(outdir, "experiments.png"))
    return problems


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(driver, script, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if driver.execute_script(script):
                return
        except Exception:
            pass
        time.sleep(1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vegclf-browser-")
    vegclf = os.path.join(work, "vegclf")
    subprocess.run(["go", "build", "-o", vegclf, "./vegclf/cmd/vegclf"], cwd=ROOT, check=True,
                   env=dict(os.environ, GOEXPERIMENT="simd"))
    data = os.path.join(work, "data")
    subprocess.run([vegclf, "synth", "--out", data, "--classes", "3", "--train", "8", "--test", "3",
                    "--validation", "3", "--size", "48"], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, VEGCLF_DATA=data, VEGCLF_RUN=os.path.join(work, "run"), VEGCLF_ARCH="resnet18",
               VEGCLF_WEIGHTS="none", VEGCLF_IMAGE_SIZE="32", VEGCLF_BATCH="8", VEGCLF_FROZEN_EPOCHS="1",
               VEGCLF_FINETUNE_EPOCHS="2", VEGCLF_LR="1e-3", VEGCLF_FINETUNE_LR="1e-3",
               VEGCLF_RUNS="none", VEGCLF_SWEEP=os.path.join(work, "sweep"))  # The experiments notebook sweeps.
    shutil.copy(os.path.join(HERE, "tutorial.ipynb"), os.path.join(HERE, COPY))
    shutil.copy(os.path.join(HERE, "experiments.ipynb"), os.path.join(HERE, EXPERIMENTS_COPY))
    port = free_port()
    server = subprocess.Popen(
        ["jupyter", "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--allow-root",
         "--NotebookApp.token=", "--NotebookApp.password=", f"--notebook-dir={ROOT}"],
        env=env, stdout=open(os.path.join(outdir, "jupyter-server.log"), "w"), stderr=subprocess.STDOUT)
    driver = None
    problems = []
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        opts = Options()
        opts.binary_location = "/usr/bin/chromium"
        for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={os.path.join(work, 'chrome')}", "--window-size=1400,1000"]:
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        problems += run_all_cells(driver, port, COPY, interact_pick(outdir))
        images = driver.execute_script(
            "return Array.from(document.querySelectorAll('.output_area img')).map(i => [i.complete, i.naturalWidth]);")
        lines = driver.execute_script(
            "return Array.from(document.querySelectorAll('.output_area svg path')).filter(p => "
            "(p.getAttribute('style') || '').includes('stroke:') && !(p.getAttribute('style') || '').includes('stroke-dasharray:3')"
            ").map(p => [p.getAttribute('d').split('L').length, p.getBBox().width]);")
        charts = driver.execute_script(CHART_TICKS_JS)
        text = driver.execute_script("return Array.from(document.querySelectorAll('.output_area')).map(o => o.innerText).join('\\n');")
        errors = driver.execute_script("return document.querySelectorAll('.output_error, .output_stderr').length;")
        stderr = driver.execute_script("return Array.from(document.querySelectorAll('.output_stderr')).map(o => o.innerText).join('\\n');")
        print(f"browser: {len(images)} images, {len(lines)} plotted lines, {errors} error/stderr outputs")
        if len(images) < 6 or not all(done and width > 0 for done, width in images):
            problems.append(f"images not all rendered: {images}")
        if len(lines) < 4 or not any(n >= 3 and w > 0 for n, w in lines):
            problems.append(f"plots not drawn (SVG lines with their points and widths): {lines}")
        problems += check_chart_ticks(charts)
        print(f"browser: {len(charts)} charts: " + "; ".join(f"{c['title']}: x {c['x']}, y {c['y']}" for c in charts))
        for want in ("Epoch  1 - Train accuracy:", "Validation:", "Backend: go"):
            if want not in text:
                problems.append(f"page lacks {want!r}")
        for marker in ("exit status", "panic:", "signal:"):
            if marker in stderr:
                problems.append(f"stderr output has {marker!r}: {stderr[-1000:]}")
        # A screenshot of every chart, kept as artifacts.
        for i, svg in enumerate(driver.find_elements("css selector", ".output_area svg")):
            driver.execute_script("arguments[0].scrollIntoView();", svg)
            svg.screenshot(os.path.join(outdir, f"tutorial-chart-{i + 1}.png"))
        # Screenshots of the live curves and of the sample grid, kept as artifacts.
        for name, selector in [("tutorial-curves.png", ".output_area svg"), ("tutorial-samples.png", ".output_area img")]:
            driver.execute_script(f"document.querySelector('{selector}').scrollIntoView();")
            time.sleep(0.5)
            driver.save_screenshot(os.path.join(outdir, name))
        problems += check_experiments(driver, port, outdir)
    except Exception as e:
        problems.append(f"browser run failed: {e!r}")
        if driver:
            driver.save_screenshot(os.path.join(outdir, "tutorial-browser-failure.png"))
    finally:
        if driver:
            driver.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        os.remove(os.path.join(HERE, COPY))
        os.remove(os.path.join(HERE, EXPERIMENTS_COPY))
        shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print("FAIL:", p)
    print(f"browser: {1 - bool(problems)} passed, {int(bool(problems))} failed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
