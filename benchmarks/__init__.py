"""Side-by-side benchmarks of ad_transform's gradients (issue 6).

Run ``python -m benchmarks`` (or ``python benchmarks/run.py``) from the repository root;
``--help`` lists the options, ``benchmarks/README.md`` explains what is measured.
"""
