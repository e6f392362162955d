"""How fast the CPU reference (trtlab.reference) is, next to ONNX Runtime on the same model in the same run.

    python benchmarks/bench_reference.py [--digits 2000] [--repeat 5] [--resnet-batch 8] [--skip-resnet] [--profile]

Two models, built here as ONNX with random weights (the speed does not depend on them) and
parsed by TensorRT's OnnxParser for the reference: LeNet as the guide builds it (conv1 20@5x5
-> max-pool 2/2 -> conv2 50@5x5 -> max-pool 2/2 -> fc1 500 -> ReLU -> fc2 10) on 2,000 MNIST-sized
digits, and a ResNet-18-sized network (the torchvision layout: 7x7/2 stem, 3x3 max-pool, four
stages of two basic blocks at 64/128/256/512 channels, batch normalization, global average pool,
fc 1000) at batch 8, 224x224. ONNX Runtime runs the same ONNX file on the CPU with its default
threads. The two run interleaved (the machine's load changes); prints the best of ``--repeat``
runs of each, the ratio of the bests and the median ratio of paired runs, and checks the outputs agree.
Goal (issue 17): LeNet within 2x of ONNX Runtime.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from trtlab import backend, reference


def _w(rng, *shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    return (rng.standard_normal(shape) * (scale or np.sqrt(2 / fan_in))).astype(np.float32)


def lenet_onnx(rng):
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w1", _w(rng, 20, 1, 5, 5)), ("b1", _w(rng, 20, scale=0.1)), ("w2", _w(rng, 50, 20, 5, 5)),
        ("b2", _w(rng, 50, scale=0.1)), ("w3", _w(rng, 800, 500)), ("b3", _w(rng, 500, scale=0.1)),
        ("w4", _w(rng, 500, 10)), ("b4", _w(rng, 10, scale=0.1)), ("shape", np.array([0, -1], np.int64))]]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], kernel_shape=[5, 5]),
        helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[5, 5]),
        helper.make_node("MaxPool", ["c2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p2", "shape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w3", "b3"], ["f1"]),
        helper.make_node("Relu", ["f1"], ["r1"]),
        helper.make_node("Gemm", ["r1", "w4", "b4"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "lenet", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def resnet18_onnx(rng, batch):
    nodes, inits = [], []

    def conv_bn(x, cin, cout, k, stride, name, relu=True):
        inits.append(numpy_helper.from_array(_w(rng, cout, cin, k, k), f"{name}.w"))
        for p, v in (("g", 1 + 0.1 * rng.standard_normal(cout)), ("b", 0.1 * rng.standard_normal(cout)),
                     ("m", 0.1 * rng.standard_normal(cout)), ("v", 1 + 0.1 * rng.random(cout))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), f"{name}.{p}"))
        nodes.append(helper.make_node("Conv", [x, f"{name}.w"], [f"{name}.c"], kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[k // 2] * 4))
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.c"] + [f"{name}.{p}" for p in "gbmv"], [f"{name}.bn"]))
        if not relu:
            return f"{name}.bn"
        nodes.append(helper.make_node("Relu", [f"{name}.bn"], [f"{name}.r"]))
        return f"{name}.r"

    x = conv_bn("input", 3, 64, 7, 2, "stem")
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, cin = "pool", 64
    for stage, cout in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage and not block else 1
            name = f"s{stage}b{block}"
            y = conv_bn(x, cin, cout, 3, stride, f"{name}.1")
            y = conv_bn(y, cout, cout, 3, 1, f"{name}.2", relu=False)
            short = conv_bn(x, cin, cout, 1, stride, f"{name}.down", relu=False) if stride != 1 or cin != cout else x
            nodes.append(helper.make_node("Add", [y, short], [f"{name}.add"]))
            nodes.append(helper.make_node("Relu", [f"{name}.add"], [f"{name}.out"]))
            x, cin = f"{name}.out", cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    inits += [numpy_helper.from_array(_w(rng, 1000, 512), "fc.w"), numpy_helper.from_array(_w(rng, 1000, scale=0.1), "fc.b")]
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1))
    graph = helper.make_graph(nodes, "resnet18", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 224, 224])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 1000])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def parse(trt, model):
    builder = trt.Builder(backend.logger(trt))
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, backend.logger(trt))
    if not parser.parse(model.SerializeToString()):
        raise SystemExit(f"TensorRT refused the model: {parser.get_error(0).desc()}")
    return builder, network, parser


def best_of(repeat, fn):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), times, out


def compare(trt, name, model, x, repeat, profile=False):
    import onnxruntime as ort
    _keep = parse(trt, model)
    network = _keep[1]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    run_ref = lambda: reference.evaluate(network, {"input": x})["logits"]  # noqa: E731
    run_ort = lambda: session.run(None, {"input": x})[0]  # noqa: E731
    run_ref(), run_ort()  # warm-up
    ref_all, ort_all = [], []
    for _ in range(repeat):  # interleaved, so both see the same machine load
        ref_all.append(best_of(1, run_ref)[0])
        ort_all.append(best_of(1, run_ort)[0])
    ref_out, ort_out = run_ref(), run_ort()
    ref_best, ort_best = min(ref_all), min(ort_all)
    paired = sorted(r / o for r, o in zip(ref_all, ort_all))
    err = float(np.max(np.abs(ref_out - ort_out)) / max(1.0, float(np.max(np.abs(ort_out)))))
    print(f"{name}: CPU reference best {ref_best:.3f} s (runs {', '.join(f'{t:.3f}' for t in ref_all)}); "
          f"ONNX Runtime best {ort_best:.3f} s (runs {', '.join(f'{t:.3f}' for t in ort_all)}); "
          f"reference / ONNX Runtime: best/best {ref_best / ort_best:.2f}x, median of paired runs "
          f"{paired[len(paired) // 2]:.2f}x; outputs agree to {err:.1e} (relative to max |logit|)")
    if profile:
        import cProfile
        import pstats
        cProfile.runctx("reference.evaluate(network, {'input': x})", globals(), locals(), "/tmp/bench_reference.prof")
        pstats.Stats("/tmp/bench_reference.prof").sort_stats("cumulative").print_stats(18)
    return ref_best, ort_best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--resnet-batch", type=int, default=8)
    ap.add_argument("--skip-resnet", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    trt = backend.load()
    rng = np.random.default_rng(0)
    print(f"{backend.name_of(trt)} {trt.__version__} networks; NumPy {np.__version__}; {os.cpu_count()} CPUs")
    compare(trt, f"LeNet, {args.digits} digits", lenet_onnx(rng), rng.random((args.digits, 1, 28, 28), dtype=np.float32),
            args.repeat, args.profile)
    if not args.skip_resnet:
        compare(trt, f"ResNet-18-sized, batch {args.resnet_batch}, 224x224", resnet18_onnx(rng, args.resnet_batch),
                rng.random((args.resnet_batch, 3, 224, 224), dtype=np.float32), max(2, args.repeat // 2), args.profile)


if __name__ == "__main__":
    main()
