"""Build env/train.npz, env/test.npz and scripts/answer.npz from the Debian dataset-fashion-mnist package."""

import gzip
import sys
from pathlib import Path

import numpy as np

SOURCE = Path("/usr/share/datasets/fashion-mnist")
SEED = 20240302
N_TRAIN = 20000
N_TEST = 5000


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (the MNIST format): magic, dimensions, then raw unsigned bytes."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = SOURCE / f"{prefix}-images-idx3-ubyte.gz", SOURCE / f"{prefix}-labels-idx1-ubyte.gz"
    for path in (images, labels):
        if not path.is_file():
            sys.exit(f"{path} is missing: install the data with `apt-get install dataset-fashion-mnist`.")
    return read_idx(images), read_idx(labels)


def main() -> None:
    here = Path(__file__).resolve().parent
    env = here.parent / "env"
    rng = np.random.RandomState(SEED)
    train_x, train_y = load("train")
    test_x, test_y = load("t10k")
    tr = np.sort(rng.choice(len(train_x), N_TRAIN, replace=False))
    te = np.sort(rng.choice(len(test_x), N_TEST, replace=False))
    np.savez_compressed(env / "train.npz", images=train_x[tr], labels=train_y[tr].astype(np.int64))
    ids = np.arange(1, N_TEST + 1)
    np.savez_compressed(env / "test.npz", ids=ids, images=test_x[te])
    np.savez_compressed(here / "answer.npz", ids=ids, labels=test_y[te].astype(np.int64))
    print(f"train {N_TRAIN} images, test {N_TEST} images")


if __name__ == "__main__":
    main()
