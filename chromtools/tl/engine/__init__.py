"""The training engine: configuration, the inputs and their loader, the training loop and
its options, the prediction loop, checkpoints, model adapters, metrics, the samples a model
is fed (single or paired cell types) and the record of a fitted model."""

from ._adapters import ADAPTERS, TorchAdapter, adapter_for, adapter_of, check_transferable
from ._checkpoint import (
    check_checkpoint_files,
    checkpoint_file,
    checkpoint_folder,
    run_options,
    state_digest,
)
from ._config import FIELDS, PRECISIONS, TrainingConfig, resolve_device, training_config
from ._data import Batches
from ._inputs import Inputs, matched_inputs
from ._metrics import METRICS, bootstrap_interval, score, score_table
from ._model_data import (
    DataView,
    ModelData,
    choose_cell_types,
    default_model,
    histone_config,
    labelled_of,
    marks_of,
    model_data,
    model_inputs,
)
from ._options import LossFunction, TrainOptions
from ._pairs import PairData, check_pair, pair_data
from ._predict import inference_network, predict_batches
from ._records import (
    DistributionWarning,
    NormalizationWarning,
    check_finite_weights,
    check_model,
    checked_record,
    rebuild,
    record_in,
    record_of,
    state_arrays,
)
from ._samples import (
    Task,
    check_cell_types,
    check_finite_inputs,
    check_hyperparameters,
    codes_of,
    samples,
    samples_at,
    select_marks,
    split_masks,
    target_values,
)
from ._signal import check_has_signal, has_signal, refuse_without_signal, with_signal
from ._train import SampleSet, train, train_samples

__all__ = [
    "DataView",
    "ADAPTERS",
    "Batches",
    "FIELDS",
    "Inputs",
    "LossFunction",
    "METRICS",
    "ModelData",
    "DistributionWarning",
    "DistributionWarning",
    "NormalizationWarning",
    "PRECISIONS",
    "PairData",
    "SampleSet",
    "TorchAdapter",
    "Task",
    "TrainOptions",
    "TrainingConfig",
    "adapter_for",
    "adapter_of",
    "bootstrap_interval",
    "check_cell_types",
    "check_checkpoint_files",
    "check_finite_inputs",
    "check_finite_weights",
    "checked_record",
    "check_has_signal",
    "check_hyperparameters",
    "codes_of",
    "check_model",
    "check_pair",
    "check_transferable",
    "checkpoint_file",
    "checkpoint_folder",
    "choose_cell_types",
    "default_model",
    "has_signal",
    "histone_config",
    "inference_network",
    "labelled_of",
    "marks_of",
    "matched_inputs",
    "model_data",
    "model_inputs",
    "pair_data",
    "predict_batches",
    "rebuild",
    "run_options",
    "record_in",
    "record_of",
    "refuse_without_signal",
    "resolve_device",
    "samples",
    "samples_at",
    "score",
    "score_table",
    "select_marks",
    "split_masks",
    "state_arrays",
    "state_digest",
    "target_values",
    "train",
    "train_samples",
    "training_config",
    "with_signal",
]
