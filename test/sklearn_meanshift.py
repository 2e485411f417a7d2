"""Peer for test/flat.test.ts: scikit-learn's MeanShift on points read from stdin.

stdin:  {"x": [...], "y": [...], "bandwidth": 5}   (x = col, y = row; sklearn gets columns (x, y))
        optional "t": [...], a third column (space-time flat: day * width / time_width)
stdout: {"labels": [...], "centres": [[x, y], ...]} (floats printed with repr: exact round trip)
With {"x": [...], "y": [...], "kdtree": true} instead: {"order": [...]}, the point layout of
sklearn's KDTree(leaf_size=30) (what NearestNeighbors builds), to check its tie-breaking copy.
A JSON list of requests gets a list of answers (one Python start for many small cases).
With "time": true the answer also has "seconds": the wall time of MeanShift.fit alone (npm run bench).
Exit 3 when scikit-learn is missing, so the test can skip instead of fail.
"""
import json
import sys
import time

try:
    import numpy as np
    from sklearn.cluster import MeanShift
    from sklearn.neighbors import KDTree
except ImportError as e:  # pragma: no cover
    print(f"scikit-learn unavailable: {e}", file=sys.stderr)
    sys.exit(3)



def answer(req):
    columns = [req["x"], req["y"]] + ([req["t"]] if "t" in req else [])
    X = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    if req.get("kdtree"):
        return {"order": KDTree(X, leaf_size=30).get_arrays()[1].tolist()}
    t0 = time.perf_counter()
    ms = MeanShift(bandwidth=req["bandwidth"]).fit(X)
    seconds = time.perf_counter() - t0
    out = {"labels": ms.labels_.tolist(), "centres": ms.cluster_centers_.tolist()}
    if req.get("time"):
        out["seconds"] = seconds
    return out


req = json.load(sys.stdin)
json.dump([answer(r) for r in req] if isinstance(req, list) else answer(req), sys.stdout)
