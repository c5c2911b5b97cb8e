// A Parameter reads like the Tensor it wraps, and its helpers give what
// torch's give for an nn.Parameter.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { Parameter, Tensor } from "../lib/torch/tensor.ts";

const fixture = new URL("./fixtures/tensors.ckpt", import.meta.url).pathname;

Deno.test("a Parameter's reading members are its data's", async () => {
  const ckpt = await Checkpoint.open(fixture);
  try {
    const root = ckpt.root as PyDict<string, unknown>;
    for (const name of ["param_grad", "param_frozen"]) {
      const p = root.getItem(name) as Parameter;
      assert.ok(p instanceof Parameter);
      const data = p.data;
      assert.equal(p.storage, data.storage);
      assert.equal(p.offset, data.offset);
      assert.deepEqual(p.shape, data.shape);
      assert.deepEqual(p.stride, data.stride);
      assert.equal(p.dtype, data.dtype);
      assert.equal(p.numel, data.numel);
      assert.equal(p.isContiguous, data.isContiguous);
      assert.equal(p.requiredBytes, data.requiredBytes);
      assert.deepEqual(p.layout, data.layout);
      assert.deepEqual(await p.bytes(), await data.bytes());
      assert.deepEqual(await p.toTypedArray(), await data.toTypedArray());
      assert.ok((await p.toTypedArray()) instanceof Float32Array);
    }
  } finally {
    ckpt.close();
  }
});

Deno.test("a Parameter's helpers give tensors that require grad, or the parameter itself", async () => {
  const data = Tensor.fromTypedArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  const p = new Parameter(data);
  const frozen = new Parameter(data, false);
  // Views and copies are plain tensors; they require grad when the parameter does.
  const views = [
    p.narrow(1, 1, 2),
    p.select(0, 1),
    ...p.chunk(2, 1),
    ...p.split(1),
    p.transpose(0, 1),
    p.t(),
    p.permute(1, 0),
    p.unsqueeze(0),
    p.squeeze(),
    p.expand(4, 2, 3),
    p.view(-1),
    await p.reshape(3, 2),
  ];
  for (const v of views) {
    assert.ok(v instanceof Tensor && !(v instanceof Parameter));
    assert.equal(v.storage, data.storage);
    assert.equal(v.requiresGrad, true);
  }
  assert.equal(frozen.view(-1).requiresGrad, false);
  assert.deepEqual(await p.select(0, 1).toTypedArray(), new Float32Array([4, 5, 6]));
  const copies = [await p.clone(), await p.to("float16"), await p.t().contiguous()];
  for (const c of copies) {
    assert.ok(c instanceof Tensor);
    assert.notEqual(c.storage, data.storage);
    assert.equal(c.requiresGrad, true);
  }
  // Where torch returns self, the parameter comes back.
  assert.equal(await p.to("float32"), p);
  assert.equal(await p.contiguous(), p);
  const vector = new Parameter(Tensor.zeros([3]));
  assert.equal(await vector.flatten(), vector);
  const flat = await p.flatten();
  assert.ok(!(flat instanceof Parameter) && flat.requiresGrad);
});
