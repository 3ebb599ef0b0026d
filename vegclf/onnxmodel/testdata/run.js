// Runs an ONNX model with ONNX Runtime's Node.js binding (npm onnxruntime-node), not vegclf's code, for
// vegclf's onnxmodel tests.
//
// usage: node run.js MODEL.onnx INPUT.bin BATCH CHANNELS HEIGHT WIDTH [BATCH...]
//
// INPUT.bin holds float32 little-endian pixel_values [N, C, H, W]; the model runs on them in chunks of the
// given batch sizes, in order, starting over at the first image after the last, and the script prints JSON: {"inputs": [...], "outputs": [...],
// "probabilities": [[...] per image]}, the softmax of each logits row.
const ort = require('onnxruntime-node');
const fs = require('fs');

async function main() {
  const [model, input, ...rest] = process.argv.slice(2);
  const [, c, h, w] = rest.slice(0, 4).map(Number);
  const batches = [Number(rest[0]), ...rest.slice(4).map(Number)];
  const raw = fs.readFileSync(input);
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const session = await ort.InferenceSession.create(model);
  const image = c * h * w;
  const probabilities = [];
  const total = all.length / image;
  let at = 0;
  for (const n of batches) {
    at %= total;
    const data = all.slice(at * image, (at + n) * image);
    const out = await session.run({pixel_values: new ort.Tensor('float32', data, [n, c, h, w])});
    const logits = out.logits;
    const classes = logits.dims[1];
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.data.slice(i * classes, (i + 1) * classes));
      const top = Math.max(...row);
      const exp = row.map(v => Math.exp(v - top));
      const sum = exp.reduce((a, b) => a + b, 0);
      probabilities.push(exp.map(v => v / sum));
    }
    at += n;
  }
  console.log(JSON.stringify({inputs: session.inputNames, outputs: session.outputNames, probabilities}));
}

main().catch(e => { console.error(e); process.exit(1); });
