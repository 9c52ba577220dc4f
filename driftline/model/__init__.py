"""The served model, shared by the scorer, the retrainer and ``driftline bootstrap``.

Modules: ``registry`` reads and writes model versions in MLflow (estimator, signature,
feature ranges, reference profile, aliases); ``served`` is the immutable snapshot of one
version that validates and scores rows; ``signature`` reads its inputs from the MLflow
signature; ``validation`` builds its request validators; ``serving`` turns a registry version
into a warmed-up served model; ``pipeline`` is the default credit-risk pipeline. Nothing heavy
is imported here, so ``driftline --help`` stays fast.
"""

__all__: list[str] = []
