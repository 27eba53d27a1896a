"""Quality of the per-event evaluators on the public data in ../shared/data.

One module per evaluator; each exposes ``rows(data_dir) -> list[dict]`` that
``bench/evaluators.py`` prints as one table. Nothing here prints dataset text.
"""
