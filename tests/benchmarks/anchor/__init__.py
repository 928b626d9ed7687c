"""A plain 6-column model and a default ModelAdmin: the benchmarks' anchor, never in the product.

Installed only by ``tests.benchmarks.anchor.settings`` (bench_million): its table is created with
``migrate --run-syncdb``, so no migration of the product knows it.
"""
