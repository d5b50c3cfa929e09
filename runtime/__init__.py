"""The training runtime shared by every trainer (layer 3 of docs/design.md).

`train_loop` (the one loop: a trainer supplies a `Task`), `checkpoints`
(orbax, exact resume, fallback), `parallel` (the 1-D `data` mesh),
`metric_writers` (JSONL + TensorBoard, progress bar, NaN check) and
`optimizers` (the `optim` config block). It imports nothing of
score_phase, recon or launch.
"""
