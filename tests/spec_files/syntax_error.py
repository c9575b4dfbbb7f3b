def experiment(:
    pass
