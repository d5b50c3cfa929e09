"""Checks shared by the models' bf16 / remat equivalence tests."""

import jax
import numpy as np
import optax


def conv_dtypes(fn, *args) -> dict[tuple, set[str]]:
  """{kernel window: operand dtypes} of every convolution `fn(*args)` runs
  (inside jit, remat and other nested programs too)."""
  found = {}

  def visit(jaxpr):
    for eqn in jaxpr.eqns:
      if eqn.primitive.name == "conv_general_dilated":
        window = eqn.invars[1].aval.shape[:2]
        found.setdefault(window, set()).add(str(eqn.invars[0].aval.dtype))
      for value in eqn.params.values():
        for sub in value if isinstance(value, (list, tuple)) else (value,):
          if hasattr(sub, "eqns"):
            visit(sub)
          elif hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):
            visit(sub.jaxpr)

  visit(jax.make_jaxpr(fn)(*args).jaxpr)
  return found


def has_remat(fn, *args) -> bool:
  """Whether the program of `fn(*args)` holds a rematerialised region."""
  return "remat" in str(jax.make_jaxpr(fn)(*args))


def adam_losses(loss_fn, params, steps: int = 12, lr: float = 3e-3):
  """The losses of `steps` Adam steps on `loss_fn(params)`, from `params`."""
  tx = optax.adam(lr)

  def step(carry, _):
    p, opt_state = carry
    loss, grads = jax.value_and_grad(loss_fn)(p)
    updates, opt_state = tx.update(grads, opt_state, p)
    return (optax.apply_updates(p, updates), opt_state), loss

  run = jax.jit(
      lambda p: jax.lax.scan(step, (p, tx.init(p)), None, length=steps)[1]
  )
  return np.asarray(run(params))


def assert_remat_equivalent(plain_loss_fn, remat_loss_fn, params):
  """The remat model recomputes (a remat region in its backward pass) and
  gives the plain model's loss and gradients."""
  plain = jax.value_and_grad(plain_loss_fn)
  remat = jax.value_and_grad(remat_loss_fn)
  assert has_remat(remat, params) and not has_remat(plain, params)
  loss, grads = jax.jit(plain)(params)
  got_loss, got_grads = jax.jit(remat)(params)
  np.testing.assert_allclose(got_loss, loss, rtol=1e-6)
  jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7),
      got_grads,
      grads,
  )
