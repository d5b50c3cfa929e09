"""The pix2pix GAN baseline of phase given magnitude: its networks
(`pix2pix`), state, losses, step and sampler (`model`), the trainer
(`trainer`, --mode=train_gan) and the loader of a trained run (`loading`)."""
