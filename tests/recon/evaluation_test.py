"""recon.evaluation: the checked reconstruction entry point.

Evaluation of trained checkpoints (k-space records, per-volume scores, the
independence from the training phase) is in recon_train_test.py, which owns
the trained run.
"""

import numpy as np
import pytest

from configs import recon as recon_config
from recon import evaluation
from recon import state as state_lib


def test_reconstruct_rejects_bad_kspace():
  config = recon_config.get_config("tiny,model=unet")
  num_coils, size = config.forward.num_coils, config.data.image_size
  reconstruct = evaluation.get_reconstruct_fn(
      state_lib.get_model(config), num_coils=num_coils
  )
  kspace = np.ones((2, num_coils, size, size), np.complex64)
  mask = np.ones((2, size, size), np.float32)
  # Parameters are never reached: the checks run on the host first.
  with pytest.raises(ValueError, match="3 coils but the model was trained"):
    reconstruct(None, kspace[:, :3], mask)
  with pytest.raises(ValueError, match="mask shape"):
    reconstruct(None, kspace, mask[:, : size // 2])
  with pytest.raises(ValueError, match="must be \\(batch, coils, H, W\\)"):
    reconstruct(None, kspace[0], mask)
  kspace[1, 2, 0, 0] = np.inf
  with pytest.raises(ValueError, match="NaN/inf"):
    reconstruct(None, kspace, mask)
