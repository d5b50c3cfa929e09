"""Accelerated-MRI reconstruction trained on simulated k-space.

Modules: `models/` (U-Net, E2E-VarNet), `simulate` (the in-step forward
model), `losses`, `metrics` (fastMRI NMSE/PSNR/SSIM), `input_pipeline`,
`evaluation`, `train` (`train_and_evaluate`, `evaluate`).
"""
