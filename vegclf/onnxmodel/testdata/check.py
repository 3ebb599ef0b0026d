"""Checks an ONNX model with ONNX's own checker (Debian's python3-onnx), for vegclf's onnxmodel tests.

usage: check.py MODEL.onnx

Prints JSON: the metadata_props, the graph's input and output names and their shapes (a symbolic dimension
as its name), and the operator types used.
"""
import json
import sys

import onnx


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def main():
    model = onnx.load(sys.argv[1])
    onnx.checker.check_model(model)
    print(json.dumps({
        "metadata": {p.key: p.value for p in model.metadata_props},
        "inputs": {i.name: dims(i) for i in model.graph.input},
        "outputs": {o.name: dims(o) for o in model.graph.output},
        "ops": sorted({n.op_type for n in model.graph.node}),
    }))


if __name__ == "__main__":
    main()
