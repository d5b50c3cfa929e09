r"""One Markdown table of our speed on a GPU, PyTorch measured in the same run.

`bash benchmarks/gpu.sh` runs this on the lent GPU machine in one call of at
most 8 minutes; `bash benchmarks/gpu.sh --smoke` runs the same code at tiny
sizes on a CPU (.ci/run does) and fails unless every row came out finite.

Each part runs in its own process under its own time limit (the smaller of
its cap and what is left of `--deadline_s`), so a slow compilation, a crash
or an out-of-memory error costs that part's rows only and the table is
always printed; a row that did not come out says why. Parts in run order,
with the seconds expected on one H200 (compilation included) / their cap:

  forward   k-space forward + adjoint (y = M F S x, x' = S^H F^H M y) with
            `benchmarks/forward_model.py`'s jitted operators against the same
            work in eager torch.fft, complex64, batch 32 x 15 coils x
            320^2: ~25 / 60 s.
  recon     the recon train step of `benchmarks/recon_step.py` (L1 loss,
            backward, Adam): our U-Net and E2E-VarNet against fastMRI's
            `Unet` / `VarNet` on CUDA, fp32 (each framework's default
            precision: torch's `cudnn.allow_tf32` and JAX's
            `jax_default_matmul_precision`, both in the table's header,
            may let convolutions use TF32) and bf16 (ours `dtype=bfloat16`,
            i.e. `model.compute_dtype`; torch's CUDA autocast), 320^2, 15 coils,
            batch 1 as fastMRI trains both (its demos: one slice per GPU),
            fastMRI's sizes (U-Net chans 32, 4 pools; VarNet 12 cascades,
            chans 18, sens chans 8); median of 20 steps after 3 warm-up
            steps, the sides alternating: ~150 / 200 s.
  sbdm128   the SBDM train step (`configs/phase_sbdm.py:synthetic128`, batch
            64 of 128^2) and the default sampler (Heun, 18 steps = 35
            network evaluations) on 64 magnitudes; random init, random data,
            fp32: ~70 / 120 s.
  sbdm320   the same with the `fastmri320` network (nf 128, 4 residual
            blocks) at 320^2, train batch 4, 8 magnitudes per sampler call:
            ~130 / 200 s.

Outputs (in --out): gpu_table.md (the table), gpu_table.json (the rows as
numbers) and gpu_table.log (every part's own output).

  python -m benchmarks.gpu_table --out=/tmp/gpu_table           # a GPU
  python -m benchmarks.gpu_table --smoke --out=/tmp/gpu_smoke   # any CPU
"""

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

PARTS = ("forward", "recon", "sbdm128", "sbdm320")
# Seconds a part may run at most, per mode (a part also stops at the
# overall deadline).
CAPS = {
    "gpu": {"forward": 60, "recon": 200, "sbdm128": 120, "sbdm320": 200},
    "smoke": {"forward": 60, "recon": 150, "sbdm128": 100, "sbdm320": 100},
}
DEADLINES = {"gpu": 440, "smoke": 280}
# A part is not started with less than this left.
MIN_PART_SECONDS = 10

SIZES = {
    "gpu": {
        "forward": dict(batch=32, coils=15, size=320, repeats=50),
        "recon": dict(
            batch=1,
            size=320,
            coils=15,
            unet_chans=32,
            pools=4,
            cascades=12,
            varnet_chans=18,
            sens_chans=8,
            center_fraction=0.08,
            acceleration=4,
            repeats=20,
            warmup=3,
        ),
        "sbdm128": dict(
            variant="synthetic128",
            overrides={},
            sample_images=64,
            train_repeats=10,
            sample_repeats=3,
        ),
        "sbdm320": dict(
            variant="fastmri320",
            overrides={"train.batch_size": 4},
            sample_images=8,
            train_repeats=5,
            sample_repeats=2,
        ),
    },
    "smoke": {
        "forward": dict(batch=2, coils=4, size=32, repeats=3),
        "recon": dict(
            batch=1,
            size=32,
            coils=4,
            unet_chans=8,
            pools=2,
            cascades=2,
            varnet_chans=8,
            sens_chans=4,
            center_fraction=0.08,
            acceleration=4,
            repeats=2,
            warmup=1,
        ),
        "sbdm128": dict(
            variant="synthetic128",
            overrides={
                "data.image_size": 16,
                "model.nf": 8,
                "model.ch_mult": (1, 2),
                "model.num_res_blocks": 1,
                "model.attn_resolutions": (8,),
                "train.batch_size": 4,
            },
            sample_images=4,
            train_repeats=2,
            sample_repeats=1,
        ),
        "sbdm320": dict(
            variant="fastmri320",
            overrides={
                "data.image_size": 32,
                "model.nf": 8,
                "model.ch_mult": (1, 2),
                "model.num_res_blocks": 1,
                "model.attn_resolutions": (),
                "train.batch_size": 4,
            },
            sample_images=4,
            train_repeats=2,
            sample_repeats=1,
        ),
    },
}
# The sampler row: the configs' default sampler, named here so the row
# stays what it says if a default changes.
SAMPLER = {"name": "heun", "num_steps": 18}


def expected_rows() -> list[tuple[str, str, str, bool]]:
  """(part, key, benchmark, has a PyTorch side) of every row, in order."""
  rows = [("forward", "forward", "k-space forward + adjoint", True)]
  for precision in ("fp32", "bf16"):
    for name, label in (("unet", "U-Net"), ("varnet", "E2E-VarNet")):
      rows.append((
          "recon",
          f"recon_{name}_{precision}",
          f"recon train step, {label} {precision}",
          True,
      ))
  for part in ("sbdm128", "sbdm320"):
    rows.append((part, f"{part}_train", f"SBDM train step ({part})", False))
    rows.append((
        part,
        f"{part}_sample",
        f"SBDM sampler heun {SAMPLER['num_steps']} ({part})",
        False,
    ))
  return rows


# ---------------------------------------------------------------- the parts
# Each runs in a child process (`--part`) and appends JSON lines to
# `--rows`: one {"meta": ...} first, then one row per measurement as soon as
# it is done, so a part stopped at its limit keeps the rows it finished.


class _Recorder:
  """Appends each record to the rows file and logs when it came."""

  def __init__(self, path: str):
    self._path = path
    self._start = time.monotonic()

  def __call__(self, **record):
    with open(self._path, "a") as f:
      f.write(json.dumps(record) + "\n")
    print(
        f"{time.monotonic() - self._start:6.1f} s  {record.get('key', 'meta')}"
        f" {record}",
        flush=True,
    )


def _check_device(mode: str):
  import jax  # pylint: disable=g-import-not-at-top

  if mode == "gpu" and jax.default_backend() != "gpu":
    raise SystemExit(
        f"No GPU: JAX runs on {jax.default_backend()!r}. On a CPU use --smoke."
    )


def _torch_device(mode: str) -> str:
  import torch  # pylint: disable=g-import-not-at-top

  if mode != "gpu":
    return "cpu"
  if not torch.cuda.is_available():
    raise SystemExit("No GPU: torch.cuda.is_available() is False.")
  # Its fastest convolution algorithms, as XLA autotunes its own.
  torch.backends.cudnn.benchmark = True
  return "cuda"


def _meta(record, with_torch: bool):
  import jax  # pylint: disable=g-import-not-at-top

  meta = {
      "device": jax.devices()[0].device_kind,
      "backend": jax.default_backend(),
      "devices": jax.device_count(),
      "jax": jax.__version__,
      "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
      "jax_default_matmul_precision": str(
          getattr(jax.config, "jax_default_matmul_precision", "?")
      ),
  }
  import flax  # pylint: disable=g-import-not-at-top

  meta["flax"] = flax.__version__
  if with_torch:
    import torch  # pylint: disable=g-import-not-at-top

    meta["torch"] = torch.__version__
    meta["torch_cuda"] = str(torch.version.cuda)
    meta["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
  record(meta=meta)


def torch_forward_adjoint(x, sens, mask):
  """`forward_model.scipy_forward_adjoint`'s operator pair in torch.fft."""
  import torch  # pylint: disable=g-import-not-at-top

  dims = (-2, -1)
  mask = mask[:, None]
  kspace = (
      torch.fft.fftshift(
          torch.fft.fft2(
              torch.fft.ifftshift(sens * x[:, None], dim=dims), norm="ortho"
          ),
          dim=dims,
      )
      * mask
  )
  back = torch.fft.fftshift(
      torch.fft.ifft2(
          torch.fft.ifftshift(kspace * mask, dim=dims), norm="ortho"
      ),
      dim=dims,
  )
  return kspace, torch.sum(torch.conj(sens) * back, dim=1)


def part_forward(mode: str, record):
  """Forward + adjoint: `forward_model.jax_forward_adjoint` vs torch.fft."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  from benchmarks import forward_model  # pylint: disable=g-import-not-at-top

  _check_device(mode)
  device = _torch_device(mode)
  _meta(record, with_torch=True)
  s = SIZES[mode]["forward"]
  x, sens, mask = forward_model.make_inputs(s["batch"], s["coils"], s["size"])
  x_dev, sens_dev, mask_dev = jax.device_put((x, sens, mask))
  x_t, sens_t, mask_t = (
      torch.from_numpy(np.array(a)).to(device) for a in (x, sens, mask)
  )
  ours = forward_model.jax_forward_adjoint(x_dev, sens_dev, mask_dev)
  theirs = torch_forward_adjoint(x_t, sens_t, mask_t)
  reference = theirs[1].cpu().numpy()
  error = float(
      np.abs(np.asarray(ours[1]) - reference).max() / np.abs(reference).max()
  )
  if not error < 1e-4:
    raise SystemExit(f"JAX and torch.fft disagree: relative error {error:.2e}")

  def run_torch():
    torch_forward_adjoint(x_t, sens_t, mask_t)
    if device == "cuda":
      torch.cuda.synchronize()

  jax_s = forward_model.time_call(
      lambda: jax.block_until_ready(
          forward_model.jax_forward_adjoint(x_dev, sens_dev, mask_dev)
      ),
      s["repeats"],
  )
  torch_s = forward_model.time_call(run_torch, s["repeats"])
  record(
      key="forward",
      setting=(
          f"batch {s['batch']} x {s['coils']} coils x {s['size']}^2,"
          " complex64, 4x random mask, coil maps; jitted JAX vs eager"
          f" torch.fft; max relative difference {error:.1e}"
      ),
      jax_s=jax_s,
      torch_s=torch_s,
      per="batch",
      items=s["batch"],
      item_name="images",
      notes=f"median of {s['repeats']} calls after 1 warm-up",
  )


def part_recon(mode: str, record):
  """The recon train step of `benchmarks/recon_step.py`, fp32 then bf16."""
  import types  # pylint: disable=g-import-not-at-top

  from benchmarks import recon_step  # pylint: disable=g-import-not-at-top

  _check_device(mode)
  device = _torch_device(mode)
  _meta(record, with_torch=True)
  s = SIZES[mode]["recon"]
  sizes = types.SimpleNamespace(**s)
  data = recon_step.make_data(
      s["batch"],
      s["size"],
      s["coils"],
      s["center_fraction"],
      s["acceleration"],
      seed=0,
  )
  torch_models = recon_step.import_fastmri_models()
  pause = 0.0 if device == "cuda" else recon_step.PAUSE_SECONDS / 5
  for precision in ("fp32", "bf16"):
    for name in ("unet", "varnet"):
      runners, what = recon_step.recon_runners(
          name, precision, sizes, data, torch_models, device=device
      )
      (jax_run, jax_params), (torch_run, torch_params) = runners
      jax_s, torch_s = recon_step.time_side_by_side(
          [jax_run, torch_run], s["repeats"], pause=pause, warmup=s["warmup"]
      )
      record(
          key=f"recon_{name}_{precision}",
          setting=(
              f"{what}; parameters {jax_params} (JAX), {torch_params} (fastMRI)"
          ),
          jax_s=jax_s,
          torch_s=torch_s,
          per="step",
          items=1,
          item_name="steps",
          notes=(
              f"median of {s['repeats']} alternating steps after"
              f" {s['warmup']} warm-up"
          ),
      )
      del runners, jax_run, torch_run


def sbdm_train_step(config):
  """`score_phase.sbdm.objective.get_train_step(config)`: the trainer's own
  step (that module imports no data layer, which the GPU machine lacks)."""
  from score_phase.sbdm import objective  # pylint: disable=g-import-not-at-top

  return objective.get_train_step(config)


def sbdm_sample_phase(config):
  """(sample_phase(rng, params, magnitude, scan=None), nfe): the function
  `score_phase.sbdm.loading.get_phase_sampler` jits."""
  # pylint: disable=g-import-not-at-top
  from score_phase.sbdm import loading as sbdm_loading

  # pylint: enable=g-import-not-at-top
  return sbdm_loading.sample_phase_fn(config)


def sbdm_config(mode: str, part: str):
  """The part's phase_sbdm config with its overrides and `SAMPLER`."""
  from configs import phase_sbdm  # pylint: disable=g-import-not-at-top

  s = SIZES[mode][part]
  config = phase_sbdm.get_config(s["variant"])
  for key, value in s["overrides"].items():
    node = config
    *path, leaf = key.split(".")
    for name in path:
      node = node[name]
    node[leaf] = value
  config.sampling.update(SAMPLER)
  return config


def part_sbdm(mode: str, part: str, record):
  """SBDM train step (ms/step, images/s), then the sampler (images/s)."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  # pylint: disable=g-import-not-at-top
  from runtime import parallel
  from runtime import train_loop
  from score_phase.sbdm import state as sbdm_state
  # pylint: enable=g-import-not-at-top

  _check_device(mode)
  _meta(record, with_torch=False)
  s = SIZES[mode][part]
  config = sbdm_config(mode, part)
  size, batch_size = config.data.image_size, config.train.batch_size
  model = config.model
  mesh = parallel.create_mesh()
  state = train_loop.compiled_init(sbdm_state.get_init_fn(config), mesh)(
      jax.random.key(0)
  )
  params = sum(x.size for x in jax.tree.leaves(state.params))
  network = (
      f"phase_sbdm.py:{s['variant']} network (nf {model.nf}, ch_mult"
      f" {tuple(model.ch_mult)}, {model.num_res_blocks} res blocks, attention"
      f" at {tuple(model.attn_resolutions)}, {params / 1e6:.2f} M"
      f" parameters, {model.compute_dtype})"
  )
  step_fn = train_loop.compiled_step(sbdm_train_step(config), mesh)
  rng = np.random.default_rng(0)
  shape = (batch_size, size, size)
  batch = parallel.shard_batch(
      {
          "magnitude": rng.uniform(size=shape).astype(np.float32),
          "phase": rng.uniform(-np.pi, np.pi, shape).astype(np.float32),
      },
      mesh,
  )
  start = time.perf_counter()
  state, metrics = step_fn(state, batch, jax.random.key(0))
  jax.block_until_ready(metrics)
  compile_s = time.perf_counter() - start
  times = []
  for repeat in range(s["train_repeats"]):
    start = time.perf_counter()
    state, metrics = step_fn(state, batch, jax.random.key(repeat + 1))
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - start)
  loss = float(metrics["loss"])
  if not math.isfinite(loss):
    raise SystemExit(f"SBDM train step: loss {loss}")
  record(
      key=f"{part}_train",
      setting=f"{network}; batch {batch_size} x {size}^2, random data",
      jax_s=float(np.median(times)),
      per="step",
      items=batch_size,
      item_name="images",
      notes=(
          f"median of {s['train_repeats']} steps; first step (compilation)"
          f" {compile_s:.1f} s"
      ),
  )
  del batch, step_fn

  sample_phase, nfe = sbdm_sample_phase(config)
  # As `score_phase.loading.compile_sampler` jits it.
  repl, sharded = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  sampler = jax.jit(
      lambda rng, params, inputs: sample_phase(rng, params, *inputs),
      in_shardings=(repl, repl, sharded),
      out_shardings=sharded,
  )
  inputs = (
      parallel.shard_batch(
          rng.uniform(size=(s["sample_images"], size, size)).astype(np.float32),
          mesh,
      ),
  )
  key = jax.random.key(1)
  start = time.perf_counter()
  compiled = sampler.lower(key, state.params, inputs).compile()
  compile_s = time.perf_counter() - start
  times = []
  for repeat in range(s["sample_repeats"]):
    start = time.perf_counter()
    phases = jax.block_until_ready(
        compiled(jax.random.fold_in(key, repeat), state.params, inputs)
    )
    times.append(time.perf_counter() - start)
  if not np.isfinite(np.asarray(phases)).all():
    raise SystemExit("SBDM sampler: non-finite phases")
  record(
      key=f"{part}_sample",
      setting=(
          f"{SAMPLER['name']} {config.sampling.num_steps} steps ({nfe} network"
          " evaluations) of the same network, random init;"
          f" {s['sample_images']} magnitudes x {size}^2 per call"
      ),
      jax_s=float(np.median(times)),
      per="call",
      items=s["sample_images"],
      item_name="images",
      notes=(
          f"median of {s['sample_repeats']} calls; compilation"
          f" {compile_s:.1f} s"
      ),
  )


def run_part(part: str, mode: str, rows_path: str):
  record = _Recorder(rows_path)
  if part == "forward":
    part_forward(mode, record)
  elif part == "recon":
    part_recon(mode, record)
  elif part in ("sbdm128", "sbdm320"):
    part_sbdm(mode, part, record)
  else:
    raise SystemExit(f"unknown part {part!r}: one of {PARTS}")


# --------------------------------------------------------- the orchestrator


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _child_env(mode: str, part: str) -> dict:
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(
      p for p in (REPO_ROOT, env.get("PYTHONPATH", "")) if p
  )
  if mode == "gpu" and part in ("forward", "recon"):
    # JAX and torch share the GPU in these parts: JAX takes less than its
    # default 75% up front.
    env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.45")
  if mode == "smoke":
    # Tiny shapes run once: LLVM's optimisations cost more than they save.
    env["XLA_FLAGS"] = " ".join([
        env.get("XLA_FLAGS", ""),
        "--xla_backend_optimization_level=0",
        "--xla_llvm_disable_expensive_passes=true",
    ]).strip()
  return env


def run_parts(mode, parts, deadline_s, rows_path, log_path):
  """Runs each part in a child process; returns {part: note} for the parts
  that did not finish (stopped at their limit, failed, or not started)."""
  start = time.monotonic()
  notes = {}
  for part in parts:
    left = deadline_s - (time.monotonic() - start)
    limit = min(CAPS[mode][part], left)
    if limit < MIN_PART_SECONDS:
      notes[part] = (
          f"not run: {left:.0f} s left of the {deadline_s:.0f} s deadline"
      )
      print(f"[gpu_table] {part}: {notes[part]}", flush=True)
      continue
    print(f"[gpu_table] {part}: up to {limit:.0f} s", flush=True)
    part_start = time.monotonic()
    with open(log_path, "a") as log:
      log.write(f"\n===== part {part} (limit {limit:.0f} s)\n")
      log.flush()
      child = subprocess.Popen(
          [
              sys.executable,
              "-m",
              "benchmarks.gpu_table",
              f"--part={part}",
              f"--mode={mode}",
              f"--rows={rows_path}",
          ],
          stdout=log,
          stderr=subprocess.STDOUT,
          env=_child_env(mode, part),
          cwd=REPO_ROOT,
          start_new_session=True,
      )
      try:
        returncode = child.wait(timeout=limit)
      except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        returncode = None
    seconds = time.monotonic() - part_start
    if returncode is None:
      notes[part] = f"stopped at its {limit:.0f} s limit"
    elif returncode != 0:
      notes[part] = f"failed (exit {returncode}): {_last_line(log_path)}"
    print(
        f"[gpu_table] {part}: {notes.get(part, 'done')} ({seconds:.0f} s)",
        flush=True,
    )
  return notes


def _last_line(path: str) -> str:
  with open(path) as f:
    lines = [line.strip() for line in f if line.strip()]
  return lines[-1][:300] if lines else "(no output)"


def read_rows(rows_path: str):
  """(meta of the first part that wrote one, {key: row})."""
  meta, rows = {}, {}
  if not os.path.exists(rows_path):
    return meta, rows
  with open(rows_path) as f:
    for line in f:
      try:
        record = json.loads(line)
      except json.JSONDecodeError:  # A part killed while writing.
        continue
      if "meta" in record:
        meta = meta or record["meta"]
      else:
        rows[record["key"]] = record
  return meta, rows


def _finite(value) -> bool:
  return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def missing_rows(rows: dict, parts=PARTS) -> list[str]:
  """Keys of the expected rows (of `parts`) absent or not finite."""
  missing = []
  for part, key, _, has_torch in expected_rows():
    if part not in parts:
      continue
    row = rows.get(key)
    if (
        row is None
        or not _finite(row.get("jax_s"))
        or (has_torch and not _finite(row.get("torch_s")))
    ):
      missing.append(key)
  return missing


def _timing(seconds, per, items, item_name) -> str:
  if not _finite(seconds):
    return f"not finite: {seconds}"
  return f"{1e3 * seconds:.1f} ms/{per}, {items / seconds:,.1f} {item_name}/s"


def _cell(text: str) -> str:
  return str(text).replace("|", "/").replace("\n", " ")


def render(meta: dict, rows: dict, notes: dict, mode: str, parts=PARTS):
  """The Markdown text: a header line, the table, and the notes."""
  if meta:
    header = (
        f"device: {meta.get('device')} ({meta.get('backend')},"
        f" {meta.get('devices')} device(s)); jax {meta.get('jax')}, flax"
        f" {meta.get('flax')}"
    )
    if "torch" in meta:
      header += (
          f", torch {meta['torch']} (CUDA {meta.get('torch_cuda')},"
          f" cudnn.allow_tf32 {meta.get('cudnn_allow_tf32')})"
      )
    header += (
        "; jax_default_matmul_precision"
        f" {meta.get('jax_default_matmul_precision')}; XLA_FLAGS"
        f" {meta.get('XLA_FLAGS')!r}"
    )
  else:
    header = "device: unknown (no part reported)"
  lines = [
      f"mode: {mode}"
      + (" (tiny sizes, timings meaningless)" if mode == "smoke" else ""),
      header,
      "",
      (
          "| benchmark | setting | JAX (ours) | PyTorch | JAX speed / PyTorch |"
          " notes |"
      ),
      "|---|---|---|---|---|---|",
  ]
  for part, key, benchmark, has_torch in expected_rows():
    if part not in parts:
      continue
    row = rows.get(key)
    if row is None:
      why = _cell(notes.get(part, "not measured"))
      lines.append(f"| {benchmark} | | not measured: {why} | | | |")
      continue
    per, items, item_name = row["per"], row["items"], row["item_name"]
    jax_text = _timing(row["jax_s"], per, items, item_name)
    torch_text = ratio = "n/a"
    if has_torch:
      torch_text = _timing(row["torch_s"], per, items, item_name)
      if _finite(row["jax_s"]) and _finite(row["torch_s"]):
        ratio = f"{row['torch_s'] / row['jax_s']:.2f}x"
    lines.append(
        f"| {benchmark} | {_cell(row['setting'])} | {jax_text} |"
        f" {torch_text} | {ratio} | {_cell(row['notes'])} |"
    )
  lines.append("")
  lines.append(
      "JAX speed / PyTorch: PyTorch's time over ours (above 1: ours is"
      " faster), both measured in this run."
  )
  for part in parts:
    if part in notes:
      lines.append(f"- {part}: {notes[part]}")
  return "\n".join(lines)


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument(
      "--smoke", action="store_true", help="tiny sizes on any CPU"
  )
  parser.add_argument(
      "--out", default=os.environ.get("OUT") or "/tmp/gpu_table"
  )
  parser.add_argument("--deadline_s", type=float, default=None)
  parser.add_argument("--parts", default=",".join(PARTS))
  # A child's arguments.
  parser.add_argument("--part", default="", help=argparse.SUPPRESS)
  parser.add_argument("--mode", default="gpu", help=argparse.SUPPRESS)
  parser.add_argument("--rows", default="", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.part:
    run_part(args.part, args.mode, args.rows)
    return 0

  mode = "smoke" if args.smoke else "gpu"
  parts = tuple(p for p in args.parts.split(",") if p)
  unknown = sorted(set(parts) - set(PARTS))
  if unknown:
    parser.error(f"--parts: unknown {unknown}; known {PARTS}")
  deadline_s = args.deadline_s or DEADLINES[mode]
  os.makedirs(args.out, exist_ok=True)
  log_path = os.path.join(args.out, "gpu_table.log")
  open(log_path, "w").close()
  with tempfile.TemporaryDirectory() as scratch:
    rows_path = os.path.join(scratch, "rows.jsonl")
    notes = run_parts(mode, parts, deadline_s, rows_path, log_path)
    meta, rows = read_rows(rows_path)
  missing = missing_rows(rows, parts)
  for part in parts:
    if part not in notes and any(
        p == part and key in missing for p, key, _, _ in expected_rows()
    ):
      notes[part] = "finished without all its rows (see gpu_table.log)"
  text = render(meta, rows, notes, mode, parts)
  print(text)
  with open(os.path.join(args.out, "gpu_table.md"), "w") as f:
    f.write(text + "\n")
  with open(os.path.join(args.out, "gpu_table.json"), "w") as f:
    json.dump(
        {
            "mode": mode,
            "meta": meta,
            "rows": [rows[k] for _, k, _, _ in expected_rows() if k in rows],
            "notes": notes,
            "missing": missing,
            "complete": not missing,
        },
        f,
        indent=1,
    )
  if missing:
    print(f"INCOMPLETE: {len(missing)} row(s) missing or not finite: {missing}")
    return 1
  print(f"complete: every row present and finite ({args.out})")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
