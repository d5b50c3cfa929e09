"""Score networks; `utils.get_model(config.model)` builds one by name."""
