"""How long the LeNet engine build takes on this machine (goal: <= 2 s on a 2-core CPU with TensorRT-RTX).

    python benchmarks/bench_build.py [--repeat 3] [--max-batch 64] [--source scratch|onnx|both]

``scratch``: the network of chapter 02, written with the layer API (``network.populate_lenet``),
with random weights — the build time does not depend on their values, so no TensorFlow is
needed. ``onnx``: ``artifacts/lenet.onnx`` through ``OnnxParser`` (chapter 03), made first if
missing (that trains the model once). Each build is a fresh builder, network and config; the
script prints every time and the best, and the serialized engine's size. It asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from trtlab import backend, network as trtlab_network, parse

SHAPES = {"conv1.weight": (20, 1, 5, 5), "conv1.bias": (20,), "conv2.weight": (50, 20, 5, 5), "conv2.bias": (50,),
          "fc1.weight": (500, 800), "fc1.bias": (500,), "fc2.weight": (10, 500), "fc2.bias": (10,)}


def random_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(s) * 0.05).astype(np.float32) for k, s in SHAPES.items()}


def build_once(trt, make_network, max_batch: int) -> tuple[float, int, float]:
    """(seconds for build_serialized_network, engine bytes, seconds to define the network)."""
    start = time.perf_counter()
    keep, builder, network, input_name = make_network()
    define = time.perf_counter() - start
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape(input_name, (1, 1, 28, 28), (max_batch, 1, 28, 28), (max_batch, 1, 28, 28))
    config.add_optimization_profile(profile)
    start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    if plan is None:
        raise SystemExit("the build failed (see the TensorRT log above)")
    del keep
    return seconds, plan.nbytes, define


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--source", choices=["scratch", "onnx", "both"], default="both")
    args = ap.parse_args()

    trt = backend.load()
    caps = backend.probe()
    print(caps)
    if not caps.can_build:
        raise SystemExit(f"cannot build here: {caps.build_reason}")
    weights = random_weights()

    def scratch():
        builder = trt.Builder(backend.logger(trt))
        network = builder.create_network(0)
        trtlab_network.populate_lenet(network, weights, trt)
        return weights, builder, network, "input"

    def from_onnx():
        from trtlab import models

        builder, network, parser = parse.parse_onnx(models.lenet_onnx())
        return parser, builder, network, network.get_input(0).name

    sources = {"scratch": scratch, "onnx": from_onnx}
    chosen = list(sources) if args.source == "both" else [args.source]
    for name in chosen:
        times, size, define = [], 0, 0.0
        for _ in range(args.repeat):
            seconds, size, define = build_once(trt, sources[name], args.max_batch)
            times.append(seconds)
        print(f"LeNet ({name}) engine build, batch 1..{args.max_batch}, {backend.name_of(trt)} {trt.__version__}: "
              f"best {min(times):.3f} s, median {statistics.median(times):.3f} s over {len(times)} builds "
              f"[{', '.join(f'{t:.3f}' for t in times)}]; network defined in {define:.3f} s; "
              f"engine {size / 1024:.0f} KiB (goal: <= 2 s)")


if __name__ == "__main__":
    main()
