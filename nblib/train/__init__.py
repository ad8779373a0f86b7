"""Training: one epoch loop for one model (``fit``) or many (``fit_batched``, ``fit_many``).

    history.py   History: the per-epoch record (loss, accuracies, memorisation, gradient share)
    members.py   what a run updates: one module, or a vmap stack of models; the engine rule
    args.py      the entry points' arguments, checked once at the boundary
    loop.py      the epoch loop and the public entry points

Typical use::

    hist = nblib.fit(model, data, loss="gce", loss_params={"q": 0.7}, y_train=noisy, epochs=30)
    hists, models = nblib.train.fit_many(models, data, losses=[...], y_trains=[...], seeds=[0, 1, 2])
"""
from .history import History, accuracy
from .args import OPTIMIZERS, SCHEDULES, check_training_args
from .loop import ENGINES, TrainingDiverged, fit, fit_batched, fit_many, make_optimizer, progress_bar
from .members import EVAL_BATCH, predict_logits, predict_proba, stack_pays, supports_batched

__all__ = ["History", "accuracy", "fit", "fit_batched", "fit_many", "TrainingDiverged", "predict_logits",
           "predict_proba", "stack_pays", "supports_batched", "check_training_args", "make_optimizer",
           "progress_bar", "ENGINES", "OPTIMIZERS", "SCHEDULES", "EVAL_BATCH"]
