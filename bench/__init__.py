"""Benchmarks, each reported against a baseline measured in the same run.

A benchmark is a module with ``run(quick: bool) -> dict`` (measure; ``quick`` shrinks it to
a smoke run) and ``report(results) -> list[str]`` (the lines to print). ``BENCHMARKS`` is the
registry: add a module here and ``python -m bench`` runs it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True)
class Benchmark:
    name: str
    module: str
    description: str


BENCHMARKS: list[Benchmark] = [
    Benchmark(
        "simulator",
        "bench.simulator_bench",
        "churnlight simulate, 10,000 accounts x 36 months: events/s, peak RSS, vs pyarrow floor",
    ),
    Benchmark(
        "plays_truth",
        "bench.plays_truth_bench",
        "simulated plays, 2,000 x 36: naive treated-vs-untreated churn vs the true effect "
        "(confounding), treated rows per play and segment, cost vs plays off",
    ),
    Benchmark(
        "features",
        "bench.features_bench",
        "churnlight features on 10,000 x 36 months vs a DuckDB floor; vs pandas on 1,000",
    ),
    Benchmark(
        "serving",
        "bench.serving_bench",
        "the API on 10,000 accounts: lookups and what-if vs /healthz, batch vs LightGBM",
    ),
    Benchmark(
        "ui",
        "bench.ui_bench",
        "the /ui portfolio page of 50 rows out of 10,000 accounts vs GET /v1/accounts for the "
        "same rows (server time, in process)",
    ),
    Benchmark(
        "history",
        "bench.history_bench",
        "history write vs scores Parquet (10,000 accounts); refresh to ready; lookups with a "
        "slow webhook receiver vs without",
    ),
    Benchmark(
        "soak",
        "bench.soak_bench",
        "5-minute mixed load with a reload a minute: errors, p50/p99, RSS growth; another "
        "key's lookup p99 under a burst of 1,000-row what-ifs vs idle",
    ),
    Benchmark(
        "reasons",
        "bench.reasons_bench",
        "main reason's family vs the simulator's true top cause, top 10% riskiest held-out rows",
    ),
    Benchmark(
        "quality",
        "bench.quality_bench",
        "each candidate vs baselines and oracle: simulator at 1,000 and 3,000 accounts, a "
        "second generator's tabular churn table",
    ),
    Benchmark(
        "monitoring",
        "bench.monitoring_bench",
        "model health of 10,000 accounts x 150 features vs scoring the same snapshot",
    ),
    Benchmark(
        "tuning",
        "bench.tuning_bench",
        "the search with pruning vs without on 3,000 x 36 churn folds: fits, CPU, best AUC",
    ),
    Benchmark(
        "training",
        "bench.training_bench",
        "train on 500,000 x 150 vs plain LightGBM (bound 90 s); 3,000 x 36 quality vs oracle",
    ),
    Benchmark(
        "effects",
        "bench.effects_bench",
        "play effects on a confounded DGP, 5 seeds: DR interval coverage, naive bias, PEHE vs "
        "a T-learner, fit cost",
    ),
    Benchmark(
        "plays",
        "bench.plays_bench",
        "play effects on simulated sources (1,000 x 30) vs the simulator's true effects, "
        "5 seeds: coverage, naive bias, PEHE vs a T-learner; ARR saved by expected_arr_saved "
        "vs churn-risk order",
    ),
    Benchmark(
        "survival",
        "bench.survival_bench",
        "time to churn, 3,000 x 36 out of time: IBS vs Kaplan-Meier and Cox, Uno's C, td-AUC "
        "vs a classifier per horizon, calibration per decile, train and scoring cost",
    ),
    Benchmark(
        "forecast",
        "bench.forecast_bench",
        "book forecast backtests, 2,000 x 44 months, 14 windows, calm seeds 11, 12, 14, 15 and "
        "a bad quarter (seed 11): interval coverage, MAE vs the trailing 3-month average",
    ),
    Benchmark(
        "forecast_oracle",
        "bench.forecast_oracle",
        "the floor of the forecast's churned MRR and NRR error at 3 and 6 months: the "
        "simulator's exact state rolled forward on the forecast bench's calm sources and "
        "windows (seeds 11, 12, 14, 15)",
    ),
]


class BenchSettings(BaseSettings):
    """``CHURNLIGHT_BENCH_QUICK=1`` shrinks every benchmark to a smoke run;
    ``CHURNLIGHT_BENCH_TRACEMALLOC=1`` runs the soak's server under tracemalloc and reports
    where its Python allocations grew (a diagnosis: tracing changes the figures)."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_BENCH_", extra="ignore")
    quick: bool = False
    tracemalloc: bool = False


@lru_cache
def get_bench_settings() -> BenchSettings:
    return BenchSettings()
