"""Model trust through a real (embedded) MLflow registry: a type beyond the built-in list is
refused at registration unless a person accepts it, and a version registered with accepted
types loads (their names kept in the version's ``driftline.trusted_types`` tag)."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from driftline.features import CREDIT_RISK
from driftline.model.registry import configure, load_model, register_version
from driftline.model.trust import TRUSTED_TYPES_TAG, UntrustedTypesError
from producers.bootstrap import train_default

ACCEPTED = ["numpy.asarray", "sklearn.preprocessing._function_transformer.FunctionTransformer"]


def test_a_type_beyond_the_list_is_registered_only_when_accepted_and_then_loads(tmp_path):
    experiment = configure(tmp_path)
    trained = train_default(seed=3, rows=1000)
    model = Pipeline([("as_array", FunctionTransformer(np.asarray)),
                      ("model", trained.model)])

    def register(**extra):
        with mlflow.start_run(experiment_id=experiment):
            return register_version("credit-risk", model, signature=trained.signature,
                                    profile=trained.profile, features=CREDIT_RISK, **extra)

    with pytest.raises(UntrustedTypesError) as refused:
        register()
    assert refused.value.types == sorted(ACCEPTED)

    ref = register(trusted_types=ACCEPTED)
    version = mlflow.MlflowClient().get_model_version("credit-risk", ref.version)
    assert json.loads(version.tags[TRUSTED_TYPES_TAG]) == sorted(ACCEPTED)
    loaded = load_model("credit-risk", ref.version)
    assert isinstance(loaded.estimator.steps[0][1], FunctionTransformer)
