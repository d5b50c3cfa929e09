"""k-space forward model: FFTs, masks, coil maps, operators, synthesis.

The submodules are the API (`from kspace import fft, masks, coils, operators,
synthesize`); the most used functions are re-exported here too.
"""

from kspace.coils import birdcage_maps, estimate_sensitivities, rss, sens_combine
from kspace.fft import fft2c, ifft2c
from kspace.masks import get_mask_fn, num_low_frequencies, sample_mask
from kspace.operators import add_noise, adjoint, adjoint_batch, forward, forward_batch
