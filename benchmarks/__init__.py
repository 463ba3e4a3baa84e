"""The gather benchmark (issue 9): ``benchmarks/gather.py``, run by ``make bench``. See benchmarks/README.md."""
