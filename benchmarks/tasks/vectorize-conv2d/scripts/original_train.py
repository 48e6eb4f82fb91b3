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


def convolution_step(image_portion, kernel, bias):
    """One output value: the sum of a window of the image times the kernel, plus the bias."""
    return np.sum(np.multiply(image_portion, kernel)) + bias


def conv2d_forward(x, weight, bias, stride=STRIDE, padding=PADDING):
    """Convolve x (N, C_in, H, W) with weight (C_out, C_in, K, K), add bias (C_out,).

    Zero padding of `padding` pixels on each side, then windows every `stride` pixels.
    Returns an array of shape (N, C_out, H_out, W_out) with H_out = (H + 2 * padding - K) // stride + 1.
    """
    batch_size, _, height, width = x.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out_h = (height + 2 * padding - kernel_h) // stride + 1
    out_w = (width + 2 * padding - kernel_w) // stride + 1
    output = np.zeros((batch_size, out_channels, out_h, out_w))
    for n in range(batch_size):
        for i in range(out_h):
            for j in range(out_w):
                top, left = i * stride, j * stride
                image_portion = padded[n, :, top : top + kernel_h, left : left + kernel_w]
                for c in range(out_channels):
                    output[n, c, i, j] = convolution_step(image_portion, weight[c], bias[c])
    return output


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
