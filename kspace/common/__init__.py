"""Project-wide helpers every layer may use: the `PhaseFn` type and
`wrap_phase` (`phase`), the one magnitude normalisation (`normalize`), the
name -> object `catalog` of every pluggable family, and `config_errors`, the
one error for a setting the code cannot use."""
