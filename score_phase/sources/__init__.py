"""Phase sources that are not trained here: the naive baselines
(`baselines`), the record-bound ground truth and oracles (`records`), and
the one name -> `PhaseFn` lookup of every source, trained ones included
(`lookup`)."""
