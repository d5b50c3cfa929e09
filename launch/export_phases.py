"""The phase sources of --mode=export_kspace (`launch.export_kspace`), by
name, as every other stage names them (`score_phase.sources.lookup`), and
`sbdm_scan`: a scan-conditioned SBDM told each record's header fields
(`score_phase.scan_params.encode_records`), as the experiment's
pre-synthesis does.

`check_phase_model` refuses a model that is missing, of another kind or
trained at another image size before any work; `phase_factory` builds the
source once (record-bound ones, ground truth and oracle, per batch of
records); `draw_phases` draws K phases of a volume in fixed-size chunks.
"""

import functools

import jax
import numpy as np
from etils import epath

from kspace.common import config_errors
from launch.experiment import layout
from score_phase import loading
from score_phase import scan_params
from score_phase.gan import model as gan_model
from score_phase.sbdm import state as sbdm_state
from score_phase.sources import lookup

# Sources that sample a trained model: name -> the --mode that trains it.
LEARNED = {
    "sbdm": sbdm_state.TRAIN_MODE,
    "sbdm_scan": sbdm_state.TRAIN_MODE,
    "gan": gan_model.TRAIN_MODE,
}
SOURCES = tuple(sorted(set(lookup.SOURCES.names()) | set(LEARNED)))


def check_phase_model(config) -> dict | None:
  """The phase model's run and checkpoint step (None for other sources);
  refuses a missing one, another kind, or one of another image size."""
  source = config.export.phase_source
  if source not in LEARNED:
    return None
  workdir = config.export.phase_workdir
  mode = LEARNED[source]
  if not workdir:
    raise config_errors.ConfigError(
        f"export.phase_source={source} samples a trained model. Fix: pass"
        f" --config.export.phase_workdir=<the --workdir of a --mode={mode}"
        " run>, or a baseline such as"
        " --config.export.phase_source=smooth_polynomial."
    )
  run = loading.read_config(workdir, mode)
  size = config.data.image_size
  if run.data.image_size != size:
    raise config_errors.ConfigError(
        f"The phase model in {workdir} was trained on"
        f" {run.data.image_size}x{run.data.image_size} images; the export's"
        f" data are {size}x{size}. Fix: pass"
        f" --config.data.image_size={run.data.image_size}, or a model trained"
        f" at {size}x{size}."
    )
  if source == "sbdm_scan" and not run.model.get("scan_conditioning", False):
    raise config_errors.ConfigError(
        "export.phase_source=sbdm_scan tells the model each record's scan"
        f" parameters, but the model in {workdir} was trained without them"
        " (model.scan_conditioning=False). Fix: use"
        " --config.export.phase_source=sbdm, or a scan-conditioned model."
    )
  return {
      "workdir": str(epath.Path(workdir).resolve()),
      "checkpoint_step": layout.checkpoint_step(workdir),
  }


def check_records(config, record: dict) -> None:
  if config.export.phase_source == "ground_truth" and not (
      "phase" in record or "image" in record
  ):
    raise config_errors.ConfigError(
        "export.phase_source=ground_truth exports the records' own phase;"
        f" {config.data.name} records have none (magnitude only). Fix: name"
        " a phase model (sbdm, sbdm_scan, gan) or a baseline."
    )


def phase_factory(config):
  """(records, split) -> PhaseFn of `export.phase_source` for them; the
  record-bound sources (ground truth, oracle) are made per call, the
  others once."""
  settings = config.export
  source = settings.phase_source
  kwargs = settings.phase_kwargs.to_dict()
  if source == "ground_truth":
    return lambda records, split: lookup.get_phase_fn(source, records=records)
  if source == "oracle":
    return lambda records, split: lookup.get_phase_fn(
        source, records=records, split=split, dataset_seed=config.data.seed
    )
  try:
    if source in LEARNED:
      phase_fn = lookup.get_phase_fn(
          source.removesuffix("_scan"),
          workdir=settings.phase_workdir,
          **kwargs,
      )
    else:
      phase_fn = jax.jit(lookup.get_phase_fn(source, **kwargs))
  except (TypeError, ValueError) as e:
    raise config_errors.ConfigError(
        f"export.phase_kwargs {kwargs} do not fit {source}: {e}. Fix: pass"
        " only its keyword arguments."
    ) from e
  if source == "sbdm_scan":
    # Each record's header fields (unknown ones stay absent, as the model
    # learned with its condition dropout).
    return lambda records, split: functools.partial(
        phase_fn, scan=scan_params.encode_records(records)
    )
  return lambda records, split: phase_fn


def draw_phases(
    factory, records, split: str, key, magnitude, num_draws: int, batch: int
) -> np.ndarray:
  """(K, S, H, W) phases of a volume's normalised magnitudes (S, H, W),
  `batch` slices per call; a shorter last chunk is padded with its last
  slice to the next power of two (so at most log2(batch) + 1 shapes
  compile, and a one-slice volume, as a PACS export's single-file series
  are, costs one slice's sampling, not `batch`'s: padded to 16, the demo
  registry exported at 6.7 s a slice)."""
  drawn = []
  for start in range(0, len(records), batch):
    chunk = magnitude[start : start + batch]
    chunk_records = list(records[start : start + batch])
    count = len(chunk)
    padded = min(batch, 1 << (count - 1).bit_length())
    if count < padded:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], padded - count, 0)])
      chunk_records += [chunk_records[-1]] * (padded - count)
    phases = loading.draw_phases(
        factory(chunk_records, split),
        jax.random.fold_in(key, start),
        chunk,
        num_draws,
    )
    drawn.append(phases[:, :count])
  phases = np.concatenate(drawn, axis=1)
  if phases.shape[2:] != magnitude.shape[1:]:
    raise config_errors.ConfigError(
        f"The phase source returned {phases.shape[2:]} phases for"
        f" {magnitude.shape[1:]} magnitudes."
    )
  return phases
