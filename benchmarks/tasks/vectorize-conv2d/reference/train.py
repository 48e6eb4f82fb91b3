"""Forward pass of a 2-D convolution layer, written with plain Python loops over numpy arrays.

Running this script times conv2d_forward on fixed random inputs and prints the median seconds per call.
"""

import statistics
import time

import numpy as np

# Shapes of the benchmark: a batch of 4 RGB images of 128 x 128 pixels, 8 filters of 3 x 3.
BATCH_SIZE = 4
IN_CHANNELS = 3
OUT_CHANNELS = 8
HEIGHT = WIDTH = 128
KERNEL_SIZE = 3
STRIDE = 1
PADDING = 1
REPEATS = 3


def make_inputs(seed=0):
    """Random images x (N, C_in, H, W), filters weight (C_out, C_in, K, K) and bias (C_out,), float64."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH_SIZE, IN_CHANNELS, HEIGHT, WIDTH))
    weight = rng.standard_normal((OUT_CHANNELS, IN_CHANNELS, KERNEL_SIZE, KERNEL_SIZE)) * 0.1
    bias = rng.standard_normal(OUT_CHANNELS) * 0.1
    return x, weight, bias


def conv2d_forward(x, weight, bias, stride=STRIDE, padding=PADDING):
    """Convolve x (N, C_in, H, W) with weight (C_out, C_in, K, K), add bias (C_out,).

    Zero padding of `padding` pixels on each side, then windows every `stride` pixels.
    Returns an array of shape (N, C_out, H_out, W_out) with H_out = (H + 2 * padding - K) // stride + 1.
    """
    _, _, kernel_h, kernel_w = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    # Every K x K window as a view (no copy): shape (N, C_in, H_out, W_out, K, K) after striding.
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kernel_h, kernel_w), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    # Sum over input channels and the window for every filter at once.
    output = np.einsum("nchwij,ocij->nohw", windows, weight, optimize=True)
    return output + bias[None, :, None, None]


def main():
    x, weight, bias = make_inputs(seed=0)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        output = conv2d_forward(x, weight, bias, stride=STRIDE, padding=PADDING)
        times.append(time.perf_counter() - start)
    print(f"Output shape {output.shape}, checksum {output.sum():.6f}")
    print(f"Validation seconds: {statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
