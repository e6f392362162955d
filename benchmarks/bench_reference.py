"""How fast the CPU reference (trtlab.reference) evaluates LeNet: 2,000 MNIST digits.

    python benchmarks/bench_reference.py [--digits 2000] [--repeat 3] [--onnx artifacts/lenet.onnx]

LeNet as the guide builds it (conv1 20@5x5 -> max-pool 2/2 -> conv2 50@5x5 -> max-pool 2/2
-> fc1 500 -> ReLU -> fc2 10), with random weights: the speed does not depend on them; or,
with ``--onnx``, the network TensorRT's ONNX parser makes of that file.
Prints the best of ``--repeat`` runs. Target: <= 2 s for 2,000 digits on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from trtlab import backend, reference


def lenet_network(trt, rng):
    """The scratch LeNet on the layer API: explicit batch, fc as shuffle + constant + matmul + bias."""
    builder = trt.Builder(backend.logger(trt))
    network = builder.create_network(0)
    x = network.add_input("input", trt.float32, (-1, 1, 28, 28))

    def w(*shape):
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)

    conv1 = network.add_convolution_nd(x, 20, (5, 5), w(20, 1, 5, 5), w(20))
    pool1 = network.add_pooling_nd(conv1.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool1.stride_nd = (2, 2)
    conv2 = network.add_convolution_nd(pool1.get_output(0), 50, (5, 5), w(50, 20, 5, 5), w(50))
    pool2 = network.add_pooling_nd(conv2.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool2.stride_nd = (2, 2)
    flat = network.add_shuffle(pool2.get_output(0))
    flat.reshape_dims = (0, -1)

    def fc(t, n_in, n_out):
        weight = network.add_constant((n_out, n_in), w(n_out, n_in))
        mm = network.add_matrix_multiply(t, trt.MatrixOperation.NONE, weight.get_output(0), trt.MatrixOperation.TRANSPOSE)
        bias = network.add_constant((1, n_out), w(1, n_out))
        return network.add_elementwise(mm.get_output(0), bias.get_output(0), trt.ElementWiseOperation.SUM).get_output(0)

    fc1 = fc(flat.get_output(0), 800, 500)
    relu = network.add_activation(fc1, trt.ActivationType.RELU)
    out = fc(relu.get_output(0), 500, 10)
    out.name = "logits"
    network.mark_output(out)
    return builder, network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--onnx", help="an ONNX LeNet (NCHW input) to parse instead of the scratch network")
    args = parser.parse_args()
    trt = backend.load()
    rng = np.random.default_rng(0)
    if args.onnx:
        builder = trt.Builder(backend.logger(trt))
        network = builder.create_network(0)
        onnx_parser = trt.OnnxParser(network, backend.logger(trt))
        if not onnx_parser.parse_from_file(args.onnx):
            raise SystemExit(f"{args.onnx}: {onnx_parser.get_error(0)}")
        source = args.onnx
    else:
        builder, network = lenet_network(trt, rng)
        source = "scratch"
    name = network.get_input(0).name
    x = rng.random((args.digits, 1, 28, 28), dtype=np.float32)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        [logits] = reference.evaluate(network, {name: x}).values()
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"CPU reference, LeNet ({source}), {args.digits} digits ({backend.name_of(trt)} network): "
          f"best {best:.3f} s of {args.repeat} ({args.digits / best:,.0f} digits/s), "
          f"all runs {', '.join(f'{t:.3f}' for t in times)} s; logits {logits.shape}")


if __name__ == "__main__":
    main()
