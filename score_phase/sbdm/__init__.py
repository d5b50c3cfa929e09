"""The conditional score-based diffusion model (SBDM) of phase given
magnitude: the forward SDEs (`sde`), the NCSN++-style network (`layers`,
`ncsnpp`, `networks`: the model by name and the pure score function), the
denoising score matching objective (`objective`), the train state and step
(`state`), the samplers (`sampling`), the trainer (`trainer`,
--mode=train_phase) and the loader of a trained run (`loading`)."""
