"""What can be customized and how: the base-model catalogue, hyperparameters per family, and the run options."""
