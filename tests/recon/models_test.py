"""recon.models: shapes, parameter counts, the VarNet physics."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import recon as recon_config
from kspace import coils
from kspace import masks
from kspace import operators
from recon import state as recon_state
from recon.models import get_model
from recon.models import unet
from recon.models import varnet
from tests.helpers import mixed_precision


def _unet_params(in_chans, out_chans, chans, num_pools):
  """fastMRI U-Net parameter count: bias-free 3x3 convs, 2x2 transposed
  convs, a 1x1 output conv with bias; instance norm has no parameters."""

  def conv_block(cin, cout):
    return 9 * cin * cout + 9 * cout * cout

  total, cin, ch = 0, in_chans, chans
  for _ in range(num_pools):
    total += conv_block(cin, ch)
    cin, ch = ch, ch * 2
  total += conv_block(cin, ch)  # bottleneck: ch = chans * 2 ** num_pools
  for _ in range(num_pools):
    total += 4 * ch * (ch // 2) + conv_block(ch, ch // 2)
    ch //= 2
  return total + chans * out_chans + out_chans


def _count(params):
  return sum(x.size for x in jax.tree.leaves(params))


@pytest.fixture(scope="module")
def config():
  return recon_config.get_config("tiny")


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _inputs(key, batch, num_coils, size, center_fraction=0.16):
  image_key, mask_key = jax.random.split(key)
  real, imag = jax.random.normal(image_key, (2, batch, size, size))
  image = (real + 1j * imag).astype(jnp.complex64)
  sens = coils.birdcage_maps((size, size), num_coils)
  mask = jax.vmap(
      lambda k: masks.random_mask(k, (size, size), center_fraction, 4.0)
  )(jax.random.split(mask_key, batch))
  kspace = jax.vmap(operators.forward, in_axes=(0, None, 0))(image, sens, mask)
  return kspace, mask, jnp.broadcast_to(sens, kspace.shape)


def _init_apply(model, *args):
  """Jitted init + apply (eager Linen calls are slow on CPU)."""
  key = jax.random.key(1, impl="rbg")  # fast to compile, as in training
  variables = jax.jit(model.init)(key, *args)
  return variables, jax.jit(model.apply)(variables, *args)


@pytest.mark.parametrize("chans,num_pools,size", [(4, 2, 32), (3, 3, 30)])
def test_unet_shape_and_parameter_count(chans, num_pools, size):
  model = unet.ZeroFilledUnet(chans, num_pools, 0.2, 1e-5, 1e-11, 6.0)
  kspace, mask, _ = _inputs(jax.random.key(0), 2, 3, size)
  variables, out = _init_apply(model, kspace, mask)
  assert out.shape == (2, size, size) and out.dtype == jnp.float32
  assert _count(variables["params"]) == _unet_params(1, 1, chans, num_pools)
  with pytest.raises(ValueError, match="divisible"):
    unet.Unet(1, chans, num_pools, 0.2, 1e-5).init(
        jax.random.key(0), jnp.zeros((1, 2**num_pools + 2, 16, 1))
    )


def test_varnet_shape_and_parameter_count(config):
  model = get_model(config.model, 5)
  kspace, mask, _ = _inputs(jax.random.key(2), 2, 4, 32)
  variables, out = _init_apply(model, kspace, mask)
  assert out.shape == (2, 32, 32) and out.dtype == jnp.float32
  assert np.all(np.isfinite(out))
  m = config.model
  want = _unet_params(2, 2, m.sens_chans, m.sens_pools) + m.num_cascades * (
      _unet_params(2, 2, m.chans, m.num_pools) + 1
  )
  assert _count(variables["params"]) == want
  weights = [
      variables["params"][f"VarNetBlock_{i}"]["dc_weight"]
      for i in range(m.num_cascades)
  ]
  np.testing.assert_array_equal(weights, m.dc_weight_init)
  with pytest.raises(ValueError, match="Unknown model"):
    get_model(_with(m, name="resnet"), 5)


class _ZeroRegularizer(nn.Module):

  @nn.compact
  def __call__(self, image):
    return jnp.zeros_like(image)


@pytest.mark.parametrize("weight", [1.0, 0.25])
def test_soft_data_consistency_pulls_sampled_kspace_to_measurement(weight):
  kspace_true, mask, sens = _inputs(jax.random.key(4), 2, 4, 16)
  measured = mask[:, None] * kspace_true
  current = measured + jax.random.normal(jax.random.key(5), measured.shape) * (
      1 + 1j
  )
  block = varnet.VarNetBlock(_ZeroRegularizer, weight)
  _, out = _init_apply(block, current, measured, mask, sens)
  sampled = np.broadcast_to(np.asarray(mask)[:, None] > 0, out.shape)
  want = np.asarray(current - weight * (current - measured))
  np.testing.assert_allclose(np.asarray(out)[sampled], want[sampled], atol=1e-5)
  # Unsampled k-space is left to the (here zero) regularizer.
  np.testing.assert_allclose(
      np.asarray(out)[~sampled], np.asarray(current)[~sampled], atol=1e-6
  )
  if weight == 1.0:
    np.testing.assert_allclose(
        np.asarray(out)[sampled], np.asarray(measured)[sampled], atol=1e-5
    )


def test_sens_expand_and_reduce_are_adjoint():
  key1, key2 = jax.random.split(jax.random.key(7))
  image = jax.random.normal(key1, (2, 12, 10)) + 1j
  kspace = jax.random.normal(key2, (2, 3, 12, 10)) * (1 - 2j)
  sens = jnp.broadcast_to(coils.birdcage_maps((12, 10), 3), (2, 3, 12, 10))
  lhs = jnp.vdot(varnet.sens_expand(image, sens), kspace)
  rhs = jnp.vdot(image, varnet.sens_reduce(kspace, sens))
  np.testing.assert_allclose(lhs, rhs, rtol=1e-4)


class _AffineCoilRefiner(nn.Module):
  """A stand-in for the sensitivity U-Net that does not commute with the RSS
  division, so the order of the two shows in the maps."""

  @nn.compact
  def __call__(self, image):
    return image * (1 + 0.5j) + 0.3


def _numpy_ifft2c(x):
  axes = (-2, -1)
  return np.fft.fftshift(
      np.fft.ifft2(np.fft.ifftshift(x, axes=axes), norm="ortho"), axes=axes
  )


def _fastmri_sensitivities(kspace, mask, refine):
  """fastMRI SensitivityModel.forward with no num_low_frequencies given."""
  kspace, mask = np.asarray(kspace), np.asarray(mask)
  # get_pad_and_num_low_freqs: the symmetric run of sampled columns.
  lines = mask[:, 0, :].astype(np.int8)
  center = lines.shape[1] // 2
  left = np.argmin(lines[:, :center][:, ::-1], axis=1)
  right = np.argmin(lines[:, center:], axis=1)
  num_low = np.maximum(2 * np.minimum(left, right), 1)
  pad = (mask.shape[-1] - num_low + 1) // 2
  # batched_mask_center, ifft2c, coils into the batch, the U-Net, back.
  masked = np.zeros_like(kspace)
  for i, (start, width) in enumerate(zip(pad, num_low)):
    center = slice(start, start + width)
    masked[i, ..., center] = kspace[i, ..., center]
  batch, num_coils, height, width = kspace.shape
  images = _numpy_ifft2c(masked).reshape(batch * num_coils, height, width)
  refined = refine(images).reshape(batch, num_coils, height, width)
  # divide_root_sum_of_squares.
  return refined / np.sqrt((np.abs(refined) ** 2).sum(axis=1, keepdims=True))


def test_sensitivity_model_matches_fastmri():
  # The ACS coil images go through the U-Net first and are divided by their
  # RSS after it; the ACS width is found from each example's mask.
  kspace, mask, _ = _inputs(jax.random.key(8), 3, 4, 32)
  model = varnet.SensitivityModel(None, _AffineCoilRefiner, 0.0)
  _, maps = _init_apply(model, kspace, mask)
  want = _fastmri_sensitivities(
      kspace, mask, lambda image: image * (1 + 0.5j) + 0.3
  )
  np.testing.assert_allclose(maps, want, rtol=1e-4, atol=1e-5)
  # A static width (fastMRI's num_low_frequencies argument) is also taken.
  static = varnet.SensitivityModel(5, _AffineCoilRefiner, 0.0)
  _, static_maps = _init_apply(static, kspace, mask)
  assert np.abs(static_maps - maps).max() > 1e-3


def test_sensitivity_model_has_unit_rss():
  kspace, mask, _ = _inputs(jax.random.key(8), 1, 4, 16)
  model = varnet.SensitivityModel(
      None, lambda: varnet.NormUnet(4, 2, 0.2, 1e-5, 0.0), 0.0
  )
  _, maps = _init_apply(model, kspace, mask)
  assert maps.shape == kspace.shape
  np.testing.assert_allclose(coils.rss(maps), 1.0, atol=1e-4)


def _run_capturing_unet(model, variables, *args):
  """Applies `model`, also returning every inner `unet.Unet` call's input and
  output (in call order): what the wrappers normalise, and what they undo."""

  @jax.jit
  def run(variables, *args):
    calls = []

    def interceptor(next_fun, fun_args, fun_kwargs, context):
      out = next_fun(*fun_args, **fun_kwargs)
      if isinstance(context.module, unet.Unet):
        calls.append((fun_args[0], out))
      return out

    with nn.intercept_methods(interceptor):
      out = model.apply(variables, *args)
    return out, calls

  return run(variables, *args)


def test_norm_unet_normalises_like_fastmri():
  # fastMRI NormUnet.norm: per real/imaginary channel, mean and torch's
  # unbiased std (ddof=1) over the pixels, no epsilon; unnorm undoes it.
  real, imag = jax.random.normal(jax.random.key(9), (2, 2, 12, 10))
  image = ((3 * real + 1) + 1j * (0.5 * imag - 2)).astype(jnp.complex64)
  model = varnet.NormUnet(2, 2, 0.2, 1e-5, 0.0)
  variables = jax.jit(model.init)(jax.random.key(0), image)
  out, calls = _run_capturing_unet(model, variables, image)
  ((unet_in, unet_out),) = calls
  x = np.stack([np.real(image), np.imag(image)], axis=1).reshape(2, 2, -1)
  mean = x.mean(axis=2)[:, None, None, :]
  std = x.std(axis=2, ddof=1)[:, None, None, :]
  want = (np.stack([np.real(image), np.imag(image)], -1) - mean) / std
  # 12 x 10 is zero-padded to 12 x 12 (a multiple of 2 ** num_pools).
  np.testing.assert_allclose(unet_in[:, :, 1:11], want, rtol=1e-5, atol=1e-5)
  unnormed = np.asarray(unet_out)[:, :, 1:11] * std + mean
  np.testing.assert_allclose(
      out, unnormed[..., 0] + 1j * unnormed[..., 1], rtol=1e-5, atol=1e-5
  )
  # The default (fastMRI) has no epsilon, so a zero image needs std_eps > 0.
  guarded = varnet.NormUnet(2, 2, 0.2, 1e-5, 1e-6)
  zero = jnp.zeros_like(image)
  assert np.isfinite(guarded.apply(variables, zero)).all()


def test_unet_input_is_normalised_and_clamped_like_fastmri():
  # fastMRI UnetDataTransform: normalize_instance (mean, torch's unbiased
  # std, eps 1e-11) of the zero-filled magnitude, then clamp to [-6, 6].
  # A bright spot normalises to ~sqrt(256) = 16, so the clamp is active.
  magnitude = 1.0 + 0.1 * jax.random.uniform(jax.random.key(10), (2, 16, 16))
  magnitude = magnitude.at[:, 5, 7].set(50.0)
  kspace = jnp.fft.fftshift(
      jnp.fft.fft2(jnp.fft.ifftshift(magnitude + 0j), norm="ortho")
  )[:, None].astype(jnp.complex64)
  mask = jnp.ones((2, 16, 16), jnp.float32)
  model = unet.ZeroFilledUnet(2, 2, 0.2, 1e-5, 1e-11, 6.0)
  variables = jax.jit(model.init)(jax.random.key(0), kspace, mask)
  out, calls = _run_capturing_unet(model, variables, kspace, mask)
  ((unet_in, unet_out),) = calls
  image = np.asarray(magnitude, np.float64)
  mean = image.mean(axis=(1, 2), keepdims=True)
  std = image.std(axis=(1, 2), ddof=1, keepdims=True) + 1e-11
  want = np.clip((image - mean) / std, -6, 6)
  assert (want == 6).any()
  np.testing.assert_allclose(unet_in[..., 0], want, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(
      out, np.asarray(unet_out)[..., 0] * std + mean, rtol=1e-4, atol=1e-4
  )


def _with(model_config, **fields):
  changed = model_config.copy_and_resolve_references()
  for name, value in fields.items():
    setattr(changed, name, value)
  return changed


def _loss_fn(model, kspace, mask, target):
  # Squared error: an L1 loss's gradient at init is a sum of signs that
  # nearly cancel, which any rounding of the output reshuffles.
  def loss_fn(params):
    output = model.apply({"params": params}, kspace, mask)
    return jnp.mean((output - target) ** 2)

  return loss_fn


@pytest.mark.slow
@pytest.mark.parametrize("name", ["unet", "varnet"])
def test_remat_keeps_parameters_outputs_and_gradients(config, name):
  """Rematerialisation only trades memory for compute: the same parameter
  tree (a checkpoint loads either way), the same loss and gradients."""
  plain = get_model(_with(config.model, name=name), 5)
  remat = get_model(_with(config.model, name=name, remat=True), 5)
  kspace, mask, _ = _inputs(jax.random.key(6), 2, 4, 32)
  target = coils.rss(jnp.fft.ifft2(kspace))
  variables, _ = _init_apply(plain, kspace, mask)
  remat_variables = jax.jit(remat.init)(
      jax.random.key(1, impl="rbg"), kspace, mask
  )
  assert jax.tree.structure(remat_variables) == jax.tree.structure(variables)
  params = variables["params"]
  mixed_precision.assert_remat_equivalent(
      _loss_fn(plain, kspace, mask, target),
      _loss_fn(remat, kspace, mask, target),
      params,
  )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["unet", "varnet"])
def test_bfloat16_compute_keeps_float32_parameters_and_tracks_float32(
    config, name
):
  """Mixed precision: 3x3 convolutions in bf16; parameters, gradients and
  output in float32; the output and a short Adam run track the float32
  model's to bf16 accuracy (8 mantissa bits: ~0.4% per rounding)."""
  fp32 = get_model(_with(config.model, name=name), 5)
  bf16 = get_model(_with(config.model, name=name, compute_dtype="bfloat16"), 5)
  kspace, mask, _ = _inputs(jax.random.key(7), 2, 4, 32)
  target = coils.rss(jnp.fft.ifft2(kspace))
  variables, out = _init_apply(fp32, kspace, mask)
  params = variables["params"]
  forward = lambda model: lambda p: model.apply({"params": p}, kspace, mask)
  assert mixed_precision.conv_dtypes(forward(fp32), params) == {
      (3, 3): {"float32"},
      (1, 1): {"float32"},
  }
  assert mixed_precision.conv_dtypes(forward(bf16), params) == {
      (3, 3): {"bfloat16"},
      (1, 1): {"float32"},  # the output conv (see unet.Unet)
  }
  bf16_out = jax.jit(forward(bf16))(params)
  assert bf16_out.dtype == jnp.float32
  relative = np.linalg.norm(bf16_out - out) / np.linalg.norm(out)
  assert 1e-5 < relative < 3e-2, relative  # rounded, but only by bf16
  bf16_loss = _loss_fn(bf16, kspace, mask, target)
  grads = jax.jit(jax.grad(bf16_loss))(params)
  assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(grads))
  losses = mixed_precision.adam_losses(
      _loss_fn(fp32, kspace, mask, target), params
  )
  bf16_losses = mixed_precision.adam_losses(bf16_loss, params)
  assert losses[-1] < 0.9 * losses[0], losses  # the run really trains
  np.testing.assert_allclose(bf16_losses, losses, rtol=0.02)
  with pytest.raises(ValueError, match="compute_dtype"):
    get_model(_with(config.model, compute_dtype="float16"), 5)


def test_checkpoints_restore_under_any_compute_dtype_and_remat(config):
  changed = config.copy_and_resolve_references()
  changed.model.compute_dtype, changed.model.remat = "bfloat16", True
  assert recon_state.compatibility(changed) == recon_state.compatibility(config)
  changed.model.chans += 1
  assert recon_state.compatibility(changed) != recon_state.compatibility(config)
