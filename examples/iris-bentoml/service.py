"""The iris classifier as a BentoML service: `bentoml serve service:Iris` serves POST /predict
({"features": [4 numbers]} -> the class name as text), /readyz, /livez and /metrics."""

from __future__ import annotations

from pathlib import Path

import bentoml
import joblib
import numpy as np

MODEL = Path(__file__).resolve().parent / "model.joblib"


@bentoml.service(traffic={"timeout": 30})
class Iris:
    def __init__(self) -> None:
        self.model = joblib.load(MODEL)

    @bentoml.api
    def predict(self, features: list[float]) -> str:
        return str(self.model.predict(np.asarray([features]))[0])
