def experiment():
    return {"name": "x"}
