"""Preprocessing: windows and bins, signal normalisation, labels, splits, one-hot DNA."""
