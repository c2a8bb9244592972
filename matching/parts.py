"""Independent parts: requests and shelters linked by candidate arcs.

Two parts share no shelter, so no bed and no rule-7 clique (a clique lives at one
shelter): each can be bounded and solved on its own.
"""

from __future__ import annotations

import numpy as np

from matching.candidates import Ints


def label(n_requests: int, n_shelters: int, req: Ints, shelter: Ints) -> Ints:
    """A part label per arc: one node of its part, the same for all its arcs."""
    labels = np.arange(n_requests + n_shelters, dtype=np.int64)
    u, v = req, shelter + n_requests
    while True:
        m = np.minimum(labels[u], labels[v])
        before = labels.copy()
        np.minimum.at(labels, u, m)
        np.minimum.at(labels, v, m)
        labels = labels[labels]  # pointer jumping: follow labels to their roots
        if np.array_equal(labels, before):
            return labels[u]
