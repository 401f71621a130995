"""tunelab: hyperparameter tuning, embedded by default. See API.md for the public names."""
