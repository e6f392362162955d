"""The guide's MNIST LeNet in TensorFlow/Keras: build, train, export weights, freeze, ONNX.

    model = trained_lenet()            # artifacts/lenet.keras, trained once, then cached
    weights = lenet_weights(model)     # name -> array in TensorRT's layouts (KCRS, out x in)
    pb = freeze(model, "lenet.pb")     # frozen GraphDef: input `Placeholder`, output `logits`
    onnx_path = lenet_onnx()           # artifacts/lenet.onnx, NCHW input, everything made if missing

The network (chapter 3.2 of the guide):

    input 28x28x1 -> conv1 20@5x5 -> maxpool 2x2/2 -> conv2 50@5x5 -> maxpool 2x2/2
                  -> fc1 500 -> ReLU -> fc2 10 (logits)

TensorFlow is imported lazily: ``import trtlab.models`` stays fast, the first call that needs
TensorFlow pays its ~3-5 s import.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import convert
from .common import artifacts_dir, atomic_write
from .convert import import_tensorflow  # noqa: F401  (it lives with the TensorFlow -> ONNX code)

INPUT_NODE = "Placeholder"   # the guide's input node name (TF1's default for tf.placeholder)
OUTPUT_NODE = "logits"       # named for what it holds (the guide's was "fc2/Relu": see freeze())
INPUT_SHAPE_NHWC = (28, 28, 1)
NUM_CLASSES = 10
SEED = 0

# The layer names are the keys of lenet_weights(): "conv1.weight", "fc1.bias", ...
LAYERS = ("conv1", "conv2", "fc1", "fc2")


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import_tensorflow()
    import keras

    return keras


# --- the model -----------------------------------------------------------------------------
def build_lenet() -> Any:
    """An untrained LeNet, NHWC input (None, 28, 28, 1), logits out (None, 10)."""
    keras = _keras()
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE_NHWC, name="image"),
            L.Conv2D(20, 5, name="conv1"),                 # 28x28x1 -> 24x24x20 ('valid': no padding)
            L.MaxPooling2D(2, strides=2, name="pool1"),    # -> 12x12x20
            L.Conv2D(50, 5, name="conv2"),                 # -> 8x8x50
            L.MaxPooling2D(2, strides=2, name="pool2"),    # -> 4x4x50
            L.Flatten(name="flatten"),                     # -> 800, in H, W, C order (NHWC!)
            L.Dense(500, activation="relu", name="fc1"),   # fc1 + ReLU (the guide's relu1)
            L.Dense(NUM_CLASSES, name="fc2"),              # logits, no softmax
        ],
        name="lenet",
    )


def _meta_path(model_path: Path) -> Path:
    return model_path.with_suffix(model_path.suffix + ".json")


def train_lenet(epochs: int = 2, batch_size: int | None = None, verbose: int | str = 2,
                data: Any = None) -> tuple[Any, dict]:
    """Train a fresh LeNet on ``load_mnist()``; returns (model, info) where info holds the
    measured test accuracy, the data source and the training time.

    ``batch_size`` defaults to 32 for the 8,000-digit sample (more steps: 2 epochs reach ~98 %)
    and 128 for the full 60,000 digits, so that 2 epochs stay near a minute on 2 CPU cores (on
    the sample, 128 made training ~30 % faster; the full set's accuracy with it was not measured
    on the machine this was written on, which cannot download it)."""
    keras = _keras()
    if data is None:
        from .data import load_mnist

        data = load_mnist()
    batch_size = batch_size or (32 if len(data.x_train) <= 20_000 else 128)
    keras.utils.set_random_seed(SEED)
    model = build_lenet()
    # Adam with a cosine-decaying learning rate (3e-3 down to 1.5e-4 over the whole run): with only
    # 8,000 training digits and two epochs, a constant rate ends noisily around 96-97 %; the decay
    # settles it at about 98 % on the sample's test split (measured on seeds 0-2).
    steps = epochs * -(-len(data.x_train) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size, verbose=verbose,
              validation_data=(data.x_test, data.y_test))
    seconds = time.perf_counter() - start
    logits = model.predict(data.x_test, batch_size=500, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    info = {"epochs": epochs, "batch_size": batch_size, "source": data.source,
            "train_images": len(data.x_train), "test_images": len(data.x_test),
            "test_accuracy": accuracy, "train_seconds": round(seconds, 2)}
    return model, info


def trained_lenet(epochs: int = 2, artifacts: str | os.PathLike | None = None, *, force: bool = False,
                  verbose: int | str = 2) -> Any:
    """The trained LeNet, cached at ``artifacts/lenet.keras`` (plus ``lenet.keras.json`` with how
    it was trained and its test accuracy). A cached model is reused whatever ``epochs`` says;
    ``force=True`` trains again."""
    keras = _keras()
    folder = Path(artifacts) if artifacts is not None else artifacts_dir()
    path = folder / "lenet.keras"
    if path.exists() and not force:
        try:
            return keras.models.load_model(path)
        except Exception as exc:  # a truncated or foreign file: say so, then train again
            print(f"cached {path} unreadable ({type(exc).__name__}: {exc}); training again")
    model, info = train_lenet(epochs=epochs, verbose=verbose)
    folder.mkdir(parents=True, exist_ok=True)
    # Keras insists on the .keras suffix: save beside the target, then rename (atomic).
    tmp = folder / f".lenet.{os.getpid()}.tmp.keras"
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    atomic_write(_meta_path(path), json.dumps(info, indent=2).encode())
    return model


def training_info(artifacts: str | os.PathLike | None = None) -> dict:
    """What ``lenet.keras.json`` says about the cached model (empty if there is none)."""
    folder = Path(artifacts) if artifacts is not None else artifacts_dir()
    meta = _meta_path(folder / "lenet.keras")
    return json.loads(meta.read_text()) if meta.exists() else {}


# --- weights in TensorRT's layouts -------------------------------------------------------------
def lenet_weights(model: Any) -> dict[str, np.ndarray]:
    """LeNet's weights as name -> float32 array, in the layouts TensorRT's layer API expects.

    Keys: conv1.weight, conv1.bias, conv2.weight, conv2.bias, fc1.weight, fc1.bias,
    fc2.weight, fc2.bias (the names the guide's 3.2.1 code reads).
    """
    w: dict[str, np.ndarray] = {}
    for name in ("conv1", "conv2"):
        kernel, bias = (np.asarray(v) for v in model.get_layer(name).get_weights())
        # Keras stores a Conv2D kernel as HWIO: (R, S, C, K) = (height, width, in, out).
        # TensorRT's add_convolution_nd wants KCRS: (out, in, height, width), i.e. axes
        # (3, 2, 0, 1) of the Keras array. Same numbers, different order in memory.
        w[f"{name}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), dtype=np.float32)
        w[f"{name}.bias"] = np.ascontiguousarray(bias, dtype=np.float32)

    # fc1: Keras Dense keeps its kernel as (in, out) and computes x @ kernel; we store (out, in)
    # (PyTorch's and the guide's layout) so the network multiplies by its transpose.
    kernel, bias = (np.asarray(v) for v in model.get_layer("fc1").get_weights())  # (800, 500)
    # The 800 inputs come from flattening pool2's 4x4x50 output. Keras flattens NHWC, so input
    # row i is (h, w, c) with i = (h*4 + w)*50 + c. The TensorRT network is NCHW and flattens
    # (c, h, w): i' = (c*4 + h)*4 + w. Same numbers, different order: reorder the rows from
    # (h, w, c) to (c, h, w) before transposing, or fc1 multiplies the wrong pixels together.
    pool_h, pool_w, channels = model.get_layer("pool2").output.shape[1:]
    kernel = kernel.reshape(pool_h, pool_w, channels, -1).transpose(2, 0, 1, 3).reshape(kernel.shape)
    w["fc1.weight"] = np.ascontiguousarray(kernel.T, dtype=np.float32)      # (500, 800) out x in
    w["fc1.bias"] = np.ascontiguousarray(bias, dtype=np.float32)

    kernel, bias = (np.asarray(v) for v in model.get_layer("fc2").get_weights())  # (500, 10)
    w["fc2.weight"] = np.ascontiguousarray(kernel.T, dtype=np.float32)      # (10, 500) out x in
    w["fc2.bias"] = np.ascontiguousarray(bias, dtype=np.float32)
    return w


# --- frozen GraphDef (the guide's .pb) --------------------------------------------------------
def frozen_graph_def(model: Any) -> Any:
    """The model as a frozen ``tf.compat.v1.GraphDef``: variables turned into constants,
    input node ``Placeholder`` (N, 28, 28, 1) float32, output node ``logits`` (N, 10).

    About the output's name: the guide's TensorFlow graph ended in a node called ``fc2/Relu``.
    A real ReLU on the logits would clip every negative score to 0 — a digit whose ten logits
    are all negative would come out as ten zeros, and argmax would pick class 0 — and an
    ``Identity`` merely *named* ``fc2/Relu`` would tell every reader of the graph (Netron,
    ``polygraphy inspect``, the engine's I/O table) that a ReLU is there when none is. So the
    output is an ``Identity`` on the logits named for what it holds: ``logits``.
    """
    tf = import_tensorflow()
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec([None, *INPUT_SHAPE_NHWC], tf.float32, name=INPUT_NODE)

    @tf.function(input_signature=[spec])
    def lenet(x):
        logits = model(x, training=False)
        return tf.identity(logits, name=OUTPUT_NODE)

    frozen = convert_variables_to_constants_v2(lenet.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    # tf.function appends its own `Identity` return node (and a NoOp); keep only what
    # `logits` needs, so the graph's one sink is the output node.
    return prune(graph_def, [OUTPUT_NODE])


def prune(graph_def: Any, outputs: list[str]) -> Any:
    """Keep only the nodes ``outputs`` depend on (inputs and control inputs), in their order."""
    by_name = {n.name: n for n in graph_def.node}
    keep: set[str] = set()
    todo = list(outputs)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(i.lstrip("^").split(":")[0] for i in by_name[name].input)
    pruned = type(graph_def)()
    pruned.versions.CopyFrom(graph_def.versions)
    pruned.library.CopyFrom(graph_def.library)
    pruned.node.extend(n for n in graph_def.node if n.name in keep)
    return pruned


def freeze(model: Any, path: str | os.PathLike) -> Path:
    """Write the frozen GraphDef (input ``Placeholder``, output ``logits``) to ``path``."""
    return atomic_write(path, frozen_graph_def(model).SerializeToString())


def lenet_pb(artifacts: str | os.PathLike | None = None) -> Path:
    """artifacts/lenet.pb, frozen from the cached trained model (made if missing)."""
    folder = Path(artifacts) if artifacts is not None else artifacts_dir()
    path = folder / "lenet.pb"
    if not path.exists():
        freeze(trained_lenet(artifacts=folder), path)
    return path


def lenet_onnx(artifacts: str | os.PathLike | None = None) -> Path:
    """artifacts/lenet.onnx: the frozen LeNet through tf2onnx with an NCHW input
    ``Placeholder:0`` (-1, 1, 28, 28) float32 and output ``logits:0`` (-1, 10).
    Trains, freezes and converts whatever is missing; cached."""
    folder = Path(artifacts) if artifacts is not None else artifacts_dir()
    path = folder / "lenet.onnx"
    if not path.exists():
        convert.to_onnx(lenet_pb(folder), path, nchw=True)
    return path


def tf_logits(model: Any, images_nhwc: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """TensorFlow's logits for NHWC images (the ground truth the TensorRT networks are checked against)."""
    return np.asarray(model.predict(images_nhwc, batch_size=batch_size, verbose=0), dtype=np.float32)

