"""Rescans: what `generate_example`'s `acquisition_seed` redraws.

A rescan scans the same anatomy and tissues again and redraws, from the
rescan's seed, the scan, hidden and noise streams (`REDRAW_ACQUISITION`,
oracle-B), only the hidden one (`REDRAW_HIDDEN`, oracle-A: the phase a model
told the scan parameters should match), or everything neither the magnitude
nor a header shows (`REDRAW_UNREVEALED`: the hidden stream, each tissue
class's drawn susceptibility, the noise's quadrature part, which moves
the phase, not the magnitude, and what a header does not state of the
scan: a spin echo's residual accrual time). `rescan_streams` returns the `ScanStreams`
of a scan or rescan.
"""

from typing import NamedTuple

import numpy as np

# `generate_example`'s `redraw`: what a rescan (`acquisition_seed`) redraws.
REDRAW_ACQUISITION = "acquisition"  # oracle-B: the whole scan, a full rescan.
REDRAW_HIDDEN = "hidden"  # oracle-A: only what the magnitude does not reveal.
# Oracle-A that also redraws what "hidden" keeps though neither the magnitude
# nor the header shows it: each tissue class's susceptibility, the noise's
# quadrature part and a spin echo's residual accrual time (a header states
# the nominal echo time; `score_phase.scan_params`).
REDRAW_UNREVEALED = "unrevealed"
REDRAWS = (REDRAW_ACQUISITION, REDRAW_HIDDEN, REDRAW_UNREVEALED)


class ScanStreams(NamedTuple):
  """The random streams of one scan (`scan_draws` says what each draws)."""

  scan: np.random.Generator
  hidden: np.random.Generator
  noise: np.random.Generator
  # A rescan's own under REDRAW_UNREVEALED; None: the example's streams.
  susceptibility: np.random.Generator | None = None
  quadrature: np.random.Generator | None = None
  unstated: np.random.Generator | None = None


def rescan_streams(
    streams: ScanStreams, acquisition_seed: int | None, redraw: str
) -> ScanStreams:
  """The streams of a scan or of a rescan.

  Args:
    streams: the example's own (scan, hidden, noise) streams.
    acquisition_seed: None for the example's own scan, else the rescan's
      seed, >= 0.
    redraw: `REDRAW_ACQUISITION` (scan, hidden and noise streams from the
      seed, a full rescan, oracle-B), `REDRAW_HIDDEN` (only the hidden
      stream, oracle-A) or `REDRAW_UNREVEALED` (the hidden stream, the
      classes' susceptibilities, the noise's quadrature part and the
      unstated scan draws).

  Returns:
    ScanStreams.
  """
  if redraw not in REDRAWS:
    raise ValueError(f"redraw must be one of {REDRAWS}, got {redraw!r}.")
  if acquisition_seed is None:
    if redraw != REDRAW_ACQUISITION:
      raise ValueError(
          f"redraw={redraw!r} needs an acquisition_seed: it says what a"
          " rescan redraws."
      )
    return streams
  if acquisition_seed < 0:
    raise ValueError(f"acquisition_seed must be >= 0, got {acquisition_seed}.")
  # Children 4-6 leave the first three (so every earlier rescan) as they
  # were: a SeedSequence child depends on its index only.
  rescan = np.random.default_rng(acquisition_seed).spawn(6)
  if redraw == REDRAW_ACQUISITION:
    return ScanStreams(*rescan[:3])
  if redraw == REDRAW_HIDDEN:
    return streams._replace(hidden=rescan[1])
  return streams._replace(
      hidden=rescan[1],
      susceptibility=rescan[3],
      quadrature=rescan[4],
      unstated=rescan[5],
  )
