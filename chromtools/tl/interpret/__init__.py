"""Interpretation: attention, attribution methods, in-silico mutagenesis and perturbation."""

from ._attention import attention
from ._attention_agreement import attention_agreement
from ._attribute import attribute
from ._deletion import in_silico_deletion
from ._interpreted import scalar_output
from ._ism import ism, naive_ism
from ._methods import deeplift_shap, grad_x_input, gradients, integrated_gradients, ism_scores
from ._shuffle import dinucleotide_shuffle, shuffled_references
from ._variant_scores import substitution_scores as substitution_scores  # for the benchmark
from ._variants import variant_effects

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
    "variant_effects",
]
