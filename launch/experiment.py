"""The end-to-end experiment on the configured data.

Today it prepares the dataset and draws the overview figure; the phase model,
the reconstruction arms and the comparison table plug in here as they land.
"""

import ml_collections

from launch import data


def run_experiment(config: ml_collections.ConfigDict, workdir: str) -> None:
  data.prepare_data(config, workdir)
