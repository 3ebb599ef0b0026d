"""Checks that the installed vegclf kernel specs start GoNB and run Go (Debian's jupyter_kernel_test).

usage: /usr/bin/python3 -m unittest notebooks/kernel_test.py   (from the repository root)
"""
import os
import queue
import unittest

import jupyter_kernel_test

# A cold Go build takes far longer than jupyter_kernel_test's 15 s default.
TIMEOUT = 600


def go_mod_toolchain():
    """The toolchain named by go.mod's 'toolchain' line (go1.27.3)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "go.mod")) as f:
        return next(line.split()[1] for line in f if line.startswith("toolchain "))


class CollectStragglers:
    """Mixed into the kernel tests: a longer timeout, and the outputs GoNB sends late."""

    def execute_helper(self, code, timeout=TIMEOUT, **kwargs):
        reply, outputs = super().execute_helper(code, timeout=timeout, **kwargs)
        # GoNB can report the cell idle before the program's last output arrives: collect stragglers.
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=3)
            except queue.Empty:
                return reply, outputs
            if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                outputs.append(msg)


class VegclfCPUKernelTests(CollectStragglers, jupyter_kernel_test.KernelTests):
    kernel_name = "vegclf-cpu"
    language_name = "go"
    code_hello_world = 'import "fmt"\n%%\nfmt.Println("hello, world")'
    code_stderr = 'import ("fmt"; "os")\n%%\nfmt.Fprintln(os.Stderr, "oops")'

    def test_kernel_environment(self):
        """The spec's environment reaches the Go program: the backend, the simd build, go.mod's
        toolchain, which GoNB compiled the cell with, with the simd experiment, and GODEBUG's
        madvdontneed=0 (freed memory handed back with MADV_FREE, as the CLI sets for itself)."""
        reply, outputs = self.execute_helper(
            'import ("fmt"; "os"; "runtime")\n%%\n'
            'fmt.Println(os.Getenv("GOMLX_BACKEND"), os.Getenv("GOEXPERIMENT"), runtime.Version(), os.Getenv("GODEBUG"))')
        self.assertEqual(reply["content"]["status"], "ok")
        text = "".join(o["content"].get("text", "") for o in outputs if o["msg_type"] == "stream")
        # runtime.Version() names the experiments the toolchain compiled with: "go1.27.3-X:simd".
        self.assertEqual(text.strip(), "go simd " + go_mod_toolchain() + "-X:simd madvdontneed=0")

    def test_vegclf_library(self):
        """The notebook setup cell makes this repository's module importable, offline."""
        reply, outputs = self.execute_helper(
            '!*rm -f go.work && go work init && go work use . "' + os.getcwd() + '"\n%goworkfix\n'
            'import ("fmt"; "github.com/vegclf/vegclf/vegclf/resnet")\n%%\nfmt.Println(resnet.ResNet50.FeatureDim())')
        self.assertEqual(reply["content"]["status"], "ok")
        text = "".join(o["content"].get("text", "") for o in outputs if o["msg_type"] == "stream")
        self.assertEqual(text.strip().splitlines()[-1], "2048")


class VegclfCUDAKernelTests(CollectStragglers, jupyter_kernel_test.KernelTests):
    """The CUDA kernel spec: its backend setting (and GODEBUG's madvdontneed=0) reaches the cell's program,
    and vegclf starts XLA on CUDA where a GPU and the plugin are, and otherwise says exactly how to provide
    the plugin."""
    kernel_name = "vegclf-cuda"
    language_name = "go"

    def test_backend_choice(self):
        reply, outputs = self.execute_helper(
            '!*rm -f go.work && go work init && go work use . "' + os.getcwd() + '"\n%goworkfix\n'
            'import ("fmt"; "os"; "github.com/vegclf/vegclf/vegclf/backend")\n%%\n'
            'fmt.Println(os.Getenv("GOMLX_BACKEND"), os.Getenv("GODEBUG"))\n'
            'b, choice, err := backend.New("")\n'
            'if err != nil { fmt.Println("error:", err); return }\n'
            'defer b.Finalize()\n'
            'fmt.Println("backend:", choice)')
        self.assertEqual(reply["content"]["status"], "ok")
        lines = "".join(o["content"].get("text", "") for o in outputs if o["msg_type"] == "stream").strip().splitlines()
        self.assertEqual(lines[-2], "xla:cuda madvdontneed=0")
        if lines[-1].startswith("error:"):
            self.assertIn("jax-cuda13-pjrt", lines[-1])
            self.assertIn("GOMLX_BACKEND=xla:/path/to/xla_cuda_plugin.so", lines[-1])
        else:
            self.assertTrue(lines[-1].startswith("backend: xla:/"), lines[-1])


if __name__ == "__main__":
    unittest.main()
