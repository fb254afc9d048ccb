"""asv benchmarks for pymargin (run from asv_bench/: `asv run`)."""
