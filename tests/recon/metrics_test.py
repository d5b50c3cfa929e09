"""recon.metrics and recon.losses against scikit-image / fastMRI formulas."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from recon import losses
from recon import metrics


def _volumes(shape, seed):
  """A smooth-ish target volume and a noisy, biased reconstruction."""
  rng = np.random.default_rng(seed)
  gt = np.abs(rng.normal(size=shape)).cumsum(-1).astype(np.float32)
  gt /= gt.max() / 3.0
  pred = (0.9 * gt + 0.2 * rng.normal(size=shape)).astype(np.float32)
  return gt, pred


def _fastmri_ssim(gt, pred):
  """fastMRI evaluate.ssim: skimage per slice, volume data range, mean."""
  return np.mean([
      structural_similarity(g, p, data_range=gt.max())
      for g, p in zip(gt.astype(np.float64), pred.astype(np.float64))
  ])


@pytest.mark.parametrize("shape", [(3, 37, 29), (1, 32, 32), (2, 7, 12)])
def test_volume_metrics_match_fastmri(shape):
  gt, pred = _volumes(shape, seed=sum(shape))
  got = metrics.volume_metrics(gt, pred)
  gt64, pred64 = gt.astype(np.float64), pred.astype(np.float64)
  want_nmse = np.sum((gt64 - pred64) ** 2) / np.sum(gt64**2)
  want_psnr = peak_signal_noise_ratio(gt64, pred64, data_range=gt64.max())
  np.testing.assert_allclose(
      float(got["ssim"]), _fastmri_ssim(gt, pred), atol=1e-4
  )
  np.testing.assert_allclose(float(got["nmse"]), want_nmse, rtol=1e-4)
  np.testing.assert_allclose(float(got["psnr"]), want_psnr, atol=1e-4)


def test_ssim_of_identical_images_is_one_and_uses_volume_range():
  gt, pred = _volumes((2, 20, 20), seed=3)
  np.testing.assert_allclose(float(metrics.ssim(gt, gt)), 1.0, atol=1e-6)
  # A larger data range (e.g. the volume max) raises C1 and C2, so SSIM of a
  # darker slice differs from scoring it alone: the volume range matters.
  gt[1] *= 0.1
  pred[1] *= 0.1
  alone = metrics.ssim(gt[1:], pred[1:])
  in_volume = metrics.ssim_map(gt[1:], pred[1:], gt.max()).mean()
  assert abs(float(alone) - float(in_volume)) > 1e-3
  np.testing.assert_allclose(
      float(in_volume),
      structural_similarity(
          gt[1].astype(np.float64),
          pred[1].astype(np.float64),
          data_range=float(gt.max()),
      ),
      atol=1e-4,
  )


def test_slice_metrics_score_each_slice_alone():
  gt, pred = _volumes((4, 24, 18), seed=5)
  got = metrics.slice_metrics(gt, pred)
  for i in range(4):
    np.testing.assert_allclose(
        float(got["ssim"][i]),
        _fastmri_ssim(gt[i : i + 1], pred[i : i + 1]),
        atol=1e-4,
    )
    np.testing.assert_allclose(
        float(got["psnr"][i]),
        peak_signal_noise_ratio(
            gt[i].astype(np.float64),
            pred[i].astype(np.float64),
            data_range=float(gt[i].max()),
        ),
        atol=1e-4,
    )


def test_ssim_loss_uses_per_example_range():
  gt, pred = _volumes((3, 16, 16), seed=7)
  want = 1.0 - np.mean([
      structural_similarity(
          g.astype(np.float64), p.astype(np.float64), data_range=float(g.max())
      )
      for g, p in zip(gt, pred)
  ])
  np.testing.assert_allclose(
      float(losses.get_loss_fn("ssim")(pred, gt)), want, atol=1e-4
  )
  np.testing.assert_allclose(
      float(losses.get_loss_fn("l1")(pred, gt)),
      np.abs(pred - gt).mean(),
      rtol=1e-6,
  )
  with pytest.raises(ValueError, match="Unknown loss"):
    losses.get_loss_fn("l2")
