"""Forward SDEs dx = f(x, t) dt + g(t) dw: VE, VP and sub-VP (Song et al.).

Each SDE is a small frozen dataclass of floats whose methods are pure
functions of arrays, so an SDE can be captured by jitted closures. Time runs
over [0, T] with T = 1; the data are x(0), the prior is x(T). Arrays `x` have
a leading batch axis (B, ...) and `t` is (B,) float32.

Besides the SDE's own quantities every class exposes the EDM view
x(t) = s(t) * (y + n), n ~ N(0, sigma(t)^2 I) (Karras et al. 2022, eq. 4):
`scale(t)` = s(t), `noise_level(t)` = sigma(t) and its inverse
`t_from_noise_level`, which the fast Heun sampler integrates over.
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from kspace.common import catalog

SDES: catalog.Catalog[type] = catalog.Catalog("SDE")

ScoreFn = Callable[[jax.Array, jax.Array], jax.Array]


def batch_mul(a: jax.Array, x: jax.Array) -> jax.Array:
  """Multiplies per-example scalars a (B,) into x (B, ...)."""
  return a.reshape(a.shape + (1,) * (x.ndim - a.ndim)) * x


def _gaussian_logp(z: jax.Array, std: float | jax.Array) -> jax.Array:
  """log N(z; 0, std^2 I) summed over all but the batch axis, (B,)."""
  n = np.prod(z.shape[1:])
  sq = jnp.sum(jnp.square(z).reshape(z.shape[0], -1), axis=-1)
  return -n / 2.0 * jnp.log(2 * math.pi * std**2) - sq / (2.0 * std**2)


@dataclasses.dataclass(frozen=True)
class SDE:
  """Shared interface; subclasses define the coefficients.

  Attributes:
    num_scales: N, the number of discretisation steps of `discretize` (and
      the default number of sampler steps).
  """

  num_scales: int

  @property
  def T(self) -> float:  # pylint: disable=invalid-name
    return 1.0

  def sde(self, x: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Drift f(x, t) (like x) and diffusion g(t) (B,)."""
    raise NotImplementedError

  def marginal_prob(
      self, x: jax.Array, t: jax.Array
  ) -> tuple[jax.Array, jax.Array]:
    """Mean (like x) and std (B,) of p_t(x(t) | x(0) = x)."""
    raise NotImplementedError

  def prior_sampling(self, rng: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """A float32 sample of p_T with `shape` (B, ...)."""
    raise NotImplementedError

  def prior_logp(self, z: jax.Array) -> jax.Array:
    """log p_T(z) per example, (B,)."""
    raise NotImplementedError

  def scale(self, t: jax.Array) -> jax.Array:
    """EDM scale s(t): the marginal mean is s(t) x(0)."""
    raise NotImplementedError

  def noise_level(self, t: jax.Array) -> jax.Array:
    """EDM noise level sigma(t) = marginal std / s(t)."""
    raise NotImplementedError

  def t_from_noise_level(self, sigma: jax.Array) -> jax.Array:
    """Inverse of `noise_level`."""
    raise NotImplementedError

  def discretize(
      self, x: jax.Array, t: jax.Array
  ) -> tuple[jax.Array, jax.Array]:
    """Euler-Maruyama step x_{i+1} = x_i + f_i + G_i z over dt = T / N.

    Returns:
      f (like x) and G (B,).
    """
    dt = self.T / self.num_scales
    drift, diffusion = self.sde(x, t)
    return drift * dt, diffusion * math.sqrt(dt)

  def reverse(
      self, score_fn: ScoreFn, probability_flow: bool = False
  ) -> "ReverseSDE":
    """The reverse-time SDE (or probability-flow ODE) driven by `score_fn`."""
    return ReverseSDE(self, score_fn, probability_flow)


@dataclasses.dataclass(frozen=True)
class ReverseSDE:
  """dx = [f - g^2 score] dt + g dw-bar (half the score term and no noise for
  the probability-flow ODE), integrated from t = T down to 0.

  Attributes:
    forward: the forward SDE.
    score_fn: score_fn(x (B, ...), t (B,)) -> (B, ...).
    probability_flow: use the deterministic ODE with the same marginals.
  """

  forward: SDE
  score_fn: ScoreFn
  probability_flow: bool = False

  @property
  def num_scales(self) -> int:
    return self.forward.num_scales

  def _weight(self) -> float:
    return 0.5 if self.probability_flow else 1.0

  def sde(self, x: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    drift, diffusion = self.forward.sde(x, t)
    score = self.score_fn(x, t)
    drift = drift - batch_mul(diffusion**2, score) * self._weight()
    if self.probability_flow:
      diffusion = jnp.zeros_like(diffusion)
    return drift, diffusion

  def discretize(
      self, x: jax.Array, t: jax.Array
  ) -> tuple[jax.Array, jax.Array]:
    """Reverse discretisation f_rev = f - G^2 score (x-sized), G_rev (B,)."""
    f, g = self.forward.discretize(x, t)
    rev_f = f - batch_mul(g**2, self.score_fn(x, t)) * self._weight()
    rev_g = jnp.zeros_like(g) if self.probability_flow else g
    return rev_f, rev_g


@SDES.register("vesde")
@dataclasses.dataclass(frozen=True)
class VESDE(SDE):
  """Variance exploding: dx = sqrt(d[sigma^2(t)]/dt) dw.

  sigma(t) = sigma_min (sigma_max / sigma_min)^t.
  """

  sigma_min: float = 0.01
  sigma_max: float = 50.0

  def _sigma(self, t):
    return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

  def sde(self, x, t):
    log_ratio = math.log(self.sigma_max / self.sigma_min)
    diffusion = self._sigma(t) * math.sqrt(2 * log_ratio)
    return jnp.zeros_like(x), diffusion

  def marginal_prob(self, x, t):
    return x, self._sigma(t)

  def prior_sampling(self, rng, shape):
    return jax.random.normal(rng, shape, jnp.float32) * self.sigma_max

  def prior_logp(self, z):
    return _gaussian_logp(z, self.sigma_max)

  def scale(self, t):
    return jnp.ones_like(t)

  def noise_level(self, t):
    return self._sigma(t)

  def t_from_noise_level(self, sigma):
    return jnp.log(sigma / self.sigma_min) / math.log(
        self.sigma_max / self.sigma_min
    )

  def discretize(self, x, t):
    """SMLD's geometric ladder: G_i = sqrt(sigma_i^2 - sigma_{i-1}^2)."""
    timestep = jnp.round(t * (self.num_scales - 1)).astype(jnp.int32)
    sigmas = jnp.exp(
        jnp.linspace(
            math.log(self.sigma_min), math.log(self.sigma_max), self.num_scales
        )
    )
    sigma = sigmas[timestep]
    previous = jnp.where(timestep == 0, 0.0, sigmas[timestep - 1])
    return jnp.zeros_like(x), jnp.sqrt(sigma**2 - previous**2)


@dataclasses.dataclass(frozen=True)
class _LinearBetaSDE(SDE):
  """beta(t) = beta_min + t (beta_max - beta_min), shared by VP and sub-VP."""

  beta_min: float = 0.1
  beta_max: float = 20.0

  def beta(self, t):
    return self.beta_min + t * (self.beta_max - self.beta_min)

  def _log_mean_coeff(self, t):
    """log s(t) = -t^2 (b1 - b0) / 4 - t b0 / 2."""
    return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * (
        self.beta_min
    )

  def _t_from_log_mean_coeff(self, log_s):
    """Positive root of (b1 - b0)/4 t^2 + b0/2 t + log s = 0."""
    a = 0.25 * (self.beta_max - self.beta_min)
    b = 0.5 * self.beta_min
    return (-b + jnp.sqrt(b**2 - 4 * a * log_s)) / (2 * a)

  def scale(self, t):
    return jnp.exp(self._log_mean_coeff(t))

  def prior_sampling(self, rng, shape):
    return jax.random.normal(rng, shape, jnp.float32)

  def prior_logp(self, z):
    return _gaussian_logp(z, 1.0)


@SDES.register("vpsde")
@dataclasses.dataclass(frozen=True)
class VPSDE(_LinearBetaSDE):
  """Variance preserving: dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw."""

  def sde(self, x, t):
    beta = self.beta(t)
    return -0.5 * batch_mul(beta, x), jnp.sqrt(beta)

  def marginal_prob(self, x, t):
    log_s = self._log_mean_coeff(t)
    return batch_mul(jnp.exp(log_s), x), jnp.sqrt(-jnp.expm1(2.0 * log_s))

  def noise_level(self, t):
    # sigma^2 = 1 / s^2 - 1.
    return jnp.sqrt(jnp.expm1(-2.0 * self._log_mean_coeff(t)))

  def t_from_noise_level(self, sigma):
    return self._t_from_log_mean_coeff(-0.5 * jnp.log1p(sigma**2))

  def discretize(self, x, t):
    """DDPM ancestral form: x_{i+1} = sqrt(1 - b_i) x_i + sqrt(b_i) z."""
    timestep = jnp.round(t * (self.num_scales - 1)).astype(jnp.int32)
    discrete_betas = (
        jnp.linspace(self.beta_min, self.beta_max, self.num_scales)
        / self.num_scales
    )
    beta = discrete_betas[timestep]
    f = batch_mul(jnp.sqrt(1.0 - beta), x) - x
    return f, jnp.sqrt(beta)


@SDES.register("subvpsde")
@dataclasses.dataclass(frozen=True)
class SubVPSDE(_LinearBetaSDE):
  """Sub-VP: dx = -beta x / 2 dt + sqrt(beta (1 - e^{-2 int beta})) dw."""

  def sde(self, x, t):
    beta = self.beta(t)
    discount = -jnp.expm1(4.0 * self._log_mean_coeff(t))
    return -0.5 * batch_mul(beta, x), jnp.sqrt(beta * discount)

  def marginal_prob(self, x, t):
    log_s = self._log_mean_coeff(t)
    return batch_mul(jnp.exp(log_s), x), -jnp.expm1(2.0 * log_s)

  def noise_level(self, t):
    log_s = self._log_mean_coeff(t)
    return -jnp.expm1(2.0 * log_s) / jnp.exp(log_s)

  def t_from_noise_level(self, sigma):
    # s^2 + sigma s - 1 = 0.
    s = 0.5 * (jnp.sqrt(sigma**2 + 4.0) - sigma)
    return self._t_from_log_mean_coeff(jnp.log(s))


def get_sde(config) -> SDE:
  """Builds the SDE named `config.name` from a `config.sde` block.

  Args:
    config: ConfigDict with name ("vesde" | "vpsde" | "subvpsde"),
      num_scales, sigma_min, sigma_max, beta_min, beta_max.
  """
  cls = SDES.get(config.name)
  fields = {f.name for f in dataclasses.fields(cls)}
  return cls(**{k: v for k, v in config.items() if k in fields})
