"""Bad inputs to the core's public API fail at the boundary, naming the parameter (issue 12).

Property-based: for ``make_loss``, ``transition_matrix``, ``corrupt_labels``, ``fit`` and the sweep
spec (``Grid``, ``LossSpec``, ``NoiseSpec``), hypothesis draws one parameter and a bad value for it
(a string for a number, a boolean for a number or the other way round, None, NaN, an infinity, a
value out of range, a wrong shape, an unknown name) while every other argument is valid. Each call
must raise a ValueError or TypeError whose message names the parameter, raised by nblib itself (the
innermost frame of the traceback is in nblib, not deep inside torch, NumPy or scikit-learn); never
return a result. The one exception is an absurd learning rate, a valid number whose right answer is
``TrainingDiverged``.

The parametrized tests below the property tests pin the cases named in the issue.
"""
import functools
import math
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import nblib
from nblib import losses, noise, sweep
from nblib._checks import MAX_SEED
from nblib.train import TrainingDiverged

NBLIB = str(Path(nblib.__file__).resolve().parent)
CPU = "cpu"
K = 10
N = 20                         # training samples: a tiny digits set keeps every fit call in milliseconds
EXAMPLES = 50                  # hypothesis examples per entry point (7 entry points)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=1)
def digits():
    return nblib.data.load("digits", device=CPU, n_train=N, n_test=10)


def raises_naming(names, call, expected=(ValueError, TypeError)):
    """Call ``call``; it must raise ``expected`` from inside nblib, naming one of ``names`` (a word or a
    tuple of words: the parameter, or the hyper-parameter inside it that is bad)."""
    with pytest.raises(expected) as info:
        call()
    names = (names,) if isinstance(names, str) else names
    assert any(n in str(info.value) for n in names), f"none of {names} named in: {info.value}"
    innermost = Path(traceback.extract_tb(info.tb)[-1].filename).resolve()
    assert str(innermost).startswith(NBLIB), f"raised outside nblib, at {innermost}: {info.value!r}"
    return info.value


# ----------------------------------------------------------------------------- bad values by kind

NOT_A_NUMBER = st.one_of(st.floats(-10, 10).map(str), st.booleans(), st.none(), st.just([0.5]),
                         st.just(1 + 1j), st.just({"value": 1}))
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def bad_real(lo=None, hi=None, lo_open=False, hi_open=False):
    """Anything that check_in_range(lo, hi) must refuse: no number, NaN or an infinity, out of range."""
    out = [NOT_A_NUMBER, NON_FINITE]
    if lo is not None:
        out.append(st.floats(max_value=lo, exclude_max=not lo_open, allow_nan=False, allow_infinity=False))
    if hi is not None:
        out.append(st.floats(min_value=hi, exclude_min=not hi_open, allow_nan=False, allow_infinity=False))
    return st.one_of(*out)


def bad_int(lo=None, hi=None):
    """Anything that check_int(lo, hi) must refuse: 1.5, 2.0, "3", True, None, out of range."""
    out = [st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5).map(str), st.booleans(), st.none()]
    if lo is not None:
        out.append(st.integers(max_value=lo - 1))
    if hi is not None:
        out.append(st.integers(min_value=hi + 1))
    return st.one_of(*out)


BAD_SEED = bad_int(0, MAX_SEED)
BAD_BOOL = st.one_of(st.sampled_from(["no", "yes", "False", "True", ""]), st.integers(0, 1), st.none(),
                     st.floats(0, 1))


def bad_choice(choices, none_is_bad=True):
    """Not one of ``choices``: other text, a number (and None unless None is allowed)."""
    out = [st.text(max_size=8).filter(lambda s: s not in choices), st.integers()]
    return st.one_of(*out, st.none()) if none_is_bad else st.one_of(*out)


def _negative_entry(i, k=K):
    T = np.eye(k)
    T[i, i], T[i, (i + 1) % k] = -1.0, 2.0          # the row still sums to 1
    return T


def _nan_entry(i, k=K):
    T = np.eye(k)
    T[i, i] = np.nan
    return T


def bad_matrix(k=K, other_sizes=True):
    """Not a (k, k) transition matrix: text, None, booleans, wrong shapes, a negative or NaN entry,
    rows not summing to 1. ``other_sizes``: also a valid T of another size (bad where K is fixed)."""
    fixed = ["eye", "identity", None, 1.0, [[1.0, 0.0]], np.ones(k) / k, np.eye(k)[:, :-1],
             [[True] * k] * k, [[1.0, 0.0], [0.0]]]
    return st.one_of(
        st.sampled_from(fixed + ([np.eye(k + 1)] if other_sizes else [])),
        st.floats(0.01, 5).filter(lambda c: abs(c - 1) > 1e-3).map(lambda c: np.eye(k) * c),   # rows sum to c
        st.integers(0, k - 1).map(_negative_entry),
        st.integers(0, k - 1).map(_nan_entry),
    )


def bad_labels(n=N, k=K, fixed_length=True):
    """Not integer labels in [0, k): floats, out of range, text; with ``fixed_length``, also a column
    (n, 1) or the wrong length (where one label per training sample is required)."""
    out = [torch.zeros(n), torch.full((n,), k), torch.full((n,), -1), "labels", [0.5] * n]
    if fixed_length:
        out += [torch.zeros(n, 1, dtype=torch.long), torch.zeros(n + 1, dtype=torch.long)]
    return st.one_of(st.sampled_from(out), st.integers(k, 10 * k).map(lambda c: torch.full((n,), c)))


# ----------------------------------------------------------------------------- make_loss

NUMERIC_HYPER = {"q": bad_real(0, 1, lo_open=True), "k": bad_real(0, 1, lo_open=True, hi_open=True),
                 "gamma": bad_real(0), "alpha": bad_real(0), "beta": bad_real(0), "A": bad_real(0, lo_open=True)}
VARIANTS = {"mae": losses.MAE_VARIANTS, "nmae": losses.NMAE_VARIANTS, "nrce": losses.NRCE_VARIANTS}


def _bad_hyper(name, param):
    if param in NUMERIC_HYPER:
        return NUMERIC_HYPER[param]
    if param == "detach":
        return BAD_BOOL
    if param == "T":
        return bad_matrix()
    return bad_choice(VARIANTS.get(name, losses.MAE_VARIANTS))      # variant / mae_variant


@st.composite
def make_loss_case(draw):
    """(parameter named in the error, call)."""
    name = draw(st.sampled_from(losses.LOSSES))
    kw = {"T": np.eye(K)} if name in ("forward", "backward") else {}
    param = draw(st.sampled_from([*losses.DEFAULTS[name], *kw, "name", "num_classes", "reduction", "unknown"]))
    if param == "name":
        bad_name = draw(bad_choice(losses.LOSSES))
        return "loss", lambda: losses.make_loss(bad_name, K)
    if param == "num_classes":
        k = draw(bad_int(2))
        return "num_classes", lambda: losses.make_loss(name, k, **kw)
    if param == "reduction":
        reduction = draw(bad_choice(losses.REDUCTIONS))
        return "reduction", lambda: losses.make_loss(name, K, reduction=reduction, **kw)
    if param == "unknown":
        return "lq", lambda: losses.make_loss(name, K, lq=0.5, **kw)
    value = draw(_bad_hyper(name, param))
    return param, lambda: losses.make_loss(name, K, **{**kw, param: value})


@SETTINGS
@given(make_loss_case())
def test_make_loss_refuses_every_bad_parameter(case):
    raises_naming(*case)


# ----------------------------------------------------------------------------- noise

@st.composite
def transition_matrix_case(draw):
    good = dict(kind="symmetric", num_classes=K, rate=0.3, include_true=False, mapping="mnist")
    param = draw(st.sampled_from(list(good)))
    bad = {"kind": bad_choice(noise.NOISE_KINDS), "num_classes": bad_int(2), "rate": bad_real(0, 1),
           "include_true": BAD_BOOL,
           "mapping": st.one_of(bad_choice(noise.ASYMMETRIC_MAPS), st.just({}), st.just({1: 1}),
                                st.integers(K, 100).map(lambda c: {0: c}), st.just({"a": 1}))}[param]
    value = draw(bad)
    kw = {**good, "kind": "asymmetric"} if param == "mapping" else good
    return param, lambda: noise.transition_matrix(**{**kw, param: value})


@SETTINGS
@given(transition_matrix_case())
def test_transition_matrix_refuses_every_bad_parameter(case):
    raises_naming(*case)


@st.composite
def corrupt_labels_case(draw):
    y = digits().y_train
    good = dict(labels=y, T=noise.transition_matrix("symmetric", K, 0.3), seed=0, exact=False)
    param = draw(st.sampled_from(list(good)))
    bad = {"labels": bad_labels(fixed_length=False), "T": bad_matrix(other_sizes=False), "seed": BAD_SEED,
           "exact": BAD_BOOL}    # labels of any shape and a T of any size are fine here, if they match
    value = draw(bad[param])
    return param, lambda: noise.corrupt_labels(**{**good, param: value})


@SETTINGS
@given(corrupt_labels_case())
def test_corrupt_labels_refuses_every_bad_parameter(case):
    raises_naming(*case)


# ----------------------------------------------------------------------------- fit

# the training settings shared by fit and Grid (None is a valid grad_clip: no clipping)
TRAINING_BAD = {
    "epochs": bad_int(1),
    "batch_size": bad_int(1),
    "lr": bad_real(0, lo_open=True),
    "optimizer": bad_choice(nblib.train.OPTIMIZERS),
    "weight_decay": bad_real(0),
    "schedule": bad_choice(nblib.train.SCHEDULES),
    "grad_clip": bad_real(0, lo_open=True).filter(lambda v: v is not None),
}
FIT_BAD = {
    "model": st.sampled_from([None, "mlp", 3]),
    "data": st.sampled_from([None, "digits", {"x_train": 1}]),
    "loss": bad_choice(losses.LOSSES),
    "loss_params": st.sampled_from(["q", 0.7, ["q"]]),
    "y_train": bad_labels(),                    # (None is the default: the clean labels)
    "flipped": st.sampled_from([torch.zeros(N), torch.zeros(N + 1, dtype=torch.bool), "none", 1.0]),
    **TRAINING_BAD,
    "seed": BAD_SEED,
    "sample_weight": st.one_of(
        st.sampled_from([torch.zeros(N), torch.full((N,), math.nan), torch.full((N,), math.inf), torch.ones(N + 1),
                         "ones"]),
        st.floats(-1e6, -1e-6).map(lambda w: torch.full((N,), w))),
    "prune_start": bad_int(1).filter(lambda v: v is not None),
    "prune_every": bad_int(1).filter(lambda v: v is not None),
    "callback": st.sampled_from([1, "print", [print]]),
    "eval_train": BAD_BOOL,
    "val": st.sampled_from([1, (torch.zeros(3, 64),), (torch.zeros(3, 64), torch.zeros(4, dtype=torch.long)),
                            (torch.zeros(3, 5), torch.zeros(3, dtype=torch.long)), ("x", "y"),
                            (torch.zeros(3, 64), torch.full((3,), K))]),
    "progress": BAD_BOOL,
    "device": st.one_of(st.sampled_from(["gpu", "cuda:99", "meta", "", "CPU", 1.5, True]),
                        st.text(max_size=6).filter(lambda s: not s.startswith(("cpu", "cuda", "mps")))),
}


@st.composite
def fit_case(draw):
    """(parameter named in the error, fit keyword arguments)."""
    param = draw(st.sampled_from([*FIT_BAD, "loss_params value", "huge lr"]))
    kw = dict(epochs=1, batch_size=8, progress=False, device=CPU)
    if param == "loss_params value":         # a bad hyper-parameter passed through loss_params
        name = draw(st.sampled_from(["gce", "tgce", "sce", "forward", "fl"]))
        hyper = draw(st.sampled_from(sorted({*losses.DEFAULTS[name], *(("T",) if name == "forward" else ())})))
        return hyper, {**kw, "loss": name, "loss_params": {hyper: draw(_bad_hyper(name, hyper))}}
    if param == "huge lr":                   # a valid number: the answer is TrainingDiverged, not a result
        return None, {**kw, "epochs": 2, "batch_size": 4, "lr": draw(st.floats(1e6, 1e300))}
    if param in ("prune_start", "prune_every"):
        kw["loss"] = draw(st.sampled_from(["ce", "tgce"]))    # checked whether or not the loss prunes
    return param, {**kw, param: draw(FIT_BAD[param])}


@SETTINGS
@given(fit_case())
def test_fit_refuses_every_bad_parameter(case):
    param, kw = case
    data = kw.pop("data", digits())
    model = kw.pop("model", None) if "model" in kw else nblib.models.make_model("mlp", digits(), seed=0)
    call = functools.partial(nblib.fit, model, data, **kw)
    if param is None:
        err = raises_naming("diverged", call, TrainingDiverged)
        assert err.histories and len(err.histories[0].loss) <= 2
    else:
        raises_naming(param.split("_value")[0], call)


# ----------------------------------------------------------------------------- the sweep spec

GRID_BAD = {
    "name": st.sampled_from(["", "../up", ".hidden", "a/b", 3, None]),
    "dataset": bad_choice(nblib.data.DATASETS),
    "losses": st.sampled_from(["ce", (), ("nope",), ("forward(X)",), (("gce", {"q": "0.5"}),), 3]),
    "noise": st.sampled_from(["sym 0.4", (), ("sym abc",), ("sym 1.5",), (("symmetric", "0.2"),), ("human worse",),
                              ({"kind": "symmetric", "rate": 0.2, "exact": "no"},), 0.4]),
    "seeds": st.one_of(st.sampled_from([3, (), (0, 0), ("0",)]), BAD_SEED.map(lambda s: (s,))),
    "model": bad_choice(("auto", *nblib.models.MODELS)),
    "model_kw": st.sampled_from(["channels=64", [("channels", 64)], {1: 2}]),
    "dataset_kw": st.sampled_from(["n_train=10", {"n_trian": 10}, {2: 1}]),
    "data_seed": BAD_SEED,
    **TRAINING_BAD,
    "estimator": st.one_of(st.sampled_from(["97", {"percentil": 97}]), bad_real(0, 100, lo_open=True).map(
        lambda v: {"percentile": v}), BAD_BOOL.map(lambda v: {"filter_outliers": v})),
}
# the words an error may name for a bad value of a Grid field: the field, or the bad part inside it
GRID_NAMES = {"losses": ("loss", "q"), "noise": ("noise", "rate", "exact"), "seeds": "seed",
              "estimator": ("estimator", "percentile", "filter_outliers"), "dataset_kw": ("dataset_kw", "keyword")}


@SETTINGS
@given(st.data())
def test_grid_refuses_every_bad_field(data):
    field = data.draw(st.sampled_from(list(GRID_BAD)))
    value = data.draw(GRID_BAD[field])
    kw = {"dataset": "digits", "losses": ("ce",), "noise": ("sym 0.2",), field: value}
    name = kw.pop("name", "g")
    raises_naming(GRID_NAMES.get(field, field), lambda: sweep.Grid(name, **kw))


LOSS_SPEC_BAD = {"name": bad_choice(losses.LOSSES), "params": st.sampled_from(["q=0.5", [("q", 0.5)], {1: 0.5}]),
                 "label": st.sampled_from([1, ["gce"], b"gce"]),
                 "transition": bad_choice(sweep.spec.TRANSITIONS, none_is_bad=False)}
NOISE_SPEC_BAD = {"kind": bad_choice(sweep.NOISE_KINDS), "rate": bad_real(0, 1),
                  "mapping": bad_choice(noise.ASYMMETRIC_MAPS, none_is_bad=False),
                  "include_true": BAD_BOOL, "exact": BAD_BOOL,
                  "label_set": bad_choice(nblib.data.CIFAR10N_KEYS, none_is_bad=False)}


@SETTINGS
@given(st.data())
def test_loss_spec_refuses_every_bad_field(data):
    field = data.draw(st.sampled_from([*LOSS_SPEC_BAD, "params value"]))
    if field == "params value":
        hyper = data.draw(st.sampled_from(["q", "k"]))
        raises_naming(hyper, lambda: sweep.LossSpec("tgce", {hyper: data.draw(NUMERIC_HYPER[hyper])}).resolved(K))
        return
    kw = {"name": "gce", field: data.draw(LOSS_SPEC_BAD[field])}
    raises_naming("loss" if field == "name" else field, lambda: sweep.LossSpec(**kw).resolved(K))


@SETTINGS
@given(st.data())
def test_noise_spec_refuses_every_bad_field(data):
    field = data.draw(st.sampled_from(list(NOISE_SPEC_BAD)))
    kw = {"kind": "asymmetric" if field == "mapping" else "symmetric", "rate": 0.2,
          field: data.draw(NOISE_SPEC_BAD[field])}
    if field == "label_set":
        kw["kind"] = "human"
    raises_naming({"kind": "noise kind"}.get(field, field), lambda: sweep.NoiseSpec(**kw).resolved("cifar10n", K))


# ----------------------------------------------------------------------------- the cases of the issue

T3 = noise.transition_matrix("symmetric", K, 0.3)


@pytest.mark.parametrize("name, call", [
    ("exact", lambda: noise.corrupt_labels(digits().y_train, T3, exact="no")),
    ("include_true", lambda: noise.transition_matrix("symmetric", K, 0.3, include_true="no")),
    ("exact", lambda: sweep.Grid("g", dataset="digits", noise=[{"kind": "symmetric", "rate": 0.2, "exact": "no"}])),
    ("include_true", lambda: sweep.NoiseSpec("symmetric", 0.2, include_true="no")),
    ("q", lambda: losses.make_loss("gce", K, q="0.5")),
    ("q", lambda: losses.make_loss("gce", K, q=True)),
    ("lr", lambda: nblib.fit(nblib.models.make_model("mlp", digits()), digits(), lr="1e-3", progress=False)),
    ("lr", lambda: sweep.Grid("g", dataset="digits", lr="1e-3")),
    ("T", lambda: losses.make_loss("forward", K, T="eye")),
    ("T", lambda: noise.corrupt_labels(digits().y_train, "eye")),
    ("T", lambda: nblib.estimate.estimation_error(np.eye(K), "eye")),
    ("probs", lambda: nblib.estimate.estimate_transition("eye")),
    ("filter_outliers", lambda: nblib.estimate.estimate_transition(np.full((4, 2), 0.5), filter_outliers="no")),
    ("download", lambda: nblib.data.load("digits", download="no", device=CPU)),
    ("device", lambda: nblib.data.load("digits", device="gpu0")),
    ("rate", lambda: sweep.NoiseSpec.parse(("symmetric", "0.2"))),
    ("epochs", lambda: sweep.Grid("g", dataset="digits", epochs=0)),
    ("data_seed", lambda: sweep.Grid("g", dataset="digits", data_seed=-1)),
    ("seeds", lambda: sweep.Grid("g", dataset="digits", seeds=3)),
    ("seeds", lambda: sweep.Grid("g", dataset="digits", seeds=(1, 1))),
    ("percentile", lambda: sweep.Grid("g", dataset="digits", estimator={"percentile": "97"})),
    ("mapping", lambda: sweep.Grid("g", dataset="toy2d", noise=[("asymmetric", 0.2)])),
    ("keyword", lambda: sweep.Grid("g", dataset="digits", dataset_kw={"n_trian": 10})),
    ("loss_params", lambda: nblib.fit(nblib.models.make_model("mlp", digits()), digits(), loss="gce",
                                      loss_params="q", progress=False)),
    ("callback", lambda: nblib.fit(nblib.models.make_model("mlp", digits()), digits(), callback=1, progress=False)),
    ("data", lambda: nblib.fit(nblib.models.make_model("mlp", digits()), None, progress=False)),
    ("val", lambda: nblib.fit(nblib.models.make_model("mlp", digits()), digits(), val=("x", "y"), progress=False)),
    ("prune_start", lambda: nblib.fit(nblib.models.make_model("mlp", digits()), digits(), prune_start="1",
                                      progress=False)),
    ("progress", lambda: sweep.run_grid(sweep.Grid("g", dataset="toy2d", losses=("ce",), noise=("sym 0",)),
                                        root="/nonexistent", progress="no")),
    ("threads", lambda: sweep.run_grid(sweep.Grid("g", dataset="toy2d", losses=("ce",), noise=("sym 0",)),
                                       root="/nonexistent", threads=0, progress=False)),
])
def test_the_issues_bad_options_name_their_parameter(name, call):
    raises_naming(name, call)


SEED_CALLS = {
    "fit": lambda s: nblib.fit(nblib.models.make_model("mlp", digits()), digits(), seed=s, epochs=1, progress=False,
                               device=CPU),
    "fit_batched": lambda s: nblib.train.fit_batched([nblib.models.make_model("mlp", digits())], digits(),
                                                     losses=["ce"], y_trains=[digits().y_train], seeds=[s], epochs=1),
    "corrupt_labels": lambda s: noise.corrupt_labels(digits().y_train, T3, seed=s),
    "make_model": lambda s: nblib.models.make_model("mlp", digits(), seed=s),
    "load digits": lambda s: nblib.data.load("digits", seed=s, device=CPU),
    "load toy2d": lambda s: nblib.data.load("toy2d", seed=s, device=CPU),
    "Grid": lambda s: sweep.Grid("g", dataset="digits", seeds=(s,)),
    "Grid data_seed": lambda s: sweep.Grid("g", dataset="digits", data_seed=s),
}


@pytest.mark.parametrize("seed, error", [(1.5, TypeError), (-1, ValueError), (MAX_SEED + 1, ValueError),
                                         (True, TypeError), ("0", TypeError)])
@pytest.mark.parametrize("where", list(SEED_CALLS))
def test_seeds_are_checked_the_same_way_everywhere(where, seed, error):
    """One rule, [0, 2**32 - 1] integers, everywhere: data.load("digits", seed=-1) names seed, not
    scikit-learn's random_state; make_model and fit no longer accept -1."""
    err = raises_naming("seed", lambda: SEED_CALLS[where](seed), error)
    assert "4294967295" in str(err) or "integer" in str(err)
    SEED_CALLS[where](MAX_SEED)                                  # the largest seed works everywhere
