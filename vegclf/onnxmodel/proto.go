package onnxmodel

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of onnx.proto (ONNX's IR, onnx/onnx.proto) that finish edits.
const (
	modelIRVersion     = 1  // ModelProto.ir_version
	modelOpsetImport   = 8  // ModelProto.opset_import
	opsetDomain        = 1  // OperatorSetIdProto.domain
	opsetVersion       = 2  // OperatorSetIdProto.version
	graphNode          = 1  // GraphProto.node
	graphInitializer   = 5  // GraphProto.initializer
	nodeInput          = 1  // NodeProto.input
	tensorDataType     = 2  // TensorProto.data_type
	tensorInt64Data    = 7  // TensorProto.int64_data
	tensorName         = 8  // TensorProto.name
	tensorRawData      = 9  // TensorProto.raw_data
	dataTypeInt64      = 7  // TensorProto.DataType.INT64
	nodeOpType         = 4  // NodeProto.op_type
	nodeDomain         = 7  // NodeProto.domain
	modelGraph         = 7  // ModelProto.graph
	modelMetadataProps = 14 // ModelProto.metadata_props
	graphInput         = 11 // GraphProto.input
	graphOutput        = 12 // GraphProto.output
	graphValueInfo     = 13 // GraphProto.value_info
	valueInfoType      = 2  // ValueInfoProto.type
	typeTensor         = 1  // TypeProto.tensor_type
	tensorShape        = 2  // TypeProto.Tensor.shape
	shapeDim           = 1  // TensorShapeProto.dim
	dimValue           = 1  // TensorShapeProto.Dimension.dim_value
	dimParam           = 2  // TensorShapeProto.Dimension.dim_param
	entryKey           = 1  // StringStringEntryProto.key
	entryValue         = 2  // StringStringEntryProto.value
)

// Opset17 lists the operators the exported graph uses whose definitions are the same in ONNX's opset 17 as
// in the newer one ONNX Runtime compiles with (ReduceSum takes its axes as an input since opset 13, MaxPool
// and Conv last changed in 12 and 11, Min in 13, AveragePool in 11 until 19 added dilations, which the
// export does not use), so the file can declare opset 17 and IR version 8: ONNX 1.12's
// checker, and runtimes from ONNX Runtime 1.13 on, accept it.
var opset17 = map[string]bool{"Conv": true, "Add": true, "Max": true, "Min": true, "MaxPool": true, "AveragePool": true, "ReduceSum": true,
	"Mul": true, "MatMul": true,
	// The Vision Transformer's: Reshape (14: allowzero; its shapes' batch is made -1, see batchReshapes),
	// Transpose, Slice, Concat, Pad (13: pads as an input), Sub, Div (14), Sqrt, Erf, Softmax (13, one axis),
	// Identity (16). ConvNeXt's LayerNorms and exact GELU use Sub, Div, Sqrt and Erf too.
	"Reshape": true, "Transpose": true, "Slice": true, "Concat": true, "Pad": true, "Sub": true, "Div": true, "Sqrt": true,
	"Erf": true, "Identity": true, "Softmax": true,
	"Sigmoid": true, // EfficientNet's SiLU and squeeze-excitation: unchanged since opset 13 (which added bfloat16).
}

// finish edits a serialized ModelProto compiled at batch size batch: the first axis of every graph input,
// output and value (of size batch) becomes the symbolic dimension "batch"; it declares IR version 8 and
// opset 17 (see opset17; an operator outside it is an error); and meta is appended as metadata_props.
func finish(model []byte, batch int, meta Metadata) ([]byte, error) {
	changed := 0
	var ops []string
	out, err := rewrite(model, func(num protowire.Number, value []byte) ([]byte, error) {
		if num != modelGraph {
			return nil, nil
		}
		graph, err := batchReshapes(value, batch)
		if err != nil {
			return nil, err
		}
		return rewrite(graph, func(num protowire.Number, value []byte) ([]byte, error) {
			switch num {
			case graphNode:
				op, domain, err := nodeOp(value)
				if err != nil {
					return nil, err
				}
				if domain != "" || !opset17[op] {
					return nil, fmt.Errorf("the graph has operator %q (domain %q), which vegclf does not declare for opset 17", op, domain)
				}
				ops = append(ops, op)
				return nil, nil
			case graphInput, graphOutput, graphValueInfo:
				return symbolicBatch(value, batch, &changed)
			}
			return nil, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("editing the ONNX model: %w", err)
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("editing the ONNX model: it has no operators")
	}
	if out, err = declareOpset17(out); err != nil {
		return nil, fmt.Errorf("editing the ONNX model: %w", err)
	}
	if changed < 2 {
		return nil, fmt.Errorf("editing the ONNX model: found %d batch axes, want at least the input's and the output's", changed)
	}
	for _, kv := range meta.props() {
		var entry []byte
		entry = protowire.AppendTag(entry, entryKey, protowire.BytesType)
		entry = protowire.AppendString(entry, kv[0])
		entry = protowire.AppendTag(entry, entryValue, protowire.BytesType)
		entry = protowire.AppendString(entry, kv[1])
		out = protowire.AppendTag(out, modelMetadataProps, protowire.BytesType)
		out = protowire.AppendBytes(out, entry)
	}
	return out, nil
}

// symbolicBatch edits a ValueInfoProto: a tensor whose first dimension is batch gets "batch" instead.
func symbolicBatch(valueInfo []byte, batch int, changed *int) ([]byte, error) {
	return rewrite(valueInfo, func(num protowire.Number, value []byte) ([]byte, error) {
		if num != valueInfoType {
			return nil, nil
		}
		return rewrite(value, func(num protowire.Number, value []byte) ([]byte, error) {
			if num != typeTensor {
				return nil, nil
			}
			return rewrite(value, func(num protowire.Number, value []byte) ([]byte, error) {
				if num != tensorShape {
					return nil, nil
				}
				first := true
				return rewrite(value, func(num protowire.Number, value []byte) ([]byte, error) {
					if num != shapeDim || !first {
						return nil, nil
					}
					first = false
					return firstDim(value, batch, changed)
				})
			})
		})
	})
}

// firstDim edits a Dimension of value batch into dim_param "batch".
func firstDim(dim []byte, batch int, changed *int) ([]byte, error) {
	num, typ, n := protowire.ConsumeTag(dim)
	if n < 0 {
		return nil, protowire.ParseError(n)
	}
	if num != dimValue || typ != protowire.VarintType {
		return nil, nil
	}
	v, m := protowire.ConsumeVarint(dim[n:])
	if m < 0 || int(v) != batch || n+m != len(dim) {
		return nil, nil
	}
	*changed++
	out := protowire.AppendTag(nil, dimParam, protowire.BytesType)
	return protowire.AppendString(out, "batch"), nil
}

// rewrite re-encodes a message, replacing the value of each length-delimited field for which edit returns
// a non-nil value; other fields are copied as they are.
func rewrite(msg []byte, edit func(num protowire.Number, value []byte) ([]byte, error)) ([]byte, error) {
	var out []byte
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		size := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if size < 0 {
			return nil, protowire.ParseError(size)
		}
		field := msg[:n+size]
		if typ == protowire.BytesType {
			value, _ := protowire.ConsumeBytes(msg[n:])
			edited, err := edit(num, value)
			if err != nil {
				return nil, err
			}
			if edited != nil {
				out = protowire.AppendTag(out, num, protowire.BytesType)
				out = protowire.AppendBytes(out, edited)
				msg = msg[n+size:]
				continue
			}
		}
		out = append(out, field...)
		msg = msg[n+size:]
	}
	return out, nil
}

// nodeOp returns a NodeProto's operator type and domain.
func nodeOp(node []byte) (op, domain string, err error) {
	_, err = rewrite(node, func(num protowire.Number, value []byte) ([]byte, error) {
		switch num {
		case nodeOpType:
			op = string(value)
		case nodeDomain:
			domain = string(value)
		}
		return nil, nil
	})
	return op, domain, err
}

// declareOpset17 sets the ModelProto's IR version to 8 and its opset imports to the default domain's 17
// alone (the graph's nodes use no other domain: finish checked).
func declareOpset17(model []byte) ([]byte, error) {
	var out []byte
	for len(model) > 0 {
		num, typ, n := protowire.ConsumeTag(model)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		size := protowire.ConsumeFieldValue(num, typ, model[n:])
		if size < 0 {
			return nil, protowire.ParseError(size)
		}
		if num != modelIRVersion && num != modelOpsetImport {
			out = append(out, model[:n+size]...)
		}
		model = model[n+size:]
	}
	out = protowire.AppendTag(out, modelIRVersion, protowire.VarintType)
	out = protowire.AppendVarint(out, 8)
	var opset []byte
	opset = protowire.AppendTag(opset, opsetDomain, protowire.BytesType)
	opset = protowire.AppendString(opset, "")
	opset = protowire.AppendTag(opset, opsetVersion, protowire.VarintType)
	opset = protowire.AppendVarint(opset, 17)
	out = protowire.AppendTag(out, modelOpsetImport, protowire.BytesType)
	return protowire.AppendBytes(out, opset), nil
}

// int64Tensor returns an INT64 TensorProto's name and values; ok is false for other tensors.
func int64Tensor(tensor []byte) (name string, values []int64, ok bool, err error) {
	dtype := -1
	var raw []byte
	for msg := tensor; len(msg) > 0; {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return "", nil, false, protowire.ParseError(n)
		}
		size := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if size < 0 {
			return "", nil, false, protowire.ParseError(size)
		}
		field := msg[n : n+size]
		switch {
		case num == tensorDataType && typ == protowire.VarintType:
			v, _ := protowire.ConsumeVarint(field)
			dtype = int(v)
		case num == tensorName && typ == protowire.BytesType:
			v, _ := protowire.ConsumeBytes(field)
			name = string(v)
		case num == tensorRawData && typ == protowire.BytesType:
			raw, _ = protowire.ConsumeBytes(field)
		case num == tensorInt64Data && typ == protowire.BytesType: // Packed.
			packed, _ := protowire.ConsumeBytes(field)
			for len(packed) > 0 {
				v, m := protowire.ConsumeVarint(packed)
				if m < 0 {
					return "", nil, false, protowire.ParseError(m)
				}
				values, packed = append(values, int64(v)), packed[m:]
			}
		case num == tensorInt64Data && typ == protowire.VarintType:
			v, _ := protowire.ConsumeVarint(field)
			values = append(values, int64(v))
		}
		msg = msg[n+size:]
	}
	if dtype != dataTypeInt64 {
		return name, nil, false, nil
	}
	for ; len(raw) >= 8; raw = raw[8:] {
		values = append(values, int64(binary.LittleEndian.Uint64(raw)))
	}
	return name, values, true, nil
}

// nodeInputs returns a NodeProto's inputs.
func nodeInputs(node []byte) ([]string, error) {
	var inputs []string
	_, err := rewrite(node, func(num protowire.Number, value []byte) ([]byte, error) {
		if num == nodeInput {
			inputs = append(inputs, string(value))
		}
		return nil, nil
	})
	return inputs, err
}

// batchReshapes edits a GraphProto compiled at batch size batch so that it runs at any: the shapes of its
// Reshapes (INT64 initializers) that start with the batch size start with -1 instead, the batch then being
// what the input has (graphs keep the batch a separate first axis of what they reshape). A shape
// initializer also read by an operator other than Reshape is an error: editing it would change that operator.
func batchReshapes(graph []byte, batch int) ([]byte, error) {
	uses := map[string]map[string]bool{} // Initializer name: the operators reading it.
	_, err := rewrite(graph, func(num protowire.Number, value []byte) ([]byte, error) {
		switch num {
		case graphNode:
			op, _, err := nodeOp(value)
			if err != nil {
				return nil, err
			}
			inputs, err := nodeInputs(value)
			if err != nil {
				return nil, err
			}
			for _, in := range inputs {
				if uses[in] == nil {
					uses[in] = map[string]bool{}
				}
				uses[in][op] = true
			}
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return rewrite(graph, func(num protowire.Number, value []byte) ([]byte, error) {
		switch num {
		case graphInitializer:
			name, values, ok, err := int64Tensor(value)
			if err != nil || !ok || !uses[name]["Reshape"] || len(values) < 2 || values[0] != int64(batch) {
				return nil, err
			}
			if len(uses[name]) > 1 {
				return nil, fmt.Errorf("the shape %s of a Reshape is read by other operators too", name)
			}
			values = append([]int64{-1}, values[1:]...)
			var raw []byte
			for _, v := range values {
				raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
			}
			// The tensor again, with the new values as raw data.
			return rewriteTensorData(value, raw)
		}
		return nil, nil
	})
}

// rewriteTensorData returns the TensorProto with raw as its raw_data and no int64_data.
func rewriteTensorData(tensor, raw []byte) ([]byte, error) {
	var out []byte
	for msg := tensor; len(msg) > 0; {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		size := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if size < 0 {
			return nil, protowire.ParseError(size)
		}
		if num != tensorRawData && num != tensorInt64Data {
			out = append(out, msg[:n+size]...)
		}
		msg = msg[n+size:]
	}
	out = protowire.AppendTag(out, tensorRawData, protowire.BytesType)
	return protowire.AppendBytes(out, raw), nil
}
