"""Runtime signals of running vLLM servers: snapshots, signals, probes."""
