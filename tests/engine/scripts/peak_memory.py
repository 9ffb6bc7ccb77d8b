"""Train a population sized for a memory bound and print the memory it took (run as a script).

Usage: python -m tests.engine.scripts.peak_memory BOUND_BYTES
Prints JSON: members chosen, the estimate, and the peak resident memory the training added.
"""

from __future__ import annotations

import json
import resource
import sys

import torch

from workers.engine.datasets import prepare_dataset, resolve_reference
from workers.engine.evaluation import Evaluator
from workers.engine.metrics import get_metric
from workers.engine.population import MemberConfig
from workers.engine.sizing import choose_population_size
from workers.engine.training import DeviceData, train_population
from workers.engine.training_plan import TrainingPlan


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def main(bound: int) -> None:
    torch.set_num_threads(1)
    data = prepare_dataset(resolve_reference("builtin:digits", []), ("target",), None, 0)
    evaluator = Evaluator(get_metric("accuracy"), {}, data)
    device_data = DeviceData.create(data, torch.device("cpu"))
    plan = TrainingPlan(batch_size=256, max_epochs=2, eval_every=1, patience=5)
    size = choose_population_size(
        device_data.shape,
        plan.batch_size,
        len(data.validation),
        torch.device("cpu"),
        cap=4096,
        memory_bound=bound,
        pairwise_outputs=0,  # multiclass: no loss builds batch x batch terms
    )
    # Warm up allocator and kernels with one member so the baseline includes their fixed cost.
    train_population([MemberConfig("cross_entropy", {}, 1e-3, 0)], device_data, evaluator, plan)
    before = peak_rss_bytes()
    members = [
        MemberConfig("soft_f1" if i % 2 else "cross_entropy", {}, 1e-3, i)
        for i in range(size.members)
    ]
    train_population(members, device_data, evaluator, plan)
    added = peak_rss_bytes() - before
    print(
        json.dumps({"members": size.members, "per_member": size.bytes_per_member, "added": added})
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
