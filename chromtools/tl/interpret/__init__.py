"""Interpretation: attention, attribution methods, in-silico mutagenesis and perturbation."""

from ._attention import attention, attention_agreement
from ._attribute import (
    attribute,
    deeplift_shap,
    grad_x_input,
    gradients,
    integrated_gradients,
    ism_scores,
    shuffled_references,
)
from ._interpreted import scalar_output
from ._ism import ism, naive_ism
from ._perturb import dinucleotide_shuffle, in_silico_deletion

__all__ = [
    "attention",
    "attention_agreement",
    "attribute",
    "deeplift_shap",
    "dinucleotide_shuffle",
    "grad_x_input",
    "gradients",
    "in_silico_deletion",
    "integrated_gradients",
    "ism",
    "ism_scores",
    "naive_ism",
    "scalar_output",
    "shuffled_references",
]
