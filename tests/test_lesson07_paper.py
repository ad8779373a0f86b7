"""Lesson 7's SCALE = "paper" path (CIFAR-10 + CIFAR-10N, ResNet-34) on the loader's tiny real-format files.

The real run needs CIFAR-10 and a GPU (hours); this test runs the same code path with the files
``nblib.data`` would read (a cifar-10-python.tar.gz and a CIFAR-10_human.pt in their real formats,
50 training images) for one epoch on the CPU: the loader's offline path, both noise
settings of the lesson (the human T applied class-conditionally, and the real ``worse`` labels),
the ResNet-34 recipe, the tables. Two of the losses keep it to seconds (a ResNet-34 on a CPU);
forward(T-hat) is left out because an estimate from a one-epoch model of 50 images can have an
all-zero column, which forward correction rightly refuses.
"""
import dataclasses

import numpy as np
import pytest
import torch

import nblib
from nblib.course.lesson07 import analysis as A
from nblib.course.lesson07 import experiments as E
from test_data import cifar_tar_gz, human_pt, no_network, provide_cifar_n  # noqa: F401  (no_network: a fixture)


@pytest.fixture
def tiny_cifar10n(tmp_path, monkeypatch, no_network):  # noqa: F811
    """The tiny files in place under $NBLIB_DATA, a fresh lesson cache, and no dataset cached in this process."""
    tar_blob, y_train = cifar_tar_gz()
    provide_cifar_n(monkeypatch, tmp_path, "cifar10n", human_pt(y_train), tar_blob)
    monkeypatch.setenv("NBLIB_DATA", str(tmp_path))
    monkeypatch.setenv("NBLIB_LESSON_CACHE", str(tmp_path / "lessons"))
    nblib.sweep.run._load_data.cache_clear()
    yield y_train
    nblib.sweep.run._load_data.cache_clear()


@pytest.mark.slow
def test_paper_scale_runs_both_parts_on_cifar10n(tiny_cifar10n, monkeypatch, capsys):
    cfg = E.CONFIG["paper"]
    setting = cfg.setting.replace(epochs=1, batch_size=25)
    monkeypatch.setitem(E.CONFIG, "paper", dataclasses.replace(cfg, setting=setting))
    monkeypatch.setattr(E, "LOSSES", ("ce", "forward(T)"))
    monkeypatch.setattr(E, "INSTANCE_LOSSES", ("ce",))
    with nblib.torch_threads(1):
        ccn, idn = E.human_t_runs("paper", device="cpu")
    assert len(ccn.results) == len(E.LOSSES) and len(idn.results) == len(E.INSTANCE_LOSSES)
    for r in ccn.results + idn.results:
        assert r["config"]["dataset"]["name"] == "cifar10n" and r["config"]["model"]["name"] == "resnet34"
        assert r["engine"] == "sequential"            # BatchNorm: ResNets train one by one
        assert np.isfinite(r["metrics"]["final_test_acc"])
    # part 4 at paper scale: the real "worse" labels of the file (here: every label shifted by its key's offset)
    labels = nblib.sweep.run_labels(idn.results[0]["config"])
    assert torch.equal(labels["clean"], torch.as_tensor(tiny_cifar10n))
    assert labels["flipped"].all()
    # part 3 at paper scale: the human T's class-conditional counts on the clean labels
    assert 0 < ccn.results[0]["metrics"]["realised_noise_rate"] < 1
    table = E.realised_noise(ccn, idn)
    assert table["flipped, instance-dependent"].tolist() == [len(tiny_cifar10n)]
    assert list(A.course_table(ccn, idn).index) == list(E.INSTANCE_LOSSES)
    assert E.sharpness_widget(idn) is None
    assert "real (human labels)" in capsys.readouterr().out


def test_paper_scale_without_the_files_says_where_to_put_them(tmp_path, monkeypatch, no_network):  # noqa: F811
    monkeypatch.setenv("NBLIB_DATA", str(tmp_path))
    with pytest.raises(nblib.data.DownloadError, match="cifar-10-python.tar.gz"):
        nblib.data.load("cifar10n", device="cpu")
