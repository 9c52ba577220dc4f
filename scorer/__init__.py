"""driftline scorer: FastAPI scoring and stream scoring that publish every prediction to Kafka,
serving the MLflow champion with hot swap.

Modules: ``app`` builds the FastAPI app, ``routes/`` one router per resource, ``deps`` the
dependencies, ``schemas`` the response bodies, ``service`` ties the parts together,
``batching`` coalesces concurrent requests, ``publisher`` is the Kafka policy, ``model_store``
loads and hot-swaps, ``stream`` consumes ``transactions``, ``scoring`` the risk tiers, ``cli``
the command. What a served model is (registry, validation, warm-up) lives in
:mod:`driftline.model`, shared with the retrainer. Nothing heavy is imported here, so
``driftline --help`` stays fast.
"""

__all__: list[str] = []
