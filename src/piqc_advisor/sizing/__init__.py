"""GPU sizing: accelerator and model catalogs and a per-GPU memory and KV-cache estimator."""
