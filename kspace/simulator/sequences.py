"""The sequence families: the values of the `sequence` record feature.

At the bottom of the simulator, importing nothing: the generator draws
them (`generator.scan_draws.draw_sequence`) and the dataset readers map
file headers onto them (`kspace.datasets.scan_headers`), so a reader does
not depend on the generator.
"""

# The `sequence` record feature.
GRADIENT_ECHO, SPIN_ECHO = 0, 1
