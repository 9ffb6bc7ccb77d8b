"""A soft-target job on real data: satimage's labels smoothed over each row's neighbours.

Satimage (bench/datasets) has one land-cover class per pixel. Its soft target is half the
row's own class and half the class frequencies among its ``k`` nearest neighbours in the
standardised features: where classes meet (the grey-soil classes, mixed pixels) the target
spreads, as annotators would disagree there. The result has one column per class, named
``p_<class>``, and the 36 feature columns.

``python -m bench.soft_targets [--rows N] [--trials N] [--seed S]`` runs a search for
``kl_divergence`` on it and prints the baseline's and the returned setup's test KL divergence.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from bench.common import BENCH_DATASETS, machine

NEIGHBOURS = 10
OWN_WEIGHT = 0.5


def smoothed_satimage(rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Satimage with its class replaced by a smoothed distribution (see the module docstring);
    ``rows`` draws that many rows at random (seeded) first."""
    frame = pd.read_csv(os.path.join(BENCH_DATASETS, "satimage.csv.gz"))
    if rows is not None:
        frame = frame.sample(n=rows, random_state=seed).reset_index(drop=True)
    labels = frame.pop("target").to_numpy()
    classes = np.unique(labels)
    codes = np.searchsorted(classes, labels)
    features = frame.to_numpy(dtype=np.float64)
    standardised = (features - features.mean(axis=0)) / (features.std(axis=0) + 1e-12)
    # The row itself is its own nearest neighbour; drop it so the halves are independent.
    found = NearestNeighbors(n_neighbors=NEIGHBOURS + 1).fit(standardised)
    neighbours = found.kneighbors(standardised, return_distance=False)[:, 1:]
    eye = np.eye(len(classes))
    distribution = OWN_WEIGHT * eye[codes] + (1 - OWN_WEIGHT) * eye[codes[neighbours]].mean(1)
    targets = pd.DataFrame(distribution, columns=[f"p_{c}" for c in classes])
    return pd.concat([frame, targets], axis=1)


def target_columns(frame: pd.DataFrame) -> list[str]:
    """The soft target columns of a frame made by :func:`smoothed_satimage`."""
    return [c for c in frame.columns if str(c).startswith("p_")]


def main() -> None:
    """Run one kl_divergence search on the smoothed frame and print the test figures."""
    from workers.engine import search_losses  # the engine loads torch: only when run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows drawn (default: all)")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame = smoothed_satimage(args.rows, args.seed)
    result = search_losses(
        frame,
        target=target_columns(frame),
        task="multiclass",
        metric="kl_divergence",
        n_trials=args.trials,
        seed=args.seed,
    )
    best, baseline, comparison = result.best, result.baseline, result.comparison
    print(machine())
    print(f"rows {len(frame)}, trials {args.trials}, seed {args.seed}")
    if baseline is not None:
        print(f"baseline {baseline.loss}: test KL {baseline.test} {baseline.test_interval}")
    print(f"returned {best.loss} {best.loss_params}: test KL {best.test} {best.test_interval}")
    leader = comparison.leader.loss if comparison.leader is not None else None
    print(
        f"verdict {comparison.verdict} (validation leader {leader}); test lift "
        f"{comparison.test_lift} {comparison.test_lift_interval}"
    )


if __name__ == "__main__":
    main()
