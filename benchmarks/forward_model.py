r"""Multi-coil forward + adjoint throughput: jitted JAX vs scipy.fft.

Both sides do the same work on the same complex64 data: for each of `batch`
images, y = M F (S x) over `coils` coils, then x' = sum_c conj(S_c) F^H (M y_c),
with centered orthonormal FFTs. scipy runs with `workers` threads. Prints the
machine, both throughputs (images per second, forward + adjoint) and the ratio
JAX / scipy measured in this one run.

  python benchmarks/forward_model.py --batch=8 --coils=16 --size=320
"""

import argparse
import os
import platform
import statistics
import time

import jax
import numpy as np
import scipy.fft

from kspace import coils
from kspace import masks
from kspace import operators


def scipy_forward_adjoint(x, sens, mask, workers):
  """The same operator pair with scipy.fft (complex64 throughout)."""
  axes = (-2, -1)
  coil_images = sens * x[:, None]
  kspace = (
      scipy.fft.fftshift(
          scipy.fft.fft2(
              scipy.fft.ifftshift(coil_images, axes=axes),
              axes=axes,
              norm="ortho",
              workers=workers,
          ),
          axes=axes,
      )
      * mask[:, None]
  )
  back = scipy.fft.fftshift(
      scipy.fft.ifft2(
          scipy.fft.ifftshift(kspace * mask[:, None], axes=axes),
          axes=axes,
          norm="ortho",
          workers=workers,
      ),
      axes=axes,
  )
  return kspace, np.sum(np.conj(sens) * back, axis=1)


def make_inputs(batch, num_coils, size, seed=0):
  """Random complex64 images (B,H,W), birdcage maps (B,C,H,W) and random
  4x masks (B,H,W), numpy."""
  rng = np.random.default_rng(seed)
  shape = (batch, size, size)
  x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(
      np.complex64
  )
  sens = np.broadcast_to(
      np.asarray(coils.birdcage_maps((size,) * 2, num_coils)),
      (batch, num_coils, size, size),
  ).copy()
  mask = np.asarray(
      jax.vmap(lambda k: masks.random_mask(k, (size, size), 0.08, 4))(
          jax.random.split(jax.random.key(seed), batch)
      )
  )
  return x, sens, mask


@jax.jit
def jax_forward_adjoint(x, sens, mask):
  kspace = operators.forward_batch(x, sens, mask)
  return kspace, operators.adjoint_batch(kspace, sens, mask)


def time_call(fn, repeats):
  """Median seconds per call over `repeats` calls after one warm-up."""
  fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--coils", type=int, default=16)
  parser.add_argument("--size", type=int, default=320)
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--repeats", type=int, default=10)
  args = parser.parse_args()

  x, sens, mask = make_inputs(args.batch, args.coils, args.size)
  x_dev, sens_dev, mask_dev = jax.device_put((x, sens, mask))
  ours = jax_forward_adjoint(x_dev, sens_dev, mask_dev)
  reference = scipy_forward_adjoint(x, sens, mask, args.workers)
  error = (
      np.abs(np.asarray(ours[1]) - reference[1]).max()
      / np.abs(reference[1]).max()
  )
  assert error < 1e-4, f"JAX and scipy disagree: relative error {error:.2e}"

  jax_seconds = time_call(
      lambda: jax.block_until_ready(
          jax_forward_adjoint(x_dev, sens_dev, mask_dev)
      ),
      args.repeats,
  )
  scipy_seconds = time_call(
      lambda: scipy_forward_adjoint(x, sens, mask, args.workers), args.repeats
  )
  print(
      f"machine: {platform.machine()} {platform.processor() or ''} "
      f"{os.cpu_count()} CPUs, jax {jax.__version__} on "
      f"{jax.devices()[0].platform}, scipy {scipy.__version__}"
  )
  print(
      f"work: batch {args.batch} x {args.coils} coils x {args.size}^2, "
      f"forward + adjoint, complex64; max relative difference {error:.1e}"
  )
  print(
      f"jax (jit):            {jax_seconds * 1e3:8.1f} ms/batch  "
      f"{args.batch / jax_seconds:7.2f} images/s"
  )
  print(
      f"scipy (workers={args.workers}):  {scipy_seconds * 1e3:8.1f} ms/batch  "
      f"{args.batch / scipy_seconds:7.2f} images/s"
  )
  print(f"ratio jax / scipy: {scipy_seconds / jax_seconds:.2f}x")


if __name__ == "__main__":
  main()
