r"""Training steps per second: our Flax U-Net / E2E-VarNet vs fastMRI's PyTorch.

Both sides run the same architecture and size on the same batch, image size,
coil count and mask: one step = forward, L1 loss against a target, backward
and an Adam update. The JAX step is one jitted function (parameters donated);
PyTorch uses the `fastmri` package's `Unet` and `VarNet` (fastmri 0.3.0) with
all CPU threads. Prints the machine, steps/s of each and the ratio JAX/PyTorch
measured side by side in this one run.

`--precisions=fp32,bf16` also times mixed precision: our models with
`dtype=bfloat16` (bf16 convolutions, float32 parameters; configs:
`model.compute_dtype`) against the same PyTorch step under
`torch.autocast("cpu", dtype=torch.bfloat16)`. XLA:CPU options (e.g.
`XLA_FLAGS=--xla_cpu_use_onednn`) are tried by setting them in the
environment of a run. `recon_runners` builds both sides for one model and
precision; benchmarks/gpu_table.py uses it on CUDA (`device="cuda"`).

Benchmark-only dependencies (NOT project dependencies):
  pip install torch==2.13.0          # the CPU build; other specs pull CUDA
  pip install --no-deps fastmri      # its deps (pandas, h5py, lightning...)
                                     # are not needed for the two models

  python benchmarks/recon_step.py --batch=4 --size=128 --coils=8 --repeats=10 \
      --precisions=fp32,bf16
"""

import argparse
import os
import platform
import statistics
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax

from kspace import coils
from kspace import fft
from kspace import masks
from kspace import operators
from recon.models import unet
from recon.models import varnet

NEGATIVE_SLOPE = 0.2  # fastMRI's leaky ReLU slope
NORM_EPS = 1e-5  # torch.nn.InstanceNorm2d default
STD_EPS = 1e-6
LEARNING_RATE = 3e-4
PAUSE_SECONDS = 0.5
DTYPES = {"fp32": jnp.float32, "bf16": jnp.bfloat16}


def import_fastmri_models():
  """fastmri.models.{Unet, VarNet} without fastmri.data's heavy imports.

  `fastmri.data.__init__` imports pandas/h5py for its datasets; the models
  only need `fastmri.data.transforms`, so the two subpackages are registered
  as bare namespaces and their modules loaded on demand.
  """
  import fastmri  # pylint: disable=g-import-not-at-top

  root = fastmri.__path__[0]
  for name in ("data", "models"):
    package = types.ModuleType(f"fastmri.{name}")
    package.__path__ = [os.path.join(root, name)]
    sys.modules[f"fastmri.{name}"] = package
  # pylint: disable=g-import-not-at-top
  from fastmri.models.unet import Unet
  from fastmri.models.varnet import VarNet
  # pylint: enable=g-import-not-at-top
  return Unet, VarNet


def make_data(batch, size, num_coils, center_fraction, acceleration, seed):
  """Complex images -> (masked k-space, mask, RSS target), numpy."""
  key = jax.random.key(seed)
  image_key, mask_key = jax.random.split(key)
  real, imag = jax.random.normal(image_key, (2, batch, size, size))
  image = (real + 1j * imag).astype(jnp.complex64)
  sens = jnp.broadcast_to(
      coils.birdcage_maps((size, size), num_coils),
      (batch, num_coils, size, size),
  )
  mask = masks.equispaced_mask(
      mask_key, (size, size), center_fraction, acceleration
  )
  mask = jnp.broadcast_to(mask, (batch, size, size))
  full = operators.forward_batch(image, sens, jnp.ones_like(mask))
  masked = mask[:, None] * full
  target = coils.rss(fft.ifft2c(full))
  return (
      np.asarray(masked),
      np.asarray(mask),
      np.asarray(target),
      np.asarray(unet.zero_filled_rss(masked)),
  )


def jax_step_fn(model, tx):
  """Jitted L1 + Adam step of a Linen model: (params, opt, *inputs, target)."""

  def step(params, opt_state, inputs, target):
    def loss_fn(p):
      return jnp.mean(jnp.abs(model.apply({"params": p}, *inputs) - target))

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return jax.jit(step, donate_argnums=(0, 1))


def time_side_by_side(steps, repeats, pause=PAUSE_SECONDS, warmup=2):
  """Median seconds per step of each callable, timed in alternation.

  `warmup` calls each (compilation, allocator), then `repeats` rounds
  that time every callable once, so load changes on a shared machine hit
  both sides alike. A pause before each timed call lets the other
  library's spinning worker threads (OpenMP, Eigen) go idle first (on a
  GPU, where the host only waits, `pause=0`).
  """
  for step in steps:
    for _ in range(warmup):
      step()
  times = [[] for _ in steps]
  for _ in range(repeats):
    for step, record in zip(steps, times):
      time.sleep(pause)
      start = time.perf_counter()
      step()
      record.append(time.perf_counter() - start)
  return [statistics.median(record) for record in times]


def jax_runner(model, inputs, target):
  """A no-argument train-step callable for a Linen model, and its size."""
  tx = optax.adam(LEARNING_RATE)
  params = jax.jit(model.init)(jax.random.key(0, impl="rbg"), *inputs)
  params = params["params"]
  state = {"params": params, "opt": tx.init(params)}
  step = jax_step_fn(model, tx)
  inputs = tuple(jnp.asarray(x) for x in inputs)
  target = jnp.asarray(target)

  def run():
    state["params"], state["opt"], loss = step(
        state["params"], state["opt"], inputs, target
    )
    loss.block_until_ready()

  return run, sum(x.size for x in jax.tree.leaves(params))


def torch_runner(forward, parameters, inputs, target, bf16=False, device="cpu"):
  """A no-argument train-step callable for a torch model, and its size;
  `bf16` runs the forward (and so the backward) under autocast on
  `device` ("cpu" | "cuda"; on CUDA each call waits for the GPU)."""
  import torch  # pylint: disable=g-import-not-at-top

  parameters = list(parameters)
  optimizer = torch.optim.Adam(parameters, lr=LEARNING_RATE)

  def run():
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
      output = forward(*inputs)
    loss = torch.mean(torch.abs(output.float() - target))
    loss.backward()
    optimizer.step()
    if device == "cuda":
      torch.cuda.synchronize()

  return run, sum(p.numel() for p in parameters)


def recon_runners(name, precision, sizes, data, torch_models, device="cpu"):
  """The JAX and PyTorch train-step runners of one model and precision.

  Args:
    name: "unet" | "varnet".
    precision: a key of `DTYPES` ("bf16": our `dtype=bfloat16`, torch's
      autocast).
    sizes: batch, size, coils, unet_chans, pools, cascades, varnet_chans,
      sens_chans and center_fraction (this script's flags).
    data: `make_data`'s (masked k-space, mask, target, zero-filled RSS).
    torch_models: `import_fastmri_models()`.
    device: the torch device ("cpu" | "cuda"); JAX uses its default one.

  Returns:
    ([(jax_run, jax_params), (torch_run, torch_params)], description).
  """
  import torch  # pylint: disable=g-import-not-at-top

  masked, mask, target, zero_filled = data
  torch_unet, torch_varnet = torch_models
  bf16, dtype = precision == "bf16", DTYPES[precision]

  def to_torch(array):
    return torch.from_numpy(np.array(array)).to(device)

  if name == "unet":
    model = unet.Unet(
        1, sizes.unet_chans, sizes.pools, NEGATIVE_SLOPE, NORM_EPS, dtype=dtype
    )
    module = torch_unet(1, 1, sizes.unet_chans, sizes.pools, drop_prob=0.0)
    module = module.to(device)
    runners = [
        jax_runner(model, (zero_filled[..., None],), target[..., None]),
        torch_runner(
            module,
            module.parameters(),
            (to_torch(zero_filled[:, None]),),
            to_torch(target[:, None]),
            bf16=bf16,
            device=device,
        ),
    ]
    return runners, (
        f"U-Net chans {sizes.unet_chans}, {sizes.pools} pools, batch"
        f" {sizes.batch} x 1 x {sizes.size}^2"
    )
  if name != "varnet":
    raise ValueError(f"unknown model {name!r}: unet | varnet")
  num_low = masks.num_low_frequencies(sizes.size, sizes.center_fraction)
  model = varnet.VarNet(
      sizes.cascades,
      sizes.varnet_chans,
      sizes.pools,
      sizes.sens_chans,
      sizes.pools,
      num_low,
      1.0,
      NEGATIVE_SLOPE,
      NORM_EPS,
      STD_EPS,
      STD_EPS,
      dtype=dtype,
  )
  module = torch_varnet(
      num_cascades=sizes.cascades,
      sens_chans=sizes.sens_chans,
      sens_pools=sizes.pools,
      chans=sizes.varnet_chans,
      pools=sizes.pools,
  ).to(device)
  kspace = torch.view_as_real(to_torch(masked))
  torch_mask = to_torch(mask[:, None, :1, :, None] > 0)
  runners = [
      jax_runner(model, (masked, mask), target),
      torch_runner(
          lambda k, m, module=module: module(k, m, num_low),
          module.parameters(),
          (kspace, torch_mask),
          to_torch(target),
          bf16=bf16,
          device=device,
      ),
  ]
  return runners, (
      f"VarNet {sizes.cascades} cascades, chans {sizes.varnet_chans}, sens"
      f" chans {sizes.sens_chans}, {sizes.pools} pools, batch {sizes.batch} x"
      f" {sizes.coils} coils x {sizes.size}^2"
  )


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--size", type=int, default=128)
  parser.add_argument("--coils", type=int, default=8)
  parser.add_argument("--unet_chans", type=int, default=32)
  parser.add_argument("--pools", type=int, default=4)
  parser.add_argument("--cascades", type=int, default=4)
  parser.add_argument("--varnet_chans", type=int, default=18)
  parser.add_argument("--sens_chans", type=int, default=8)
  parser.add_argument("--center_fraction", type=float, default=0.08)
  parser.add_argument("--acceleration", type=int, default=4)
  parser.add_argument("--repeats", type=int, default=10)
  parser.add_argument("--models", default="unet,varnet")
  parser.add_argument("--precisions", default="fp32")
  args = parser.parse_args()

  import torch  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(os.cpu_count())
  print(
      f"machine: {platform.machine()}  {os.cpu_count()} CPUs, jax"
      f" {jax.__version__} on {jax.default_backend()}, torch"
      f" {torch.__version__} ({torch.get_num_threads()} threads),"
      f" XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
  )
  data = make_data(
      args.batch,
      args.size,
      args.coils,
      args.center_fraction,
      args.acceleration,
      seed=0,
  )
  torch_models = import_fastmri_models()
  results = {}

  precisions = args.precisions.split(",")
  for precision in precisions:
    if precision not in DTYPES:
      parser.error(f"--precisions takes {tuple(DTYPES)}, got {precision!r}")
  for precision in precisions:
    for name in ("unet", "varnet"):
      if name in args.models:
        results[f"{name} {precision}"] = recon_runners(
            name, precision, args, data, torch_models
        )

  for name, (runners, what) in results.items():
    (jax_run, jax_params), (torch_run, torch_params) = runners
    jax_time, torch_time = time_side_by_side([jax_run, torch_run], args.repeats)
    print(f"{name}: {what}; parameters jax {jax_params}, torch {torch_params}")
    print(
        f"  jax (jit):     {1e3 * jax_time:8.1f} ms/step"
        f" {1 / jax_time:7.2f} steps/s"
    )
    print(
        f"  torch (eager): {1e3 * torch_time:8.1f} ms/step"
        f" {1 / torch_time:7.2f} steps/s"
    )
    print(f"  ratio jax / torch (steps/s): {torch_time / jax_time:.2f}x")


if __name__ == "__main__":
  main()
