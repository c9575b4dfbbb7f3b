import toy  # a spec may import its neighbours (tests/ is on sys.path through conftest)
from nnrecipe import Experiment


def experiment() -> Experiment:
    return toy.classification(name="good-spec")
