import toy


def experiment():
    return toy.classification(task="detection")
