import toy


def broken_model():
    raise ValueError("hidden size must be even")


def experiment():
    return toy.classification(model=broken_model)
