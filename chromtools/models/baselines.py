"""scikit-learn baselines on per-mark, per-bin features.

Each estimator takes histone signal of shape (samples, marks, bins), like
the neural networks, and follows scikit-learn's interface (``fit``,
``predict``, ``predict_proba`` / ``decision_function``, ``get_params``).
The registry marks them with ``is_sklearn = True`` so that the training
engine fits them directly instead of through the PyTorch loop; ``tasks``
says which targets each one models.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from ._base import HISTONE


def _as_signal(X: np.ndarray) -> np.ndarray:
    """(samples, marks, bins) float array, with a clear error for any other shape."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(
            f"baselines take histone signal of shape (samples, marks, bins), got {X.shape}"
        )
    if not np.isfinite(X).all():
        raise ValueError("the histone signal holds NaN or infinite values")
    return X


def _transform(X: np.ndarray, transform: str) -> np.ndarray:
    """Signed log1p (read counts span orders of magnitude) or nothing."""
    if transform == "log1p":
        return np.sign(X) * np.log1p(np.abs(X))
    if transform == "none":
        return X
    raise ValueError(f"transform must be 'log1p' or 'none', got {transform!r}")


def _subsample(n: int, max_samples: int | None, random_state: int) -> np.ndarray:
    """Positions of at most ``max_samples`` samples, drawn without replacement."""
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, max_samples, replace=False))


def _keep_parameters(estimator: BaseEstimator, arguments: dict[str, Any]) -> None:
    """Store each constructor argument (``locals()``) as the attribute of its name, where
    scikit-learn's ``get_params`` reads it."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class LogisticRegressionBaseline(ClassifierMixin, BaseEstimator):
    """Logistic regression on every (mark, bin) value: the linear baseline.

    Features are signed ``log1p`` of the signal, standardised; L2 penalty
    with inverse strength ``C``.

    Parameters
    ----------
    C
        Inverse regularisation strength (0.1 suits a few thousand genes ×
        500 correlated features).
    transform
        ``"log1p"`` (signed) or ``"none"``.
    max_iter
        Solver iterations.
    """

    name: ClassVar[str] = "logreg"
    is_sklearn: ClassVar[bool] = True
    input_kind: ClassVar[str] = HISTONE
    tasks: ClassVar[tuple[str, ...]] = ("classification",)

    def __init__(self, C: float = 0.1, transform: str = "log1p", max_iter: int = 2000) -> None:
        _keep_parameters(self, locals())

    def _features(self, X: np.ndarray) -> np.ndarray:
        X = _as_signal(X)
        return _transform(X, self.transform).reshape(len(X), -1)

    def fit(self, X: np.ndarray, y: np.ndarray) -> LogisticRegressionBaseline:
        """Fit on (samples, marks, bins) signal and 0/1 labels; returns self."""
        self.pipeline_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter)
        ).fit(self._features(X), np.asarray(y).astype(int))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(samples, 2) class probabilities."""
        return self.pipeline_.predict_proba(self._features(X))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """(samples,) log-odds of class 1."""
        return self.pipeline_.decision_function(self._features(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(samples,) predicted class."""
        return self.pipeline_.predict(self._features(X))


class RandomForestBaseline(BaseEstimator):
    """Random forest on every (mark, bin) value, for labels or expression.

    Parameters
    ----------
    n_estimators
        Trees.
    min_samples_leaf
        Samples per leaf (5 smooths the probabilities).
    max_features
        Features tried per split.
    task
        ``"classification"``, ``"regression"``, or ``"auto"``: classification
        when every target is 0 or 1.
    n_jobs
        Parallel jobs (scikit-learn's convention).
    random_state
        Seed of the trees.
    """

    name: ClassVar[str] = "rf"
    is_sklearn: ClassVar[bool] = True
    input_kind: ClassVar[str] = HISTONE
    tasks: ClassVar[tuple[str, ...]] = ("classification", "regression")

    def __init__(
        self,
        n_estimators: int = 300,
        min_samples_leaf: int = 5,
        max_features: str | float = "sqrt",
        task: str = "auto",
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        _keep_parameters(self, locals())

    def fit(self, X: np.ndarray, y: np.ndarray) -> RandomForestBaseline:
        """Fit on (samples, marks, bins) signal; returns self."""
        X = _as_signal(X).reshape(len(X), -1)
        y = np.asarray(y, dtype=np.float64)
        if self.task not in ("auto", "classification", "regression"):
            raise ValueError(
                f"task must be 'auto', 'classification' or 'regression', got {self.task!r}"
            )
        binary = bool(np.isin(y, (0.0, 1.0)).all())
        self.task_ = self.task
        if self.task == "auto":
            self.task_ = "classification" if binary else "regression"
        options = dict(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        if self.task_ == "classification":
            self.forest_ = RandomForestClassifier(**options).fit(X, y.astype(int))
            self.classes_ = self.forest_.classes_
        else:
            self.forest_ = RandomForestRegressor(**options).fit(X, y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(samples, classes) probabilities; classification only."""
        if self.task_ != "classification":
            raise ValueError(
                "predict_proba needs a forest fitted on 0/1 labels; this one was fitted on values"
            )
        return self.forest_.predict_proba(_as_signal(X).reshape(len(X), -1))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(samples,) predicted class or value."""
        return self.forest_.predict(_as_signal(X).reshape(len(X), -1))


class _SignalSVR(RegressorMixin, BaseEstimator):
    """What the SVR baselines share: RBF SVRs on standardised features of the transformed
    signal, fitted on at most ``max_samples`` samples, with ``cv`` shuffled folds."""

    is_sklearn: ClassVar[bool] = True
    input_kind: ClassVar[str] = HISTONE
    tasks: ClassVar[tuple[str, ...]] = ("regression",)
    C: float
    epsilon: float
    cv: int
    transform: str
    max_samples: int | None
    random_state: int

    def _svr(self) -> Pipeline:
        """A new standardise → RBF SVR pipeline."""
        return make_pipeline(StandardScaler(), SVR(C=self.C, epsilon=self.epsilon))

    def _signal(self, X: np.ndarray) -> np.ndarray:
        """(samples, marks, bins) transformed signal."""
        return _transform(_as_signal(X), self.transform)

    def _training_data(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, KFold]:
        """The transformed signal and targets of the subsample fitted on, and the folds."""
        X = self._signal(X)
        y = np.asarray(y, dtype=np.float64)
        keep = _subsample(len(X), self.max_samples, self.random_state)
        return X[keep], y[keep], KFold(self.cv, shuffle=True, random_state=self.random_state)


class BestBinSVR(_SignalSVR):
    """Single best-bin support vector regression, a DeepDiff baseline.

    Every (mark, bin) feature is a candidate; the ``n_candidates`` with the
    largest absolute Pearson correlation with the target are compared by
    ``cv``-fold cross-validated R² of an RBF SVR (on at most
    ``max_samples`` samples, as SVR fitting grows quadratically), and the
    final SVR is fitted on the best one alone.

    Parameters
    ----------
    C
        SVR regularisation.
    epsilon
        SVR tube width.
    n_candidates
        Features compared by cross-validation.
    cv
        Folds.
    transform
        ``"log1p"`` (signed) or ``"none"``.
    max_samples
        Samples used for selection and fitting (None: all).
    random_state
        Seed of the subsample and the folds.
    """

    name: ClassVar[str] = "svr"

    def __init__(
        self,
        C: float = 1.0,
        epsilon: float = 0.1,
        n_candidates: int = 10,
        cv: int = 3,
        transform: str = "log1p",
        max_samples: int | None = 5000,
        random_state: int = 0,
    ) -> None:
        _keep_parameters(self, locals())

    def fit(self, X: np.ndarray, y: np.ndarray) -> BestBinSVR:
        """Choose the best (mark, bin) and fit the SVR on it; returns self."""
        X, y, folds = self._training_data(X, y)
        bins = X.shape[2]
        X = X.reshape(len(X), -1)
        centred = X - X.mean(axis=0)
        denominator = np.sqrt((centred**2).sum(axis=0) * ((y - y.mean()) ** 2).sum())
        denominator = np.where(denominator > 0, denominator, np.inf)  # constant features score 0
        correlation = np.abs(centred.T @ (y - y.mean())) / denominator
        candidates = np.argsort(-correlation)[: self.n_candidates]
        scores = np.array(
            [
                cross_val_score(self._svr(), X[:, [j]], y, cv=folds, scoring="r2").mean()
                for j in candidates
            ]
        )
        best = int(candidates[np.argmax(scores)])
        self.best_mark_, self.best_bin_ = divmod(best, bins)
        self.cv_scores_ = dict(zip(candidates.tolist(), scores.tolist(), strict=True))
        self.svr_ = self._svr().fit(X[:, [best]], y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(samples,) predictions from the chosen (mark, bin) alone."""
        X = self._signal(X)
        return self.svr_.predict(X[:, self.best_mark_, self.best_bin_][:, None])


class TwoLayerSVR(_SignalSVR):
    """DeepDiff's two-layer SVR: one SVR per bin, then an SVR on their predictions.

    Layer 1 fits, for each bin, an RBF SVR on that bin's mark values (marks
    features). Layer 2 fits an RBF SVR on the bins' predictions; it is
    trained on out-of-fold layer-1 predictions (``cv`` folds), so that it
    learns how much to trust each bin on data the bin's SVR has not seen.

    Parameters
    ----------
    C
        Regularisation of every SVR.
    epsilon
        Tube width of every SVR.
    cv
        Folds for the out-of-fold layer-1 predictions.
    transform
        ``"log1p"`` (signed) or ``"none"``.
    max_samples
        Samples used for fitting (None: all): SVR fitting grows
        quadratically, and layer 1 fits ``bins × (cv + 1)`` of them.
    n_jobs
        Bins fitted in parallel (joblib's convention).
    random_state
        Seed of the subsample and the folds.
    """

    name: ClassVar[str] = "svr2"

    def __init__(
        self,
        C: float = 1.0,
        epsilon: float = 0.1,
        cv: int = 3,
        transform: str = "log1p",
        max_samples: int | None = 2000,
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        _keep_parameters(self, locals())

    def fit(self, X: np.ndarray, y: np.ndarray) -> TwoLayerSVR:
        """Fit both layers on (samples, marks, bins) signal; returns self."""
        X, y, folds = self._training_data(X, y)

        def one_bin(b: int):
            model = self._svr()
            out_of_fold = cross_val_predict(clone(model), X[:, :, b], y, cv=folds)
            return model.fit(X[:, :, b], y), out_of_fold

        fitted = Parallel(n_jobs=self.n_jobs)(delayed(one_bin)(b) for b in range(X.shape[2]))
        self.bin_models_ = [model for model, _ in fitted]
        layer_one = np.column_stack([out_of_fold for _, out_of_fold in fitted])
        self.combiner_ = self._svr().fit(layer_one, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(samples,) predictions of the second layer."""
        X = self._signal(X)
        layer_one = np.column_stack(
            [model.predict(X[:, :, b]) for b, model in enumerate(self.bin_models_)]
        )
        return self.combiner_.predict(layer_one)
