"""churnlight simulator: a synthetic B2B SaaS business as a contract source, with ground truth.

``simulate(SimulationConfig(...), out_dir)`` writes every contract table as Parquet and
``_truth/`` (labels, oracle probabilities, latent state, rates); see docs/simulator.md."""

from simulator.config import SimulationConfig, make_config
from simulator.run import SimulationSummary, generate, simulate

__all__ = ["SimulationConfig", "SimulationSummary", "generate", "make_config", "simulate"]
