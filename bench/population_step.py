"""What one population training step costs, by members and by distinct losses among them.

    python -m bench.population_step [--dataset page_blocks0.csv.gz] [--task binary] [--metric f1]
                                    [--members 1,8,16,32] [--losses 1,4,8,16] [--steps 200]

Builds populations on the job's real layer shapes and batch size (the engine's network and
training plan for the dataset), with the members' losses drawn in turn from the job's default
search space (``--losses K``: the first K of its losses, the members spread evenly over them),
and times ``Population.train_step`` (forward, each loss block, backward, the optimiser) over
``--steps`` steps after a warm-up. Prints a markdown table: microseconds per step, per member
step, and the speed-up per member step over one model alone (the best a population of that
make-up can do against one-at-a-time training, before any per-trial or per-evaluation cost).

A second table gives each loss's marginal cost: the step time of 16 cross-entropy members plus
2 members of that loss, less that of 18 cross-entropy members.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch

from bench.common import machine, table
from bench.plain_optuna import evaluator_for, prepared_data
from workers.engine.losses import get_loss
from workers.engine.networks import network_shape
from workers.engine.population import MemberConfig, Population
from workers.engine.space import SearchSpace
from workers.engine.spec import Family, Task
from workers.engine.training import DeviceData
from workers.engine.training_plan import plan_training

BASE_LOSS = "cross_entropy"
CPU = torch.device("cpu")


def middle_params(name: str, task: Task) -> dict[str, float]:
    """Each parameter at the middle of its range (geometric for log-scaled ones)."""
    values = {}
    for param in get_loss(name).params_for(task):
        if param.log and param.low > 0:
            values[param.name] = (param.low * param.high) ** 0.5
        else:
            values[param.name] = (param.low + param.high) / 2
    return values


class StepTimer:
    """Times population steps on one job's data, shapes and batch size."""

    def __init__(
        self,
        dataset: str,
        task: str,
        metric: str,
        seed: int,
        device: torch.device = CPU,
    ) -> None:
        data = prepared_data(dataset, task, seed)
        self.task = data.task
        self.device = device
        self.plan = plan_training(len(data.train))
        self.device_data = DeviceData.create(data, device)
        evaluator = evaluator_for(metric, data)
        self.context = self.device_data.loss_context(self.plan, evaluator)
        self.shape = network_shape(data.n_features, data.n_outputs)
        space = SearchSpace.build(
            self.task,
            metric,
            tuple(Family),
            (),
            {},
            default_batch_size=self.plan.batch_size,
            n_train=len(data.train),
            metric_params={},
            soft_targets=data.soft_targets,
        )
        self.losses = [spec.name for specs in space.candidates.values() for spec in specs]

    def microseconds(self, losses: Sequence[str], steps: int, repeats: int = 3) -> float:
        """Median over ``repeats`` of the mean step time of a population with these losses."""
        population = Population(self.shape, self.context, self.plan.weight_decay)
        population.add(
            [
                (i, MemberConfig(name, middle_params(name, self.task), 1e-3, seed=i))
                for i, name in enumerate(losses)
            ]
        )
        population.start_epoch()
        x, y = self.device_data.x_train, self.device_data.y_train
        n_rows, batch = x.shape[0], self.plan.batch_size
        orders = population.batch_orders(n_rows, x.device)
        starts = list(range(0, n_rows - batch + 1, batch))
        for start in starts[:10]:
            rows = orders[:, start : start + batch]
            population.train_step(x[rows], y[rows])
        timings = []
        for _ in range(repeats):
            self._synchronize()
            began = time.perf_counter()
            for step in range(steps):
                start = starts[step % len(starts)]
                rows = orders[:, start : start + batch]
                population.train_step(x[rows], y[rows])
            self._synchronize()
            timings.append((time.perf_counter() - began) / steps * 1e6)
        return statistics.median(timings)

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dataset", default="page_blocks0.csv.gz")
    parser.add_argument("--task", default="binary")
    parser.add_argument("--metric", default="f1")
    parser.add_argument("--members", default="1,8,16,32")
    parser.add_argument("--losses", default="1,4,8,16")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-marginal", action="store_true", help="skip the per-loss table")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    timer = StepTimer(args.dataset, args.task, args.metric, args.seed, device)
    print(f"Machine: {machine()}; device {device}, {args.threads} torch thread(s)")
    print(
        f"Job: {args.dataset} ({args.task}), MLP {list(timer.shape.widths)}, "
        f"batch {timer.plan.batch_size}; losses in order: {', '.join(timer.losses)}\n"
    )
    alone = timer.microseconds([BASE_LOSS], args.steps)
    rows = []
    for members in (int(m) for m in args.members.split(",")):
        for distinct in (int(k) for k in args.losses.split(",")):
            if distinct > members:
                continue
            chosen = timer.losses[:distinct]
            losses = [chosen[i * distinct // members] for i in range(members)]
            step = timer.microseconds(losses, args.steps)
            rows.append([members, distinct, step, step / members, alone * members / step])
    headers = ["members", "distinct losses", "µs/step", "µs/member step", "x one model alone"]
    print(table(headers, rows))
    if args.no_marginal:
        return
    base = timer.microseconds([BASE_LOSS] * 18, args.steps)
    marginal = []
    for name in timer.losses:
        if name == BASE_LOSS:
            continue
        step = timer.microseconds([BASE_LOSS] * 16 + [name] * 2, args.steps)
        marginal.append([name, step - base])
    print(f"\n18 × {BASE_LOSS}: {base:.0f} µs/step; each loss's 2-member block adds:\n")
    print(table(["loss", "µs/step added"], marginal))


if __name__ == "__main__":
    main()
