"""Data-parallel training: sharded batches, and a 2-process gloo run against a single process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.data.sampler import SPBatchSampler
from viewadapt.training.distributed import Dist, ShardedBatches
from viewadapt.training.step import Stepper


def test_shards_are_disjoint_equal_and_in_global_order():
    pids = [p for p in range(10) for _ in range(4)]
    views = [0, 0, 1, 1] * 10
    sampler = SPBatchSampler(pids, views, p=3, s=2, seed=5)
    sampler.set_epoch(2)
    everything = list(sampler)
    for world in (2, 3):
        shards = [list(ShardedBatches(sampler, Dist(rank, world))) for rank in range(world)]
        assert all(len(s) == len(everything) // world for s in shards)
        assert [b for i in range(len(shards[0])) for s in shards for b in [s[i]]] == everything[:len(shards[0]) * world]


def test_fp16_needs_cuda_and_bf16_runs_on_cpu(tiny_config):
    from viewadapt.errors import ConfigError

    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        Stepper("fp16", "cpu")
    net = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    stepper = Stepper("bf16", "cpu")
    with stepper.autocast():
        out = net(torch.ones(3, 4))
    assert out.dtype == torch.bfloat16
    before = net.weight.detach().clone()
    stepper.step(out.float().pow(2).mean(), opt)
    assert not torch.equal(before, net.weight)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_and_match_a_single_process(tiny_synthetic, tmp_path):
    base = tiny_overrides(tiny_synthetic, tmp_path / "runs") + ["train.init.epochs=1", "train.similarity.epochs=1",
                                                                "train.adaptation.epochs=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", str(_free_port()), "-m", "viewadapt.cli.main", "train", "--quiet",
                          *base, "name=ddp"], capture_output=True, text=True, timeout=400, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("run folder:") == 1  # rank 0 reports, once
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["ddp"]  # one run folder, not one per rank
    run = tmp_path / "runs" / "ddp"
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "model.safetensors").is_file()
    assert json.loads((run / "environment.json").read_text())["world_size"] == 2
    ddp = json.loads((run / "metrics.json").read_text())
    assert ddp["finished"] and [h["stage"] for h in ddp["history"]] == ["init", "similarity", "adaptation"]

    torch.set_num_threads(1)
    try:
        assert main(["train", "--quiet", *base, "name=single"]) == 0
    finally:
        torch.set_num_threads(2)
    single = json.loads((tmp_path / "runs" / "single" / "metrics.json").read_text())
    # Rank 0's first batch is the single process's first batch, on the same initial weights.
    first_by_rank = ddp["history"][0]["first_loss_by_rank"]
    assert first_by_rank[0] == pytest.approx(single["history"][0]["first_loss"], rel=1e-4)
    assert first_by_rank[1] != pytest.approx(first_by_rank[0], rel=1e-3)  # rank 1 trained on other data
    assert ddp["history"][0]["first_loss"] == pytest.approx(sum(first_by_rank) / 2)
