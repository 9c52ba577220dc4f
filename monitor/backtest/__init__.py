"""``driftline backtest``: the monitor run over a range of history, to its end, once per
policy, side by side with baselines. Details: ``docs/backtests.md``."""
