import toy


def experiment():
    return toy.classification(bacth_size=32)
