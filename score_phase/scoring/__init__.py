"""How phase is judged: single-sample errors (`point_metrics`), proper scores
of K samples (`proper_scores`: energy score, circular CRPS, spread/skill),
distribution matches (`distributions`: spectra, neighbour-difference W1,
tissue regions), every source scored on the same images
(`sampler_scores`), and the sample figures (`figures`)."""
