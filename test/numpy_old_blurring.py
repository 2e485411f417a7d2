"""Peer for test/blurring.test.ts: the old system's blurring mean shift, literally, in numpy.

stdin:  {"x": [...], "y": [...], "width": 5, "iterations": 25}   (x = col, y = row)
stdout: {"row": [...], "col": [...], "seconds": s}  rounded final pixel of every input point, in
input order, and the wall time of the iterations alone (npm run bench prints it)
"""
import json
import sys
import time

import numpy as np

req = json.load(sys.stdin)
col = np.asarray(req["x"], dtype=float)
row = np.asarray(req["y"], dtype=float)
width, iterations = req["width"], req["iterations"]

order = np.lexsort((col, row))  # row-major, stable: the order the old code received alerts
X = np.column_stack([row[order], col[order]]).astype(float)
t0 = time.perf_counter()
for it in range(iterations):
    for i, x in enumerate(X):
        dist = np.sqrt(((x - X) ** 2).sum(1))
        weight = np.exp(-0.5 * (dist / width) ** 2)
        X[i] = (np.expand_dims(weight, 1) * X).sum(0) / weight.sum()

seconds = time.perf_counter() - t0
rounded = np.round(X)
out_row = np.empty(len(order))
out_col = np.empty(len(order))
out_row[order] = rounded[:, 0]
out_col[order] = rounded[:, 1]
json.dump({"row": (out_row + 0.0).tolist(), "col": (out_col + 0.0).tolist(), "seconds": seconds}, sys.stdout)
