"""One adapter per kind of model: how it is fitted, predicts, and becomes plain arrays.

A PyTorch model is stored as its state dict; a scikit-learn baseline as the
bytes of skops' safe format (never pickle) in one ``uint8`` array. Both live
in ``uns[key]`` and survive a Zarr round trip and ``save_model`` /
``load_model``: any model fitted in one session predicts in another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import skops.io as sio
import torch

from ... import models
from ..._errors import StoreError
from ._config import TrainingConfig, resolve_device
from ._data import Batches
from ._inputs import Inputs
from ._train import SampleSet, predict_batches, train_samples


def _trusted_sklearn() -> list[str]:
    """What a stored baseline may contain beyond what skops trusts by default: the
    registered scikit-learn models and the trees of a random forest."""
    registered = [
        f"{spec.__module__}.{spec.__qualname__}"
        for spec in models.MODELS.values()
        if getattr(spec, "is_sklearn", False)
    ]
    return [*registered, "sklearn.tree._tree.Tree"]


@dataclass(frozen=True)
class FitJob:
    """What :meth:`Adapter.fit` fits, on what and how, for the adapter of its kind."""

    spec: type
    hyperparameters: dict
    shape: dict[str, int]
    inputs: Inputs
    sets: tuple[SampleSet, SampleSet]
    task: str
    training: TrainingConfig
    checkpoint: Path | None
    resume: bool
    identity: Mapping[str, object] | None


class Adapter:
    """How one kind of model is fitted, stored and read back; :data:`ADAPTERS` has one of each.

    ``kind`` names the kind, ``arrays_key`` is the record entry that holds
    the model, ``transferable`` says whether it can be fine-tuned.
    """

    kind: ClassVar[str]
    arrays_key: ClassVar[str]
    transferable: ClassVar[bool]

    def __init_subclass__(cls, *, kind: str, arrays_key: str, transferable: bool) -> None:
        super().__init_subclass__()
        cls.kind, cls.arrays_key, cls.transferable = kind, arrays_key, transferable

    def fit(
        self,
        spec: type,
        hyperparameters: dict,
        shape: dict[str, int],
        inputs: Inputs,
        sets: tuple[SampleSet, SampleSet],
        *,
        task: str,
        training: TrainingConfig,
        checkpoint: Path | None = None,
        resume: bool = False,
        identity: Mapping[str, object] | None = None,
    ) -> tuple[dict, dict]:
        """Fit ``spec(**hyperparameters)`` on the (train, valid) samples ``sets`` of ``inputs``.

        ``shape`` is the input's (``n_marks``, ``n_bins``, …), ``task`` and
        ``training`` how to fit. ``checkpoint``/``resume``/``identity``: an
        epoch-by-epoch checkpoint file and what its run is besides the model
        and samples (:func:`~._train.train`). Returns the record entries and
        what to add to ``params``.
        """
        job = FitJob(
            spec, hyperparameters, shape, inputs, sets, task, training, checkpoint, resume, identity
        )
        return self.fit_job(job)

    def fit_job(self, job: FitJob) -> tuple[dict, dict]:
        """:meth:`fit`, as each kind does it."""
        raise NotImplementedError


class TorchAdapter(Adapter, kind="torch", arrays_key="state_dict", transferable=True):
    """A ``torch.nn.Module`` from ``chromtools.models``, stored as ``state_dict``."""

    def fit_job(self, job: FitJob) -> tuple[dict, dict]:
        """Train ``job.spec`` on the train samples, early-stopped on the valid ones.

        Returns the record entries (``config['model']``, ``history``,
        ``state_dict``) and what to add to ``params`` (``device``, ``best_epoch``).
        Refuses weights that training made NaN or infinite: nothing is stored.
        """
        spec, training = job.spec, job.training
        torch.manual_seed(training.seed)
        network = models.build(spec.name, **job.shape, n_outputs=1, **job.hyperparameters)
        history, best_epoch = train_samples(
            network, job.inputs, *job.sets, task=job.task, training=training,
            description=f"fit {spec.name}", checkpoint=job.checkpoint, resume=job.resume,
            identity=job.identity,
        )  # fmt: skip
        diverged = non_finite_weights(network.state_dict())
        if diverged:
            raise ValueError(
                f"fit({spec.name!r}): training diverged, {diverged} weights are NaN or "
                f"infinite; nothing was stored. Lower lr (it was {training.lr:g})"
            )
        entries = {
            "config": {"model": dict(network.config)},
            "history": history,
            "state_dict": self.arrays(network),
        }
        return entries, {"device": str(resolve_device(training.device)), "best_epoch": best_epoch}

    @staticmethod
    def arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
        """The state dict as numpy arrays (what ``uns`` and safetensors hold)."""
        state = model.state_dict()
        return {name: value.detach().cpu().numpy().copy() for name, value in state.items()}

    @staticmethod
    def stored(record: Mapping) -> dict[str, np.ndarray]:
        """The arrays of ``record`` that hold the model (for safetensors)."""
        return {name: np.ascontiguousarray(v) for name, v in record["state_dict"].items()}

    @staticmethod
    def restored(arrays: dict[str, np.ndarray]) -> dict:
        """The record entries holding the model, from :meth:`stored`'s arrays."""
        return {"state_dict": arrays}

    @staticmethod
    def load(record: Mapping) -> torch.nn.Module:
        """The model stored in ``record``: architecture from config, then weights."""
        network = models.build(**dict(record["config"]["model"]))
        state = {k: torch.from_numpy(np.asarray(v)) for k, v in record["state_dict"].items()}
        network.load_state_dict(state)
        return network

    def predict(
        self, record: Mapping, inputs: Inputs, cells, genes, *, batch_size: int, device=None
    ) -> np.ndarray:
        device = resolve_device(device)
        network = self.load(record).to(device)
        batches = Batches(inputs, cells, genes, batch_size=batch_size)
        task = record["config"]["data"]["task"]
        return predict_batches(network, batches, device=device, task=task)


class SklearnAdapter(Adapter, kind="sklearn", arrays_key="estimator", transferable=False):
    """A scikit-learn baseline from ``chromtools.models.baselines``, stored as skops bytes."""

    def fit_job(self, job: FitJob) -> tuple[dict, dict]:
        """Fit ``job.spec(**job.hyperparameters)`` on every training sample at once (no
        epochs, so no checkpoint).

        The validation samples, ``shape`` and the training options other than
        the seed are not used: a baseline is fitted in one go. Returns the
        record entries (``config['model']``, ``estimator``) and no extra params.
        """
        cells, genes, y = job.sets[0]
        estimator = job.spec(**job.hyperparameters)
        batches = Batches(job.inputs, cells, genes, y, batch_size=len(genes) or 1)
        x, target, _ = next(iter(batches))
        estimator.fit(x.numpy(), target.numpy())
        return {"config": {"model": {"name": job.spec.name}}, **self.arrays(estimator)}, {}

    @staticmethod
    def arrays(estimator: object) -> dict[str, np.ndarray]:
        return {"estimator": np.frombuffer(sio.dumps(estimator), dtype=np.uint8).copy()}

    @staticmethod
    def stored(record: Mapping) -> dict[str, np.ndarray]:
        return {"estimator": np.ascontiguousarray(record["estimator"], dtype=np.uint8)}

    @staticmethod
    def restored(arrays: dict[str, np.ndarray]) -> dict:
        if set(arrays) != {"estimator"}:
            raise StoreError(
                f"a stored scikit-learn model holds one array, 'estimator'; found {sorted(arrays)}"
            )
        return {"estimator": arrays["estimator"]}

    @staticmethod
    def load(record: Mapping) -> object:
        """The fitted estimator, refusing any type outside chromtools' baselines."""
        data = np.asarray(record["estimator"], dtype=np.uint8).tobytes()
        trusted = _trusted_sklearn()
        try:
            untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in trusted]
            if untrusted:
                raise StoreError(
                    f"the stored scikit-learn model holds types chromtools does not trust: "
                    f"{untrusted}; it was not written by ct.tl.fit"
                )
            return sio.loads(data, trusted=trusted)
        except StoreError:
            raise
        except Exception as error:  # skops raises many kinds on damaged bytes
            raise StoreError(f"the stored scikit-learn model cannot be read: {error}") from None

    def predict(
        self, record: Mapping, inputs: Inputs, cells, genes, *, batch_size: int, device=None
    ) -> np.ndarray:
        estimator = self.load(record)
        x, _, _ = next(iter(Batches(inputs, cells, genes, batch_size=len(genes) or 1)))
        if record["config"]["data"]["task"] == "classification":
            return estimator.predict_proba(x.numpy())[:, 1]
        return estimator.predict(x.numpy())


def non_finite_weights(state: Mapping[str, object]) -> int:
    """How many weights (state dict entries) are NaN or infinite."""
    return int(sum((~np.isfinite(np.asarray(v, dtype=np.float64))).sum() for v in state.values()))


ADAPTERS = {adapter.kind: adapter() for adapter in (TorchAdapter, SklearnAdapter)}


def adapter_for(spec: type) -> Adapter:
    """The adapter of a registered model class."""
    return ADAPTERS["sklearn" if getattr(spec, "is_sklearn", False) else "torch"]


def adapter_of(record: Mapping) -> Adapter:
    """The adapter of a stored model record (``uns[key]``)."""
    for adapter in ADAPTERS.values():
        if adapter.arrays_key in record:
            return adapter
    raise KeyError(
        f"the model record holds neither {' nor '.join(a.arrays_key for a in ADAPTERS.values())}"
    )


def check_transferable(name: str, what: str) -> None:
    """Refuse to transfer a model whose kind cannot be fine-tuned."""
    if not adapter_for(models.get_model(name)).transferable:
        raise ValueError(f"{what} needs a PyTorch model to transfer; {name!r} is scikit-learn")
