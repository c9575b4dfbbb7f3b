"""The bad-input matrix: every bad spec, Experiment field, dataset, model, data file, flag and path tried gets a
clean answer — the expected exit code, one message naming the problem and what was expected, no traceback —
and nothing outside the run folder is touched.

Each case runs the real command line in this process (`nnrecipe.cli.main`): an exception that escapes it is a
traceback a user would see, and fails the case.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nnrecipe.cli import main

# -- spec files: a correct base, and one field or piece changed per case

BASE = '''
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset
import nnrecipe as nr

g = torch.Generator().manual_seed(0)
X = torch.randn(96, 4, generator=g)
Y = (X[:, 0] > 0).long()

def model():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))

class Listed(Dataset):
    """A dataset that is not tensor-backed: samples come one at a time."""
    def __init__(self, items):
        self.items = items
    def __len__(self):
        return len(self.items)
    def __getitem__(self, i):
        return self.items[i]

class NoParams(nn.Module):
    def forward(self, x):
        return x[:, :2]

class Returns(nn.Module):
    """A model whose forward returns `make(logits)`."""
    def __init__(self, make):
        super().__init__()
        self.net, self.make = model(), make
    def forward(self, x):
        return self.make(self.net(x))

def step(returns):
    def train_step(m, batch, opt):
        x, y = batch
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return returns(loss)
    return train_step

def experiment():
    fields = dict(name="bad-input", task="classification", train=TensorDataset(X[:72], Y[:72]),
                  val=TensorDataset(X[72:], Y[72:]), model=model, batch_size=16, epochs=2)
{change}
    return nr.Experiment(**fields)
'''


@dataclass(frozen=True)
class Case:
    name: str
    change: str  # lines inside experiment(), before the Experiment is built (`fields` is the dict)
    words: tuple[str, ...]  # every one must appear in the message (case-insensitive)
    code: int = 2


def field(name: str, value: str, *words: str, code: int = 2) -> Case:
    return Case(f"{name}={value}"[:60], f"fields[{name!r}] = {value}", (name, *words), code)


SPEC_CASES = [
    # name, task
    field("name", "''", "non-empty string"),
    field("name", "3", "non-empty string"),
    field("name", "None", "non-empty string"),
    field("task", "'clasification'", "did you mean 'classification'"),
    field("task", "None", "expected one of"),
    field("task", "'detection'", "expected one of"),
    # datasets
    field("train", "None", "dataset"),
    field("train", "[1, 2, 3]", "(input, target) pair"),
    field("train", "TensorDataset(X[:0], Y[:0])", "empty"),
    field("train", "5", "map-style"),
    field("train", "'data.csv'", "(input, target) pair"),
    field("train", "iter([(X[0], Y[0])])", "map-style"),
    field("train", "Listed([(X[0], Y[0], 1)] * 8)", "pair", "length 3"),
    field("train", "Listed([{'x': X[0], 'y': Y[0]}] * 8)", "pair", "dict"),
    field("train", "Listed([(X[i], Y[i]) for i in range(3)] + [(X[0][:2], Y[0])] * 5)", "one shape"),
    field("train", "Listed([(X[i], Y[i]) if i != 3 else None for i in range(8)])", "sample 3"),
    Case("train targets are floats", "fields['train'] = TensorDataset(X[:72], Y[:72].float())",
         ("task", "integer class id", "regression task?")),
    field("train", "TensorDataset(X[:72], -Y[:72] - 1)", "class ids", "ignore_index"),
    field("train", "TensorDataset(X[:72], Y[:72] * 2 - 1)", "class ids", "ignore_index"),
    field("train", "TensorDataset(X[:72].double(), Y[:72])", "model", "Double"),
    Case("train targets are pairs", "fields['train'] = TensorDataset(X[:72], torch.stack([Y[:72], Y[:72]], 1))",
         ("task", "integer class id", "shape (2,)")),
    field("val", "None", "dataset"),
    field("val", "TensorDataset(X[:0], Y[:0])", "empty"),
    field("val", "[0]", "(input, target) pair"),
    field("val", "TensorDataset(X[72:], Y[72:] + 5)", "model", code=1),  # a class the model has no output for
    field("test", "5", "map-style"),
    field("test", "TensorDataset(X[:0], Y[:0])", "empty"),
    field("test", "TensorDataset(X[72:], -Y[72:] - 3)", "class ids"),
    # the model factory and what its forward returns
    field("model", "model()", "instance"),
    field("model", "5", "callable"),
    field("model", "lambda: 5", "nn.Module"),
    field("model", "lambda: (_ for _ in ()).throw(ValueError('no such layer'))", "factory", "no such layer"),
    field("model", "lambda: nn.Linear(3, 2)", "mat1 and mat2"),
    field("model", "lambda: Returns(lambda o: {'hidden': o})", "expected a tensor", "hidden"),
    field("model", "lambda: Returns(lambda o: (None, o))", "expected a tensor"),
    field("model", "lambda: Returns(lambda o: [1, 2])", "expected a tensor"),
    field("model", "lambda: Returns(lambda o: 'logits')", "expected a tensor", "str"),
    field("model", "lambda: Returns(lambda o: o.argmax(-1))", "loss"),
    field("model", "lambda: Returns(lambda o: o.long())", "loss"),
    field("model", "NoParams", "trainable parameters"),
    field("model", "lambda: Returns(lambda o: (_ for _ in ()).throw(RuntimeError('forward broke')))", "forward broke"),
    field("model", "lambda: nn.Sequential(nn.Identity())", "model"),
    # the loss
    field("loss", "5", "callable"),
    field("loss", "lambda o, y: 1.0", "scalar tensor", "float"),
    field("loss", "lambda o, y: None", "scalar tensor", "NoneType"),
    field("loss", "lambda o, y: nn.functional.cross_entropy(o, y, reduction='none')", "one scalar", ".mean()"),
    field("loss", "lambda o, y: (_ for _ in ()).throw(KeyError('weights'))", "KeyError", "weights"),
    field("loss", "lambda o: o.mean()", "loss", "TypeError"),
    field("loss", "nn.functional.mse_loss", "loss"),
    # the optimizer and schedule
    field("optimizer", "5", "callable"),
    field("optimizer", "lambda p: [torch.optim.SGD(p, lr=0.1)]", "torch.optim.Optimizer", "list"),
    field("optimizer", "lambda p: torch.optim.SGD(p, lr=-1.0)", "optimizer", "learning rate"),
    field("optimizer", "lambda p: None", "torch.optim.Optimizer", "NoneType"),
    field("optimizer", "lambda: torch.optim.SGD([], lr=0.1)", "optimizer", "TypeError"),
    field("scheduler", "5", "callable"),
    field("scheduler", "lambda o: torch.optim.lr_scheduler.StepLR(o)", "scheduler", "step_size"),
    field("scheduler_interval", "'batch'", "'epoch' or 'step'"),
    field("scheduler_interval", "None", "'epoch' or 'step'"),
    field("augment", "5", "callable"),
    field("augment", "'flip'", "callable"),
    # sizes, classes, seed
    field("batch_size", "0", "positive integer"),
    field("batch_size", "-8", "positive integer"),
    field("batch_size", "1.5", "positive integer"),
    field("batch_size", "True", "positive integer"),
    field("batch_size", "'64'", "positive integer"),
    field("epochs", "0", "positive integer"),
    field("epochs", "'10'", "positive integer"),
    field("epochs", "None", "positive integer"),
    field("num_classes", "0", "positive integer"),
    field("num_classes", "-2", "positive integer"),
    field("num_classes", "2.5", "positive integer"),
    field("num_classes", "1", "class ids in 0..0"),
    field("class_names", "['a', 'b', 'c']", "expected 2 names"),
    field("class_names", "'ab'", "sequence of strings"),
    field("class_names", "[1, 2]", "sequence of strings"),
    field("seed", "-1", "0..2**32-1"),
    field("seed", "'0'", "integer"),
    field("seed", "True", "integer"),
    field("seed", "2**40", "0..2**32-1"),
    field("seed", "1.0", "integer"),
    # the user's own step
    field("train_step", "5", "callable"),
    field("train_step", "step(lambda loss: None)", "return the step's loss", "None"),
    field("train_step", "step(lambda loss: [loss])", "return the step's loss", "list"),
    field("train_step", "step(lambda loss: (_ for _ in ()).throw(ValueError('bad clip')))", "bad clip"),
    field("train_step", "lambda m, b: None", "train_step", "TypeError"),
    # human labels, ignore index, meta
    field("human_labels", "'abc'", "sequence of targets"),
    field("human_labels", "[0] * 500", "at most 24"),
    field("human_labels", "5", "sequence of targets"),
    field("ignore_index", "'pad'", "integer target value"),
    field("ignore_index", "True", "integer target value"),
    field("meta", "'x'", "dict"),
    # the Experiment call itself
    Case("unknown field", "fields['epoch'] = 3", ("unknown field 'epoch'", "did you mean 'epochs'")),
    Case("unknown field, no close match", "fields['colour'] = 3", ("unknown field 'colour'", "expected one of")),
    Case("missing model", "del fields['model']", ("missing required", "model")),
    Case("missing train and val", "del fields['train']; del fields['val']", ("missing required", "train", "val")),
    Case("regression with class ids", "fields['task'] = 'regression'", ("regression", "floating-point")),
    Case("regression with ignore_index", "fields.update(task='regression', train=TensorDataset(X[:72], X[:72, :1]),"
         " val=TensorDataset(X[72:], X[72:, :1]), model=lambda: nn.Linear(4, 1), ignore_index=-1)",
         ("ignore_index", "regression")),
    Case("regression with num_classes", "fields.update(task='regression', train=TensorDataset(X[:72], X[:72, :1]),"
         " val=TensorDataset(X[72:], X[72:, :1]), model=lambda: nn.Linear(4, 1), num_classes=2)",
         ("num_classes", "regression")),
    Case("sequence with float inputs", "fields['task'] = 'sequence'", ("sequence", "token ids")),
    Case("sequence with mismatched targets", "fields.update(task='sequence', train=TensorDataset(Y[:72].reshape(8, 9),"
         " Y[:64].reshape(8, 8)), val=TensorDataset(Y[:72].reshape(8, 9), Y[:72].reshape(8, 9)))",
         ("sequence", "input's shape")),
    # correct but unusual: a clean answer, not a crash
    Case("one training sample", "fields['train'] = TensorDataset(X[:1], Y[:1])", (), code=-1),
    Case("one validation sample", "fields['val'] = TensorDataset(X[:1], Y[:1])", (), code=-1),
    Case("a class missing from train", "fields['train'] = TensorDataset(X[:72][Y[:72] == 0], Y[:72][Y[:72] == 0])",
         (), code=-1),
]

RAW_SPECS = [
    # (name, source, words)
    ("syntax error", "def experiment(:\n", ("syntax error", "line 1")),
    ("no experiment", "x = 1\n", ("experiment()", "defines none")),
    ("experiment not callable", "experiment = 5\n", ("experiment()",)),
    ("returns a dict", "def experiment():\n    return {'name': 'x'}\n", ("must return an nnrecipe.Experiment", "dict")),
    ("returns None", "def experiment():\n    return None\n", ("must return an nnrecipe.Experiment", "NoneType")),
    ("raises", "def experiment():\n    raise RuntimeError('dataset server down')\n", ("RuntimeError", "server down")),
    ("import error", "import not_a_module_xyz\n", ("ModuleNotFoundError", "not_a_module_xyz")),
    ("sys.exit", "import sys\nsys.exit(3)\n", ("SystemExit",)),
    ("positional arguments", "import nnrecipe as nr\ndef experiment():\n    return nr.Experiment('x', 'classification')\n",
     ("keyword arguments only",)),
]


def _write_spec(folder: Path, source: str, name: str = "spec.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(source)
    return path


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def _assert_clean(code: int, text: str, expected: int, words: tuple[str, ...]) -> None:
    assert "Traceback" not in text, text
    if expected == -1:
        assert code in (0, 1), text
        return
    assert code == expected, text
    message = " ".join(text.split()).lower()
    for word in words:
        assert word.lower() in message, f"{word!r} not in: {message[-600:]}"


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.name for c in SPEC_CASES])
def test_bad_experiment_fields(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write_spec(tmp_path / "spec", BASE.replace("{change}", textwrap.indent(case.change, " " * 4)))
    code, text = _cli(["check", str(spec), "--only", "init-loss,output-shape,class-balance"], capsys)
    _assert_clean(code, text, case.code, case.words)


@pytest.mark.parametrize(("name", "source", "words"), RAW_SPECS, ids=[r[0] for r in RAW_SPECS])
def test_bad_spec_files(name: str, source: str, words: tuple[str, ...], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write_spec(tmp_path, source)
    code, text = _cli(["check", str(spec)], capsys)
    _assert_clean(code, text, 2, words)


# -- data files for `nnrecipe audit`

def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _parquet_truncated(path: Path) -> Path:
    import pandas as pd

    pd.DataFrame({"a": np.arange(100.0), "label": np.arange(100) % 2}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:200])
    return path


def _npz(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def _npz_truncated(path: Path) -> Path:
    np.savez(path, x=np.zeros((50, 4)), y=np.zeros(50))
    path.write_bytes(path.read_bytes()[:100])
    return path


def _symlink_loop(path: Path) -> Path:
    path.mkdir()
    (path / "loop").symlink_to(path, target_is_directory=True)
    return path


ROWS = "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40))


def _npz_damaged_member(path: Path) -> Path:
    np.savez(path, x=np.random.default_rng(0).random((200, 4)), y=np.arange(200) % 2)
    data = bytearray(path.read_bytes())
    data[1000:1010] = bytes(10)  # inside x's bytes: the zip directory is intact, x's CRC is not
    path.write_bytes(bytes(data))
    return path


def _npy_as_npz(path: Path) -> Path:
    with path.open("wb") as f:
        np.save(f, np.zeros(5))
    return path


DATA_CASES: list[tuple[str, Callable[[Path], Path], list[str], tuple[str, ...]]] = [
    ("zero-byte csv", lambda d: _csv(d / "t.csv", ""), ["--target", "label"], ("t.csv", "empty")),
    ("header-only csv", lambda d: _csv(d / "t.csv", "a,b,label\n"), ["--target", "label"], ("t.csv", "no rows")),
    ("csv without the target", lambda d: _csv(d / "t.csv", "a,b\n1,2\n3,4\n"), ["--target", "label"],
     ("label", "column")),
    ("csv, no --target", lambda d: _csv(d / "t.csv", "a,b\n1,2\n3,4\n"), [], ("--target",)),
    ("binary garbage as csv", lambda d: (d / "t.csv").write_bytes(os.urandom(300)) and d / "t.csv",
     ["--target", "label"], ("t.csv",)),
    ("truncated parquet", lambda d: _parquet_truncated(d / "t.parquet"), ["--target", "label"], ("t.parquet",)),
    ("garbage parquet", lambda d: (d / "t.parquet").write_bytes(b"PAR1 not really") and d / "t.parquet",
     ["--target", "label"], ("t.parquet",)),
    ("truncated npz", lambda d: _npz_truncated(d / "a.npz"), [], ("a.npz",)),
    ("npz of object arrays", lambda d: _npz(d / "a.npz", x=np.array([{"a": 1}] * 5, dtype=object), y=np.zeros(5)),
     [], ("a.npz",)),
    ("npz without y", lambda d: _npz(d / "a.npz", x=np.zeros((5, 3))), [], ("a.npz", "y")),
    ("npz with x and y of other lengths", lambda d: _npz(d / "a.npz", x=np.zeros((5, 3)), y=np.zeros(4)), [],
     ("a.npz",)),
    ("empty folder", lambda d: (d / "images").mkdir() or d / "images", [], ("images",)),
    ("folder of non-images", lambda d: _csv((d / "f").mkdir() or d / "f" / "notes.md", "hi") and d / "f", [],
     ("f",)),
    ("nonexistent path", lambda d: d / "nowhere.csv", [], ("nowhere.csv",)),
    ("unknown suffix", lambda d: _csv(d / "data.xyz", "1,2"), [], ("data.xyz",)),
    ("symlink loop", lambda d: _symlink_loop(d / "loop"), [], ("loop",)),
    # found while hardening the readers: each used to end in a traceback, or in every check erroring
    ("ragged csv row", lambda d: _csv(d / "t.csv", "a,b,label\n" + ROWS + "1,2,3,4,5\n" + ROWS), ["--target", "label"],
     ("t.csv", "expected 3 fields in line 42")),
    ("latin-1 csv", lambda d: (d / "t.csv").write_bytes("a,label\ncafé,1\nthé,0\n".encode("latin-1")) and d / "t.csv",
     ["--target", "label"], ("t.csv", "not utf-8")),
    ("csv rows without a target", lambda d: _csv(d / "t.csv", "a,b,label\n" + ROWS + "1,2,\n"), ["--target", "label"],
     ("t.csv", "empty in 1 row", "data row 41")),
    ("csv of the target alone", lambda d: _csv(d / "t.csv", "label\n0\n1\n"), ["--target", "label"],
     ("t.csv", "no input column")),
    ("csv with unknown split names", lambda d: _csv(d / "t.csv", "a,label,split\n1,0,training\n2,1,valid\n"),
     ["--target", "label"], ("t.csv", "'training'", "train, val, test")),
    ("zero-byte npz", lambda d: _csv(d / "a.npz", ""), [], ("a.npz", "empty")),
    ("npz with a damaged member", lambda d: _npz_damaged_member(d / "a.npz"), [], ("a.npz", "'x'", "crc")),
    (".npy named .npz", lambda d: _npy_as_npz(d / "a.npz"), [], ("a.npz", "single array")),
    ("pickle named .npz", lambda d: (d / "a.npz").write_bytes(__import__("pickle").dumps({"x": 1})) and d / "a.npz", [],
     ("a.npz", "pickle")),
    ("npz with text labels", lambda d: _npz(d / "a.npz", x=np.zeros((3, 2)), y=np.array(["a", "b", "a"])), [],
     ("a.npz", "'y'", "np.unique")),
    ("npz with x_val but no y_val", lambda d: _npz(d / "a.npz", x=np.zeros((5, 3)), y=np.zeros(5),
                                                  x_val=np.zeros((2, 3))), [], ("a.npz", "x_val", "y_val")),
    ("a device, not a file", lambda d: Path("/dev/null"), [], ("/dev/null", "neither a regular file nor a folder")),
]


@pytest.mark.parametrize(("name", "make", "flags", "words"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_files_for_audit(name: str, make: Callable[[Path], Path], flags: list[str], words: tuple[str, ...],
                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make(tmp_path)
    code, text = _cli(["audit", str(path), *flags], capsys)
    assert "Traceback" not in text, text
    assert code in (1, 2), text  # a data file nnrecipe cannot read (2), or one it reads and finds broken (1)
    message = " ".join(text.split()).lower()
    for word in words:
        assert word.lower() in message, f"{word!r} not in: {message[-600:]}"


def test_paths_with_spaces_and_unicode_are_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "my data — été [/cat]"
    folder.mkdir(parents=True)  # "[/cat]" holds a slash: a folder "[" holding "cat]", as a user's path can
    table = _csv(folder / "t b.csv", "a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    code, text = _cli(["audit", str(table), "--target", "label", "--out", str(folder / "out [/bold]")], capsys)
    assert "Traceback" not in text and code in (0, 1), text
    assert (folder / "out [/bold]" / "report.html").exists()


# -- flags and paths

def _good_spec(tmp_path: Path) -> Path:
    return _write_spec(tmp_path / "spec", BASE.replace("{change}", "    pass"))


FLAG_CASES: list[tuple[str, Callable[[Path, Path], list[str]], tuple[str, ...]]] = [
    ("unknown budget", lambda s, d: ["run", str(s), "--budget", "huge"], ("--budget", "huge")),
    ("seed not a number", lambda s, d: ["check", str(s), "--seed", "abc"], ("--seed", "abc")),
    ("unknown device", lambda s, d: ["check", str(s), "--device", "tpu"], ("--device", "tpu")),
    ("unknown step for --until", lambda s, d: ["run", str(s), "--until", "squeze", "--out", str(d / "r")],
     ("until", "squeze", "did you mean 'squeeze'")),
    ("unknown check id", lambda s, d: ["check", str(s), "--only", "init-los"], ("init-los", "did you mean 'init-loss'")),
    ("unknown command", lambda s, d: ["train", str(s)], ("invalid choice",)),
    ("no command", lambda s, d: [], ()),
    ("missing spec for check", lambda s, d: ["check"], ("spec",)),
    ("unknown built-in", lambda s, d: ["check", "mnist2d"], ("mnist2d",)),
    ("--tensorboard without --out", lambda s, d: ["check", str(s), "--tensorboard"], ("--tensorboard", "--out")),
    ("--out is a file", lambda s, d: ["check", str(s), "--out", str(_csv(d / "file.txt", "x"))],
     ("--out", "file.txt", "is a file")),
    ("--out inside a file", lambda s, d: ["check", str(s), "--out", str(_csv(d / "f.txt", "x") / "run")],
     ("--out", "f.txt", "is a file")),
    ("--json is a folder", lambda s, d: ["check", str(s), "--json", str(d)], ("--json", "folder")),
    ("--json inside a file", lambda s, d: ["check", str(s), "--json", str(_csv(d / "g.txt", "x") / "r.json")],
     ("--json", "g.txt", "is a file")),
    ("--out on a read-only mount", lambda s, d: ["check", str(s), "--out", "/proc/nnrecipe-run"],
     ("--out", "cannot write")),
    ("--json on a read-only mount", lambda s, d: ["check", str(s), "--json", "/proc/nnrecipe.json"],
     ("--json", "cannot write")),
    ("tune --workers 0", lambda s, d: ["tune", str(s), "--workers", "0", "--out", str(d / "t")], ("--workers",)),
    ("tune --trials -1", lambda s, d: ["tune", str(s), "--trials", "-1", "--out", str(d / "t")], ("--trials",)),
    ("tune storage without a scheme", lambda s, d: ["tune", str(s), "--storage", "user:s3cret@db/x", "--trials", "1",
                                                    "--out", str(d / "t")], ("storage",)),
    ("tune unknown database", lambda s, d: ["tune", str(s), "--storage", "nosuchdb://u:s3cret@h/x", "--trials", "1",
                                            "--out", str(d / "t")], ("storage", "***")),
]


@pytest.mark.parametrize(("name", "argv", "words"), FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_bad_flags_and_paths(name: str, argv: Callable[[Path, Path], list[str]], words: tuple[str, ...],
                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _cli(argv(_good_spec(tmp_path), tmp_path), capsys)
    _assert_clean(code, text, 2, words)
    assert "s3cret" not in text  # a password in a storage URL never reaches the terminal


def test_a_users_own_files_in_out_are_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "result.json").write_text('{"my": "numbers"}')
    (out / "report.html").write_text("<p>my report</p>")
    os.chmod(out / "report.html", 0o644)
    code, text = _cli(["check", str(_good_spec(tmp_path)), "--out", str(out)], capsys)
    _assert_clean(code, text, 2, ("--out", "result.json", "report.html", "did not write"))
    assert (out / "result.json").read_text() == '{"my": "numbers"}'
    assert (out / "report.html").read_text() == "<p>my report</p>"
    assert (out / "report.html").stat().st_mode & 0o777 == 0o644


def test_a_run_folder_held_by_a_live_process_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import socket

    out = tmp_path / "run"
    out.mkdir()
    holder = {"pid": os.getppid(), "host": socket.gethostname(), "started": "now", "command": "nnrecipe run other"}
    (out / ".lock").write_text(json.dumps(holder))
    code, text = _cli(["run", str(_good_spec(tmp_path)), "--out", str(out), "--budget", "quick"], capsys)
    _assert_clean(code, text, 2, ("in use by process", str(os.getppid()), "nnrecipe run other"))


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    import json
    import socket
    import subprocess
    import sys

    from nnrecipe.engine.run_folder import RunLock

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with RunLock(tmp_path, command="test") as lock:
        assert lock.held and json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".lock").exists()


def test_the_matrix_is_big() -> None:
    assert len(SPEC_CASES) + len(RAW_SPECS) + len(DATA_CASES) + len(FLAG_CASES) + 4 >= 120


def test_markup_in_a_users_strings_prints_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write_spec(tmp_path / "spec", BASE.replace("{change}", "    fields['name'] = 'net [/cat] [bold]'"))
    code, text = _cli(["check", str(spec), "--only", "init-loss", "--out", str(tmp_path / "out [/cat]")], capsys)
    assert "Traceback" not in text and code == 0, text
    assert re.search(r"out \[/cat\]", "".join(text.split("\n")))
